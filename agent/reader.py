"""The reader: the answer in words, as exact spans of the evidence, or "No information available." — no LLM.

RESEARCH.md section 10. The question is typed (`hyperloom.agent.question`); the best
evidence turns are parsed by spaCy and cut into candidate spans (named entities, noun
chunks, verb phrases, reasons, numbers, quoted titles, resolved dates, whole sentences);
a logistic regression fitted on LoCoMo (`benchmarks/reader_fit.py`, weights in
`reader.json`) ranks them; a list question joins the typed candidates of several turns
with ", "; a second logistic regression over the ranking's confidence and the question's
coverage by the evidence decides whether to abstain.

Every answer part is `hit.text[start:end]` of the hit it came from, except a *when*
answer, which is the resolved date (`memory.temporal`) cited by the words it was resolved from.
"""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from hyperloom.agent.nlp import spacy_pipeline, wordnet
from hyperloom.agent.question import Analysis, analyse, broad_classes, content_words, words
from hyperloom.errors import ConfigError
from hyperloom.memory.temporal import parse_anchor, resolve
from hyperloom.retrieval.search import Hit
from hyperloom.retrieval.spans import Span

NO_ANSWER = "No information available."
WEIGHTS_FILE = "reader.json"
REFIT = "python -m hyperloom.benchmarks.reader_fit ../shared/datasets/locomo/locomo_dev.json --out agent/reader.json"
LOOK = 8  # evidence turns read, best first (the packed evidence is 7-17 turns; the answer is almost always in the first 8)
MAX_CHARS = 2000  # of one turn: a pasted document is read up to here
MAX_PARTS = 5  # of a list answer

KINDS = ("person", "place", "org", "time", "number", "work", "entity", "chunk", "noun", "verb", "clause", "sentence", "date", "date_turn", "quoted")
TYPES = ("person", "place", "organisation", "date", "number", "duration", "title", "activity", "class", "yesno", "reason", "manner", "description", "text")
DEPS = ("nsubj", "dobj", "pobj", "attr", "appos", "compound", "conj", "ROOT", "other")
_ENT_KIND = {"PERSON": "person", "GPE": "place", "LOC": "place", "FAC": "place", "ORG": "org", "NORP": "entity", "DATE": "time", "TIME": "time",
             "CARDINAL": "number", "QUANTITY": "number", "MONEY": "number", "PERCENT": "number", "ORDINAL": "number",
             "WORK_OF_ART": "work", "PRODUCT": "work", "EVENT": "work", "LANGUAGE": "entity", "LAW": "work"}
# Which candidate kinds an answer type accepts outright (WordNet membership is added per candidate).
_FITS = {
    "person": {"person"}, "place": {"place"}, "organisation": {"org"}, "date": {"date", "date_turn"},
    "number": {"number"}, "duration": {"number", "time"}, "title": {"work", "quoted"}, "activity": {"verb"},
    "reason": {"clause"}, "manner": {"clause", "verb"}, "description": {"chunk", "noun"}, "yesno": {"sentence"}, "text": set(), "class": set(),
}
_SKIP_LEAD = {"det", "poss", "predet", "nummod", "case", "neg"}
_QUOTED = re.compile(r'"([^"]{2,80})"|“([^”]{2,80})”')


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


@dataclass(frozen=True, slots=True)
class Candidate:
    text: str  # the answer part (a resolved date's label for a date)
    span: Span  # what it cites: hit.text[span.start:span.end] == span.text
    kind: str
    features: np.ndarray
    sentence: tuple[str, int]  # (turn id, sentence start): candidates of one sentence share it


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
    found = candidates(analysis, hits)
    if not found:
        return Reading(NO_ANSWER, (), kind, 0.0, 0.0, True)
    scores = 1.0 / (1.0 + np.exp(-logits(weights.rank, np.stack([c.features for c in found]))))
    order = np.argsort(-scores, kind="stable")
    best, margin = float(scores[order[0]]), float(scores[order[0]] - (scores[order[1]] if len(order) > 1 else 0.0))
    if weights.abstain is not None and abstains(weights, analysis, hits, found, scores, order):
        return Reading(NO_ANSWER, (), kind, best, margin, True)
    parts = [said] if (said := dated_in_best_spans(analysis, hits, found)) else pick(analysis, found, scores, order, weights.list_ratio)
    return Reading(", ".join(c.text for c in parts), tuple(c.span for c in parts), kind, best, margin, False)


