"""The sufficiency critic (SIM-RAG, RESEARCH.md section 3): does the evidence so far hold the answer?

The default critic needs no LLM: a logistic regression over features of the
evidence, fitted by self-practice (`hyperloom.agent.practice`) and shipped as
`critic.json`. With a capable LLM configured, `LLMCritic` asks the model instead.
Both return P(sufficient); the graph stops at the first round whose probability
reaches the critic's threshold.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Protocol

import numpy as np

from hyperloom.agent.extractive import AnswerType, answer_type
from hyperloom.errors import ConfigError
from hyperloom.memory.extract import entities
from hyperloom.memory.temporal import parse_anchor, resolve
from hyperloom.retrieval.lexical import terms
from hyperloom.retrieval.search import Hit

WEIGHTS_FILE = "critic.json"
LOOK = 5  # the critic reads the best LOOK hits: what the answer leans on most
QUESTION_WORDS = frozenset(terms("what when where who whom whose which why how did does do is are was were has have had"))
_NUMBER_WORDS = frozenset("one two three four five six seven eight nine ten once twice several".split())

FEATURES = (
    "top_cosine",  # how close the best hit is to the question (absolute, unlike fused scores)
    "mean_cosine",
    "cosine_margin",  # best minus fifth best: one clear winner or a flat field
    "term_coverage",  # share of the question's content terms found anywhere in the evidence
    "best_turn_coverage",  # the largest share of those terms found in one turn
    "entity_coverage",  # share of the names in the question found in the evidence
    "type_evidence",  # share of hits holding a value of the asked-for type (a date for "when")
    "agreement",  # overlap of the sub-queries' best hits (1 with one query)
    "round",
    "question_terms",
    "is_date",
    "is_number",
    "is_person",
    "is_place",
)


@dataclass(frozen=True, slots=True)
class Evidence:
    """What a critic reads: the question, the evidence so far (best first) and how it was found."""

    question: str
    hits: Sequence[Hit]
    cosines: Sequence[float]  # cosine of each hit's turn to the question, aligned with `hits`
    per_query: Sequence[Sequence[str]] = ()  # each sub-query's best turn ids this round
    round: int = 1
    speakers: Sequence[str] = ()


class Critic(Protocol):
    threshold: float

    def probability(self, evidence: Evidence) -> float: ...


def features(evidence: Evidence) -> np.ndarray:
    """The feature vector of FEATURES for one round's evidence."""
    hits, cos = list(evidence.hits[:LOOK]), sorted(evidence.cosines[:LOOK], reverse=True)
    kind = answer_type(evidence.question)
    speakers = {s.lower() for s in evidence.speakers}
    wanted = [t for t in dict.fromkeys(terms(evidence.question)) if t not in QUESTION_WORDS and t not in speakers]
    turn_terms = [set(terms(h.text)) for h in hits]
    found = set().union(*turn_terms) if turn_terms else set()
    names = [e.name.lower() for e in entities(evidence.question) if e.kind != "activity" and e.name.lower() not in speakers]
    text = " ".join(h.text.lower() for h in hits)
    return np.array(
        [
            cos[0] if cos else 0.0,
            float(np.mean(cos)) if cos else 0.0,
            (cos[0] - cos[-1]) if cos else 0.0,
            _share(wanted, found),
            max((_share(wanted, t) for t in turn_terms), default=0.0),
            _share(names, text) if names else 1.0,
            float(np.mean([_has_type(kind, h) for h in hits])) if hits else 0.0,
            _agreement(evidence.per_query),
            float(evidence.round),
            float(len(wanted)),
            *(float(kind == k) for k in ("date", "number", "person", "place")),
        ]
    )


def _share(wanted: Sequence[str], pool) -> float:
    return sum(1 for w in wanted if w in pool) / len(wanted) if wanted else 1.0


def _agreement(per_query: Sequence[Sequence[str]]) -> float:
    sets = [set(ids) for ids in per_query if ids]
    if len(sets) < 2:
        return 1.0
    pairs = [len(a & b) / len(a | b) for i, a in enumerate(sets) for b in sets[i + 1 :]]
    return float(np.mean(pairs))


def _has_type(kind: AnswerType, hit: Hit) -> float:
    if kind == "date":
        return float(bool(resolve(hit.text, parse_anchor(hit.time))))
    if kind == "number":
        return float(any(ch.isdigit() for ch in hit.text) or bool(_NUMBER_WORDS & set(hit.text.lower().split())))
    if kind in ("person", "place"):
        return float(any(e.kind == kind and e.name != hit.speaker for e in entities(hit.text)))
    return 1.0


@dataclass(frozen=True)
class LogisticCritic:
    """P(sufficient) = σ(w·standardised(features) + b), with the threshold chosen when it was fitted."""

    weights: np.ndarray
    bias: float
    mean: np.ndarray
    scale: np.ndarray
    threshold: float = 0.5
    trained_on: tuple[str, ...] = ()  # the conversations its practice questions came from

    def probability(self, evidence: Evidence) -> float:
        z = (features(evidence) - self.mean) / self.scale
        return float(1.0 / (1.0 + np.exp(-(z @ self.weights + self.bias))))

    @classmethod
    def load(cls, path: Path | None = None) -> "LogisticCritic":
        """The shipped weights, or a file written by `hyperloom.agent.practice`."""
        try:
            raw = path.read_text() if path else resources.files("hyperloom.agent").joinpath(WEIGHTS_FILE).read_text()
            data = json.loads(raw)
            if list(data["features"]) != list(FEATURES):
                raise ConfigError(f"The critic weights in {path or WEIGHTS_FILE} were fitted on other features; re-train them with `python -m hyperloom.agent.practice`.")
            return cls(np.array(data["weights"]), float(data["bias"]), np.array(data["mean"]), np.array(data["scale"]), float(data["threshold"]), tuple(data.get("trained_on", ())))
        except (OSError, KeyError, ValueError, TypeError) as exc:
            raise ConfigError(f"Cannot read the critic weights {path or WEIGHTS_FILE} ({exc}); re-train them with `python -m hyperloom.agent.practice`.") from None

    def dump(self, path: Path, **extra: object) -> None:
        data = {"features": list(FEATURES), "weights": self.weights.tolist(), "bias": self.bias, "mean": self.mean.tolist(), "scale": self.scale.tolist(), "threshold": self.threshold, "trained_on": list(self.trained_on), **extra}
        path.write_text(json.dumps(data, indent=1) + "\n")


@dataclass(frozen=True)
class FixedCritic:
    """Always the same probability: 1.0 answers after one round (fixed-k retrieval), 0.0 always searches again."""

    value: float = 1.0
    threshold: float = 0.5

    def probability(self, evidence: Evidence) -> float:
        return self.value


@dataclass(frozen=True)
class LLMCritic:
    """Asks a capable model whether the evidence suffices; its stated confidence is the probability."""

    model: str
    options: dict
    threshold: float = 0.5

    def probability(self, evidence: Evidence) -> float:
        from hyperloom.agent import llm
        from hyperloom.agent.prompts import critic_messages
        from hyperloom.retrieval.pack import render

        context = "\n".join(render(h) for h in evidence.hits[:10])
        try:
            verdict = llm.complete_json(critic_messages(evidence.question, context), self.model, **self.options)
            sufficient = bool(verdict.get("sufficient"))
            confidence = min(1.0, max(0.0, float(verdict.get("confidence", 0.8))))
        except (llm.ModelError, AttributeError, TypeError, ValueError):
            return 1.0  # a critic that cannot judge must not keep the agent searching
        return confidence if sufficient else 1.0 - confidence
