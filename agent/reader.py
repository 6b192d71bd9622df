"""The reader: the answer in words, as exact spans of the evidence, or "No information available." — no LLM.

RESEARCH.md section 10. The question is typed (`hyperloom.agent.question`); the best
evidence sentences are chosen before parsing and parsed by spaCy (`reader_evidence`), cut
into candidate spans (`reader_candidates`: names, noun chunks, coordinations, verb phrases,
reasons, numbers, quoted titles, resolved dates, a said yes or no, whole sentences) and
described by features (`reader_features`); a linear model fitted listwise on LoCoMo
(`benchmarks/reader_fit.py`, weights in `reader.json`) ranks them; a list question joins the
typed candidates of several turns with ", "; a logistic regression over the ranking's
confidence and the question's coverage by the evidence decides whether to abstain.

Every answer part is `hit.text[start:end]` of the hit it came from, except a *when*
answer, which is the resolved date (`memory.temporal`) cited by the words it was resolved from.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from hyperloom.agent.question import Analysis, analyse
from hyperloom.agent import reader_lists
from hyperloom.agent.reader_candidates import Candidate, candidates
from hyperloom.agent.reader_evidence import LOOK, passages
from hyperloom.agent.reader_features import feature_names, first_name
from hyperloom.agent.reader_yesno import is_choice, judge
from hyperloom.errors import ConfigError
from hyperloom.retrieval.search import Hit
from hyperloom.retrieval.spans import Span

__all__ = ["LOOK", "NO_ANSWER", "Candidate", "Reading", "ReaderWeightsError", "Weights", "candidates", "feature_names", "is_choice", "read", "shipped_weights", "yes_or_no"]

NO_ANSWER = "No information available."
WEIGHTS_FILE = "reader.json"
REFIT = "python -m hyperloom.benchmarks.reader_fit ../shared/datasets/locomo/locomo_dev.json --out agent/reader.json"
MAX_PARTS = reader_lists.MAX_PARTS


class ReaderWeightsError(ConfigError):
    """The reader's fitted weights are missing or unreadable."""


@dataclass(frozen=True, slots=True)
class Reading:
    text: str  # the short answer (exact evidence spans joined with ", " for lists), or NO_ANSWER
    citations: tuple[Span, ...]  # each answer part's exact span in its hit's text; empty when abstaining
    answer_type: str  # what question analysis decided: person, place, date, ..., class:<noun>, list:<item type>
    score: float  # the best candidate's model score (a probability)
    margin: float  # best minus second-best candidate score
    abstained: bool
    verdict: bool = False  # `text` is the reader's own word ("Yes", "No", "Likely yes") judged from the cited sentence, not a quote


@dataclass(frozen=True)
class Weights:
    """The ranking and abstention models as fitted by benchmarks/reader_fit.py."""

    rank: tuple[np.ndarray, float, np.ndarray, np.ndarray]  # weights, bias, mean, scale
    abstain: tuple[np.ndarray, float, np.ndarray, np.ndarray] | None
    abstain_threshold: float
    list_ratio: float
    trained_on: tuple[str, ...]

    @classmethod
    def load(cls, path: Path | None = None) -> "Weights":
        where = path or WEIGHTS_FILE
        try:
            raw = path.read_text() if path else resources.files("hyperloom.agent").joinpath(WEIGHTS_FILE).read_text()
            data = json.loads(raw)
            if list(data["features"]) != list(feature_names()) or list(data.get("abstain_features", ABSTAIN_FEATURES)) != list(ABSTAIN_FEATURES):
                raise ReaderWeightsError(f"The reader weights in {where} were fitted on other features; refit them with `{REFIT}`.")
            rank = _model(data["rank"])
            abstain = _model(data["abstain"]) if data.get("abstain") else None
            return cls(rank, abstain, float(data.get("abstain_threshold", 1.0)), float(data.get("list_ratio", 1.0)), tuple(data.get("trained_on", ())))
        except ReaderWeightsError:
            raise
        except (OSError, KeyError, ValueError, TypeError) as exc:
            raise ReaderWeightsError(f"Cannot read the reader weights {where} ({type(exc).__name__}); refit them with `{REFIT}`.") from None


def _model(d: dict) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    w, m, s = (np.asarray(d[k], dtype=float) for k in ("weights", "mean", "scale"))
    if not (w.shape == m.shape == s.shape) or not np.all(np.isfinite(w)):
        raise ValueError("shapes")
    return w, float(d["bias"]), m, s


def logits(model: tuple[np.ndarray, float, np.ndarray, np.ndarray], X: np.ndarray) -> np.ndarray:
    w, b, m, s = model
    return ((X - m) / s) @ w + b


_weights: dict[str, Weights] = {}
_weights_lock = threading.Lock()


def shipped_weights() -> Weights:
    with _weights_lock:
        if "shipped" not in _weights:
            _weights["shipped"] = Weights.load()
        return _weights["shipped"]


# -- reading -----------------------------------------------------------------------------------