def dated_in_best_spans(analysis: Analysis, hits: Sequence[Hit], found: Sequence[Candidate]) -> Candidate | None:
    """A *when* question: the first date resolved in the best three hits' best sentences, as the extractive rules answer
    (LoCoMo dev LOCO temporal F1: 0.576 ranked, 0.596 by this rule — the ranker preferred the turn's own day over "yesterday")."""
    if analysis.answer_type != "date":
        return None
    best = [(h.turn_id, s.start, s.end) for h in hits[:3] for s in h.spans]
    for turn_id, start, end in best:
        for c in found:
            if c.kind == "date" and c.span.turn_id == turn_id and start <= c.span.start < end:
                return c
    return None


def pick(analysis: Analysis, found: Sequence[Candidate], scores: np.ndarray, order: np.ndarray, ratio: float) -> list[Candidate]:
    """The best candidate; for a list question also the next ones scoring at least `ratio` of it, one per sentence, none overlapping."""
    chosen = [found[order[0]]]
    if not analysis.is_list or found[order[0]].kind == "sentence":
        return chosen
    seen = {_norm(chosen[0].text)}
    for i in order[1:]:
        c = found[i]
        if len(chosen) >= MAX_PARTS or scores[i] < ratio * scores[order[0]]:
            break
        if c.kind == "sentence" or _norm(c.text) in seen or any(c.sentence == p.sentence or _overlaps(c.span, p.span) for p in chosen):
            continue
        seen.add(_norm(c.text))
        chosen.append(c)
    return chosen


def _overlaps(a: Span, b: Span) -> bool:
    return a.turn_id == b.turn_id and a.start < b.end and b.start < a.end


def _norm(text: str) -> str:
    return " ".join(words(text))


# -- parsing, cached per turn text ----------------------------------------------------------------

_docs: OrderedDict[str, object] = OrderedDict()
_docs_lock = threading.Lock()
DOC_CACHE = 4096


def parsed(texts: Sequence[str]) -> list:
    """spaCy Docs of the texts, parsed once per process (LRU over turn texts)."""
    with _docs_lock:
        missing = list(dict.fromkeys(t for t in texts if t not in _docs))
    if missing:
        docs = list(spacy_pipeline().pipe(missing, batch_size=16))
        with _docs_lock:
            for text, doc in zip(missing, docs):
                _docs[text] = doc
            while len(_docs) > DOC_CACHE:
                _docs.popitem(last=False)
    with _docs_lock:
        out = []
        for t in texts:
            _docs.move_to_end(t)
            out.append(_docs[t])
        return out


# -- candidates ----------------------------------------------------------------------------------


def candidates(analysis: Analysis, hits: Sequence[Hit]) -> list[Candidate]:
    """Every candidate answer span of the best LOOK hits, with its feature vector."""
    hits = [h for h in hits[:LOOK] if isinstance(h.text, str) and h.text.strip()]
    if not hits:
        return []
    docs = parsed([h.text[:MAX_CHARS] for h in hits])
    top = max((h.score for h in hits), default=1.0) or 1.0
    speakers = {_first(h.speaker) for h in hits if h.speaker}
    named = {n.lower() for n in analysis.named}
    lemma_hits = _lemma_support(docs)
    out: list[Candidate] = []
    seen: set[tuple[str, int, int, str]] = set()
    for rank, (hit, doc) in enumerate(zip(hits, docs)):
        context = _HitContext(analysis, hit, rank, hit.score / top, _first(hit.speaker) in named, speakers, lemma_hits)
        for n_sent, sent in enumerate(doc.sents):
            for c in _sentence_candidates(context, sent, n_sent):
                key = (c.span.turn_id, c.span.start, c.span.end, c.text)
                if key not in seen:
                    seen.add(key)
                    out.append(c)
        if analysis.answer_type == "date":
            out += _turn_date(context, doc)
    return out


def _first(name: str) -> str:
    return (name or "").split()[0].lower() if (name or "").split() else ""


def _lemma_support(docs) -> dict[str, int]:
    """In how many of the evidence turns each content lemma occurs (agreement across turns)."""
    counts: dict[str, int] = {}
    for doc in docs:
        for lemma in {t.lemma_.lower() for t in doc if t.is_alpha and not t.is_stop}:
            counts[lemma] = counts.get(lemma, 0) + 1
    return counts


@dataclass
class _HitContext:
    analysis: Analysis
    hit: Hit
    rank: int
    relative_score: float
    speaker_named: bool
    speakers: set[str]
    support: dict[str, int]


def _sentence_candidates(ctx: _HitContext, sent, n_sent: int) -> list[Candidate]:
    a = ctx.analysis
    q_positions = [t.i for t in sent if t.lemma_.lower() in a.words or t.lower_ in a.words]
    sentence_info = {
        "q_overlap": len({t.lemma_.lower() for t in sent} & a.words | {t.lower_ for t in sent} & a.words) / max(1, len(a.words)),
        "in_best": float(any(s.start <= sent.start_char < s.end or sent.start_char <= s.start < sent.end_char for s in ctx.hit.spans)),
        "first_sentence": float(n_sent == 0),
        "is_question": float(sent.text.rstrip().endswith("?")),
        "first_person": float(any(t.lower_ in ("i", "my", "me", "we", "our") for t in sent)),
    }
    spans = list(_spans(ctx, sent))
    out = []
    for start, end, kind, text in spans:
        tokens = sent.doc[start:end]
        if not _worth(tokens, a) or _vocative(tokens, kind, a, ctx.speakers):
            continue
        cite = Span(ctx.hit.turn_id, tokens.start_char, tokens.end_char, ctx.hit.text[tokens.start_char : tokens.end_char])
        out.append(Candidate(text if text is not None else cite.text, cite, kind, _features(ctx, sent, tokens, kind, q_positions, sentence_info), (ctx.hit.turn_id, sent.start_char)))
    return out


def _spans(ctx: _HitContext, sent):
    """(token start, token end, kind, text or None) of each candidate in one sentence."""
    doc = sent.doc
    for ent in sent.ents:
        yield _trim(ent.start, ent.end, doc) + (_ENT_KIND.get(ent.label_, "entity"), None)
    for chunk in sent.noun_chunks:
        start, end = _trim(chunk.start, chunk.end, doc)
        if end > start:
            yield start, end, "chunk", None
            if end - start > 1 and doc[end - 1].pos_ in ("NOUN", "PROPN"):
                yield end - 1, end, "noun", None
            tail = [t for t in doc[chunk.root.i + 1 : min(sent.end, chunk.root.i + 6)]]
            for t in tail:  # "a teacher called Ines": the chunk with its modifier's object
                if t.dep_ in ("acl", "relcl", "prep") and t.head == chunk.root:
                    sub = [u.i for u in t.subtree]
                    if max(sub) - start < 10:
                        yield start, max(sub) + 1, "chunk", None
                    break
    for t in sent:
        if t.pos_ == "VERB" and t.dep_ not in ("aux", "auxpass"):
            right = [u for u in t.rights if u.dep_ in ("dobj", "prt", "xcomp", "prep", "attr", "acomp", "ccomp", "oprd", "dative")]
            if right:
                end = max(u.i for r in right[:2] for u in r.subtree) + 1
                if end - t.i <= 10:
                    yield t.i, end, "verb", None
            elif t.tag_ == "VBG":
                yield t.i, t.i + 1, "verb", None
        if t.dep_ == "mark" and t.lower_ in ("because", "since", "so", "as") or (t.lower_ == "to" and t.dep_ == "aux" and t.head.dep_ in ("advcl", "xcomp")):
            clause = t.head if t.dep_ != "mark" else t.head
            sub = [u.i for u in clause.subtree if u.i >= t.i]
            if sub and max(sub) - t.i <= 20:
                yield t.i, max(sub) + 1, "clause", None
        if t.like_num and not t.ent_type_:
            yield t.i, t.i + 1, "number", None
    for m in _QUOTED.finditer(sent.text):
        group = 1 if m.group(1) else 2
        span = doc.char_span(sent.start_char + m.start(group), sent.start_char + m.end(group), alignment_mode="expand")
        if span is not None:
            yield span.start, span.end, "quoted", None
    start, end = _trim(sent.start, sent.end, doc)
    if end > start:
        yield start, end, "sentence", None
    if ctx.analysis.answer_type == "date":
        anchor = parse_anchor(ctx.hit.time)
        for m in resolve(sent.text, anchor):
            span = doc.char_span(sent.start_char + m.start, sent.start_char + m.end, alignment_mode="expand")
            if span is not None:
                yield span.start, span.end, "date", m.label()