def read(question: str, hits: list[Hit], *, now: str | None = None, weights: Weights | None = None) -> Reading:
    """The answer to one (single) question from its evidence, best hit first."""
    weights = weights or shipped_weights()
    analysis = analyse(question) if isinstance(question, str) else analyse("")
    kind = analysis.label
    if not analysis.words or not hits:
        return Reading(NO_ANSWER, (), kind, 0.0, 0.0, True)
    if analysis.answer_type == "yesno" and not is_choice(analysis):
        return yes_or_no(analysis, hits)
    found = candidates(analysis, hits)
    if not found:
        return Reading(NO_ANSWER, (), kind, 0.0, 0.0, True)
    scores = 1.0 / (1.0 + np.exp(-logits(weights.rank, np.stack([c.features for c in found]))))
    order = np.argsort(-scores, kind="stable")
    best, margin = float(scores[order[0]]), float(scores[order[0]] - (scores[order[1]] if len(order) > 1 else 0.0))
    if weights.abstain is not None and abstains(weights, analysis, hits, found, scores, order):
        return Reading(NO_ANSWER, (), kind, best, margin, True)
    parts = pick(analysis, found, scores, order, weights.list_ratio)
    return Reading(", ".join(c.text for c in parts), tuple(c.span for c in parts), kind, best, margin, False)


def yes_or_no(analysis: Analysis, hits: Sequence[Hit]) -> Reading:
    """"Yes"/"No" with the sentence it was judged from as the citation (`reader_yesno`), or no answer."""
    found = [h for h in hits if isinstance(h.text, str) and h.text.strip()]
    said = judge(analysis, passages(analysis.text, found)) if found else None
    if said is None:
        return Reading(NO_ANSWER, (), analysis.label, 0.0, 0.0, True)
    return Reading(said.text, (said.span,), analysis.label, said.support, said.support, False, verdict=True)


def dated_in_best_spans(analysis: Analysis, hits: Sequence[Hit], found: Sequence[Candidate]) -> Candidate | None:
    """No longer a separate rule: `pick` answers a *when* question with its best-ranked date (LoCoMo dev LOCO temporal
    F1 0.613, against 0.597 for the first date in the best three hits' best sentences). Kept for callers that try it first."""
    return None


_DESCRIBES = feature_names().index("describes")


def pick(analysis: Analysis, found: Sequence[Candidate], scores: np.ndarray, order: np.ndarray, ratio: float) -> list[Candidate]:
    """The best candidate; for a list question also the next ones of the asked type scoring at least `ratio` of it (`reader_lists`)."""
    if analysis.answer_type == "date":  # a when question is answered with a date when the evidence resolves one
        dated = [i for i in order if found[i].kind in ("date", "date_turn")]
        if dated:
            return [found[dated[0]]]
    if analysis.answer_type == "description":  # "who is Pixel?": what the evidence calls Pixel, when it calls it anything
        said = [i for i in order if found[i].features[_DESCRIBES] > 0]
        if said:
            return [found[said[0]]]
    if not analysis.is_list:
        return [found[order[0]]]
    return reader_lists.join(analysis, found, scores, order, ratio)


# -- abstention --------------------------------------------------------------------------------------

ABSTAIN_FEATURES = ("best_logit", "margin_logit", "named_in_evidence", "named_speaks", "best_speaker_named", "best_q_overlap", "top_hit_score", "max_q_overlap", "date_question", "yesno_question")


def abstain_features(analysis: Analysis, hits: Sequence[Hit], found: Sequence[Candidate], scores: np.ndarray, order: np.ndarray) -> np.ndarray:
    """What says the evidence does not hold the answer: a weak or contested best candidate, the question's names absent."""
    z = np.log(np.clip(scores, 1e-6, 1 - 1e-6) / (1 - np.clip(scores, 1e-6, 1 - 1e-6)))
    best = found[order[0]]
    second = z[order[1]] if len(order) > 1 else z[order[0]] - 5
    text = " ".join(h.text.lower() for h in hits[:LOOK])
    names = [n.lower() for n in analysis.named]
    speakers = {first_name(h.speaker) for h in hits[:LOOK]}
    best_hit = next((h for h in hits if h.turn_id == best.span.turn_id), hits[0])
    i_q = feature_names().index("q_overlap")
    return np.asarray([
        z[order[0]], z[order[0]] - second,
        sum(n in text for n in names) / len(names) if names else 1.0,
        sum(n in speakers for n in names) / len(names) if names else 1.0,
        float(first_name(best_hit.speaker) in names) if names else 1.0,
        best.features[i_q], hits[0].score, max(c.features[i_q] for c in found),
        float(analysis.answer_type == "date"), float(analysis.answer_type == "yesno"),
    ])


def abstains(weights: Weights, analysis: Analysis, hits, found, scores, order) -> bool:
    x = abstain_features(analysis, hits, found, scores, order)
    p = 1.0 / (1.0 + np.exp(-float(logits(weights.abstain, x[None, :])[0])))
    return p >= weights.abstain_threshold