def _turn_date(ctx: _HitContext, doc) -> list[Candidate]:
    """LoCoMo's convention: an event told without a date happened around the telling — the turn's own day."""
    anchor = parse_anchor(ctx.hit.time)
    if anchor is None:
        return []
    sents = list(doc.sents)
    best = next((s for s in sents if any(sp.start <= s.start_char < sp.end for sp in ctx.hit.spans)), sents[0])
    start, end = _trim(best.start, best.end, doc)
    tokens = doc[start:end]
    if not len(tokens):
        return []
    q_positions = [t.i for t in best if t.lemma_.lower() in ctx.analysis.words]
    info = {"q_overlap": len({t.lemma_.lower() for t in best} & ctx.analysis.words) / max(1, len(ctx.analysis.words)), "in_best": 1.0, "first_sentence": 0.0, "is_question": 0.0, "first_person": 0.0}
    cite = Span(ctx.hit.turn_id, tokens.start_char, tokens.end_char, ctx.hit.text[tokens.start_char : tokens.end_char])
    return [Candidate(f"{anchor.day} {anchor:%B %Y}", cite, "date_turn", _features(ctx, best, tokens, "date_turn", q_positions, info), (ctx.hit.turn_id, -1))]


def _trim(start: int, end: int, doc) -> tuple[int, int]:
    """Drop leading determiners and possessives ("my cello" -> "cello") and edge punctuation."""
    while start < end and (doc[start].dep_ in _SKIP_LEAD and doc[start].pos_ in ("DET", "PRON", "PART") or doc[start].is_punct or doc[start].is_space):
        start += 1
    while end > start and (doc[end - 1].is_punct or doc[end - 1].is_space):
        end -= 1
    return start, end


def _vocative(tokens, kind: str, analysis: Analysis, speakers: set[str]) -> bool:
    """A speaker's name or its short form ("Mel" for Melanie) is how people address each other, not an answer to a non-person question."""
    if analysis.answer_type in ("person", "description") or len(tokens) > 2 or tokens.root.pos_ != "PROPN":
        return False
    name = tokens.text.lower()
    return any(s.startswith(name) for s in speakers if s)


def _worth(tokens, analysis: Analysis) -> bool:
    """Not empty, not only stop words or pronouns, and not merely the question's own words."""
    content = [t for t in tokens if t.is_alpha and not t.is_stop and t.pos_ != "PRON"] or [t for t in tokens if t.like_num]
    if not content:
        return False
    return not all(t.lower_ in analysis.words or t.lemma_.lower() in analysis.words for t in content)


# -- features --------------------------------------------------------------------------------------

BASE = (
    "type_fit", "class_match", "class_parent_match", "wn_person", "wn_place", "wn_activity", "wn_time",
    "q_overlap", "distance", "no_question_word", "repeat", "head_in_question", "verb_match",
    "speaker_named", "is_speaker", "is_named", "first_person_named",
    "rank_inverse", "relative_score", "in_best", "first_sentence", "is_question",
    "length", "single_token", "long", "propn", "plural", "support", "position",
)


@lru_cache(maxsize=1)
def feature_names() -> tuple[str, ...]:
    return BASE + tuple(f"kind_{k}" for k in KINDS) + tuple(f"dep_{d}" for d in DEPS) + tuple(f"{t}*{k}" for t in TYPES for k in KINDS)


def _features(ctx: _HitContext, sent, tokens, kind: str, q_positions: list[int], info: dict) -> np.ndarray:
    a = ctx.analysis
    root = tokens.root
    lemma = root.lemma_.lower()
    head_words = " ".join(t.lemma_.lower() for t in tokens if t.dep_ == "compound" or t == root)
    fits = _wn_fits(head_words if root.pos_ in ("NOUN", "PROPN") else "", lemma, a.classes)
    type_fit = float(kind in _FITS.get(a.answer_type, ()) or fits.get(a.answer_type, 0.0) > 0 or (a.answer_type == "organisation" and kind == "org"))
    distance = min((min(abs(p - t.i) for t in tokens) for p in q_positions if not tokens.start <= p < tokens.end), default=12)
    cand_words = {t.lower_ for t in tokens if t.is_alpha and not t.is_stop}
    n = len(tokens)
    base = [
        type_fit, fits.get("class", 0.0), fits.get("parent", 0.0), fits.get("person", 0.0), fits.get("place", 0.0), fits.get("activity", 0.0), fits.get("date", 0.0),
        info["q_overlap"], min(distance, 12) / 12, float(not q_positions), len(cand_words & a.words) / max(1, len(cand_words)),
        float(root.head.lemma_.lower() in a.words and root.head != root), float(a.verb is not None and _governing_verb(root) == a.verb),
        float(ctx.speaker_named), float(tokens.text.lower() in ctx.speakers or _first(tokens.text) in ctx.speakers and root.pos_ == "PROPN"),
        float(any(t.text in a.named for t in tokens)), float(ctx.speaker_named and info["first_person"] > 0),
        1.0 / (1 + ctx.rank), ctx.relative_score, info["in_best"], info["first_sentence"], info["is_question"],
        min(n, 20) / 20, float(n == 1), float(n > 6), float(root.pos_ == "PROPN"), float(root.tag_ in ("NNS", "NNPS")),
        min(ctx.support.get(lemma, 1) - 1, 4) / 4, (tokens.start - sent.start) / max(1, len(sent)),
    ]
    dep = root.dep_ if root.dep_ in DEPS else {"nsubjpass": "nsubj", "oprd": "appos", "amod": "compound", "dative": "dobj"}.get(root.dep_, "other")
    out = np.zeros(len(feature_names()))
    out[: len(base)] = base
    k = KINDS.index(kind)
    out[len(base) + k] = 1.0
    out[len(base) + len(KINDS) + DEPS.index(dep)] = 1.0
    if a.answer_type in TYPES:
        out[len(base) + len(KINDS) + len(DEPS) + TYPES.index(a.answer_type) * len(KINDS) + k] = 1.0
    return out


def _governing_verb(token) -> str | None:
    while token.head != token:
        token = token.head
        if token.pos_ in ("VERB", "AUX"):
            return token.lemma_.lower()
    return None


@lru_cache(maxsize=65536)
def _wn_fits(head: str, lemma: str, classes: tuple[int, ...]) -> dict[str, float]:
    """WordNet memberships of a candidate's head noun: the broad classes, the question's focus class, and that class's parent."""
    if not head:
        return {}
    net = wordnet()
    senses = net.synsets(head)[:3] or net.synsets(lemma)[:3]
    if not senses:
        return {}
    ups = set().union(*(net.ancestors(s) for s in senses))
    out = {kind: float(bool(ups & broad_classes(kind))) for kind in ("person", "place", "activity", "date", "title")}
    if classes:
        out["class"] = float(bool(ups & set(classes)))
        parents = {p for c in classes[:1] for p in net.hypernyms(c)}
        out["parent"] = float(bool(ups & parents))
    return out


# -- abstention --------------------------------------------------------------------------------------

ABSTAIN_FEATURES = ("best_logit", "margin_logit", "named_in_evidence", "named_speaks", "best_speaker_named", "best_q_overlap", "top_hit_score", "max_q_overlap", "date_question", "yesno_question")


def abstain_features(analysis: Analysis, hits: Sequence[Hit], found: Sequence[Candidate], scores: np.ndarray, order: np.ndarray) -> np.ndarray:
    """What says the evidence does not hold the answer: a weak or contested best candidate, the question's names absent."""
    z = np.log(np.clip(scores, 1e-6, 1 - 1e-6) / (1 - np.clip(scores, 1e-6, 1 - 1e-6)))
    best = found[order[0]]
    second = z[order[1]] if len(order) > 1 else z[order[0]] - 5
    text = " ".join(h.text.lower() for h in hits[:LOOK])
    names = [n.lower() for n in analysis.named]
    speakers = {_first(h.speaker) for h in hits[:LOOK]}
    best_hit = next((h for h in hits if h.turn_id == best.span.turn_id), hits[0])
    i_q = feature_names().index("q_overlap")
    return np.asarray([
        z[order[0]], z[order[0]] - second,
        sum(n in text for n in names) / len(names) if names else 1.0,
        sum(n in speakers for n in names) / len(names) if names else 1.0,
        float(_first(best_hit.speaker) in names) if names else 1.0,
        best.features[i_q], hits[0].score, max(c.features[i_q] for c in found),
        float(analysis.answer_type == "date"), float(analysis.answer_type == "yesno"),
    ])


def abstains(weights: Weights, analysis: Analysis, hits, found, scores, order) -> bool:
    x = abstain_features(analysis, hits, found, scores, order)
    p = 1.0 / (1.0 + np.exp(-float(logits(weights.abstain, x[None, :])[0])))
    return p >= weights.abstain_threshold
