"""The reader's candidate features: answer type, where the question's words are, the dependency tree, the speaker, retrieval.

A question word is matched by its stem, or by a stem it begins ("teaches" matches "teacher"),
and weighted by how rare it is among the parsed evidence sentences, so that a sentence holding
the question's rare words outranks one holding its common ones. The ranking model is linear
over these features and their crosses with the answer type (`feature_names`).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from hyperloom.agent.nlp import wordnet
from hyperloom.agent.question import Analysis, broad_classes, words
from hyperloom.memory.hierarchy import ATTRIBUTE_QUESTIONS, ATTRIBUTES
from hyperloom.retrieval.search import Hit

KINDS = ("person", "place", "org", "time", "number", "work", "entity", "chunk", "noun", "coord", "verb", "clause", "sentence", "date", "date_turn", "quoted", "yesno")
TYPES = ("person", "place", "organisation", "date", "number", "duration", "title", "activity", "class", "yesno", "reason", "manner", "description", "text")
DEPS = ("nsubj", "dobj", "pobj", "attr", "appos", "compound", "conj", "ROOT", "other")
LENGTHS = (1, 3, 6, 99)  # length buckets (tokens) crossed with the answer type
# Which candidate kinds an answer type accepts outright (WordNet membership is added per candidate).
FITS = {
    "person": {"person"}, "place": {"place"}, "organisation": {"org"}, "date": {"date", "date_turn"},
    "number": {"number"}, "duration": {"number", "time"}, "title": {"work", "quoted"}, "activity": {"verb"},
    "reason": {"clause"}, "manner": {"clause", "verb"}, "description": {"chunk", "noun"}, "yesno": {"yesno"}, "text": set(), "class": set(),
}
BASE = (
    "type_fit", "class_match", "class_parent_match", "wn_person", "wn_place", "wn_activity", "wn_time",
    "q_overlap", "s_match", "s_match_gap", "s_is_best", "cheap", "turn_match", "prev_match", "next_match", "same_role", "window", "right_of_match",
    "distance", "tree", "no_question_word", "repeat", "head_in_question", "prep_link", "prep_asked", "copula_link", "verb_match", "gov_in_question", "contains_focus", "named_link", "naming", "naming_match", "describes",
    "speaker_named", "is_speaker", "is_named", "first_person_named", "asked_attribute",
    "rank_inverse", "relative_score", "in_best", "near_best", "first_sentence", "is_question",
    "length", "single_token", "long", "propn", "plural", "support", "position", "capitalised", "numeric",
    # filled in once every candidate is known (`aggregate`): what else the candidate's sentence and turn offer
    "sentence_fits", "turn_fits", "sentence_class", "fit_share", "fit*s_match", "fit*turn_match", "fit*window", "fit*rank", "class*s_match",
)
AGGREGATE = BASE.index("sentence_fits")
WINDOW = 5  # tokens either side of a candidate that count as its context
FAR = 6  # dependency-tree distance that counts as unrelated


@lru_cache(maxsize=1)
def feature_names() -> tuple[str, ...]:
    crosses = tuple(f"{t}*{k}" for t in TYPES for k in KINDS) + tuple(f"{t}*dep_{d}" for t in TYPES for d in DEPS) + tuple(f"{t}*len{n}" for t in TYPES for n in LENGTHS)
    return BASE + tuple(f"kind_{k}" for k in KINDS) + tuple(f"dep_{d}" for d in DEPS) + crosses


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer  # PyStemmer, the retrieval layer's stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    return _stemmer().stemWord(word.lower())


@lru_cache(maxsize=65536)
def _matches(key: str, wanted: frozenset[str]) -> str | None:
    if key in wanted:
        return key
    return next((q for q in wanted if len(q) >= 5 and key.startswith(q) or len(key) >= 5 and q.startswith(key)), None)


@dataclass
class Scene:
    """What every candidate of one question shares: the question, its weighted words, the evidence's speakers."""

    analysis: Analysis
    weight: dict[str, float]  # question stem -> rarity in the evidence
    total: float
    speakers: set[str]
    named: set[str]
    support: dict[str, int]  # content lemma -> evidence sentences holding it
    top: float  # the best hit's retrieval score
    best_match: float  # the best sentence's share of the question's weighted words
    attribute: str | None = None  # the changing attribute the question asks about ("residence"), as memory files them
    asked_words: frozenset[str] = frozenset()  # every word of the question, stop words too ("raise awareness for")


@dataclass
class Info:
    """One parsed sentence as the features see it."""

    passage: object
    matched: dict[int, str]  # token index -> question stem it matches
    match: float
    q_overlap: float
    from_match: list[np.ndarray]  # per matched token: the dependency-tree distance of every token to it
    speaker_named: bool
    first_person: bool
    is_question: bool
    describing: set[int]  # nouns that say what a name the question asks about is ("my sister Clara", "a cat ..., a grey rescue called Pixel")
    describing_name: set[int]  # those names
    named_at: tuple[int, ...] = ()  # tokens that are a name the question asks about (found once per sentence, not per candidate)
    attribute_values: frozenset[str] = frozenset()  # what the sentence states the asked attribute to be ("I moved to Porto": Porto)


def scene(analysis: Analysis, found: Sequence, hits: Sequence[Hit]) -> Scene:
    wanted = frozenset(stem(w) for w in analysis.words)
    held = [{m for t in p.doc if t.is_alpha and (m := _matches(stem(t.lemma_), wanted))} for p in found]
    weight = {q: math.log((len(found) + 1) / (0.5 + sum(q in h for h in held))) for q in wanted}
    total = sum(weight.values()) or 1.0
    best = max((sum(weight[q] for q in h) / total for h in held), default=0.0)
    support: dict[str, int] = {}
    for p in found:
        for lemma in {t.lemma_.lower() for t in p.doc if t.is_alpha and not t.is_stop}:
            support[lemma] = support.get(lemma, 0) + 1
    top = max((h.score for h in hits), default=1.0) or 1.0
    return Scene(analysis, weight, total, {first_name(h.speaker) for h in hits if h.speaker}, {n.lower() for n in analysis.named}, support, top, best, asked_attribute(analysis), frozenset(words(analysis.text)))


def asked_attribute(analysis: Analysis) -> str | None:
    """The changing attribute (residence, workplace, job, relationship) a question asks about, read by memory's own
    patterns over the question and its lemmas ("has Maya lived" -> live -> residence)."""
    said = f"{analysis.text} {' '.join(sorted(analysis.words))}"
    return next((a for a, pattern in ATTRIBUTE_QUESTIONS.items() if pattern.search(said)), None)


def attribute_values(attribute: str | None, text: str) -> frozenset[str]:
    """What a first-person sentence says the attribute is, by memory's patterns ("I moved to Porto" -> Porto)."""
    if attribute is None:
        return frozenset()
    return frozenset(m.group("value").strip() for m in ATTRIBUTES[attribute].finditer(text))


def passage_info(where: Scene, p) -> Info:
    wanted = frozenset(where.weight)
    matched = {t.i: m for t in p.doc if t.is_alpha and (m := _matches(stem(t.lemma_), wanted))}
    match = sum(where.weight[q] for q in set(matched.values())) / where.total
    return Info(
        p, matched, match, len(set(matched.values())) / max(1, len(wanted)), [_tree_distances(p.doc, i) for i in matched],
        first_name(p.hit.speaker) in where.named, any(t.lower_ in ("i", "my", "me", "we", "our") for t in p.doc), p.doc.text.rstrip().endswith("?"),
        *_describing(p.doc, where.named), tuple(t.i for t in p.doc if t.lower_ in where.named), attribute_values(where.attribute, p.doc.text),
    )


def _describing(doc, named: set[str]) -> tuple[set[int], set[int]]:
    nouns, names = set(), set()
    for t in doc:
        if t.lower_ not in named or t.pos_ != "PROPN":
            continue
        d = _named_as(t)
        if d is None and t.dep_ in ("appos", "compound") and t.head.pos_ == "NOUN":
            d = t.head  # "Clara, my sister"
        if d is None:
            d = next((c for c in t.children if c.dep_ in ("compound", "appos") and c.pos_ == "NOUN"), None)  # "my sister Clara"
        if d is not None and d.dep_ == "appos" and d.head.pos_ == "NOUN":
            d = d.head  # "a cat next week, a grey rescue called Pixel": the cat
        if d is not None:
            nouns.add(d.i)
            names.add(t.i)
    return nouns, names


def _tree_distances(doc, source: int) -> np.ndarray:
    """Edges between each token and its head, walked breadth first from `source`."""
    out = np.full(len(doc), FAR, dtype=float)
    out[source] = 0
    todo = deque([doc[source]])
    while todo:
        t = todo.popleft()
        for u in (t.head, *t.children):
            if out[u.i] > out[t.i] + 1:
                out[u.i] = out[t.i] + 1
                todo.append(u)
    return out


def first_name(name: str) -> str:
    return (name or "").split()[0].lower() if (name or "").split() else ""


def features(where: Scene, info: Info, tokens, kind: str) -> np.ndarray:
    a, p = where.analysis, info.passage
    root, n = tokens.root, len(tokens)
    lemma = root.lemma_.lower()
    head_words = " ".join(t.lemma_.lower() for t in tokens if t.dep_ == "compound" or t == root)
    fits = _wn_fits(head_words if root.pos_ in ("NOUN", "PROPN") else "", lemma, a.classes)
    type_fit = float(kind in FITS.get(a.answer_type, ()) or fits.get(a.answer_type, 0.0) > 0)
    inside = range(tokens.start, tokens.end)
    outside = [i for i in info.matched if i not in inside]
    distance = min((min(abs(i - tokens.start), abs(i - (tokens.end - 1))) for i in outside), default=12)
    near = {info.matched[i] for i in outside if tokens.start - WINDOW <= i < tokens.end + WINDOW}
    tree = min((info.from_match[k][tokens.start : tokens.end].min() for k, i in enumerate(info.matched) if i not in inside), default=FAR)
    named_tokens = [j for j in info.named_at if j not in inside]
    named_link = any(abs(t.i - j) <= 3 and (t.head.i == j or p.doc[j].head.i == t.i or p.doc[j].head == t.head) for t in tokens for j in named_tokens)
    cand_words = {t.lower_ for t in tokens if t.is_alpha and not t.is_stop}
    governor = _governing_verb(root)
    wanted = frozenset(where.weight)
    named_as = _named_as(root)
    base = [
        type_fit, fits.get("class", 0.0), fits.get("parent", 0.0), fits.get("person", 0.0), fits.get("place", 0.0), fits.get("activity", 0.0), fits.get("date", 0.0),
        info.q_overlap, info.match, info.match - where.best_match, float(info.match > 0 and info.match >= where.best_match - 1e-9), p.cheap, p.turn_cheap, p.prev_cheap, p.next_cheap,
        float(a.wh_role is not None and _role(root.dep_) == _role(a.wh_role) and governor is not None and _matches(stem(governor), wanted) is not None),
        sum(where.weight[q] for q in near) / where.total, float(any(i < tokens.start for i in outside)),
        min(distance, 12) / 12, tree / FAR, float(not info.matched), len(cand_words & a.words) / max(1, len(cand_words)),
        float(root.head != root and _matches(stem(root.head.lemma_), wanted) is not None), *_slot(root, wanted, where.asked_words), float(a.verb is not None and governor is not None and stem(governor) == stem(a.verb)),
        float(governor is not None and _matches(stem(governor), wanted) is not None), float(a.focus is not None and any(t.lemma_.lower() == a.focus for t in tokens)), float(named_link),
        float(named_as is not None), float(named_as is not None and _matches(stem(named_as.lemma_), wanted) is not None or named_as is not None and a.focus == named_as.lemma_.lower()),
        float(root.i in info.describing and not any(t.i in info.describing_name for t in tokens)),
        float(info.speaker_named), float(tokens.text.lower() in where.speakers or first_name(tokens.text) in where.speakers and root.pos_ == "PROPN"),
        float(any(t.text in a.named for t in tokens)), float(info.speaker_named and info.first_person), float(tokens.text in info.attribute_values),
        1.0 / (1 + p.rank), p.hit.score / where.top, float(p.in_best), float(p.near_best), float(p.index == 0), float(info.is_question),
        min(n, 20) / 20, float(n == 1), float(n > 6), float(root.pos_ == "PROPN"), float(root.tag_ in ("NNS", "NNPS")),
        min(where.support.get(lemma, 1) - 1, 4) / 4, tokens.start / max(1, len(p.doc)),
        float(tokens[0].is_title and tokens.start > 0), float(any(t.like_num for t in tokens)),
    ]
    dep = root.dep_ if root.dep_ in DEPS else {"nsubjpass": "nsubj", "oprd": "appos", "amod": "compound", "dative": "dobj"}.get(root.dep_, "other")
    out = np.zeros(len(feature_names()), dtype=np.float32)
    out[: len(base)] = base
    at = len(BASE)
    k, d, b = KINDS.index(kind), DEPS.index(dep), next(i for i, top in enumerate(LENGTHS) if n <= top)
    out[at + k] = 1.0
    out[at + len(KINDS) + d] = 1.0
    if a.answer_type in TYPES:
        at += len(KINDS) + len(DEPS)
        t = TYPES.index(a.answer_type)
        out[at + t * len(KINDS) + k] = 1.0
        at += len(TYPES) * len(KINDS)
        out[at + t * len(DEPS) + d] = 1.0
        at += len(TYPES) * len(DEPS)
        out[at + t * len(LENGTHS) + b] = 1.0
    return out


def aggregate(X: np.ndarray, sentences: list, turns: list) -> None:
    """Set, in place, the features that compare a candidate with the others of its sentence and turn."""
    n = {name: BASE.index(name) for name in ("type_fit", "class_match", "s_match", "turn_match", "window", "rank_inverse")}
    fit, cls = X[:, n["type_fit"]], X[:, n["class_match"]]
    for column, keys, values in ((0, sentences, fit), (1, turns, fit), (2, sentences, cls)):
        best: dict = {}
        for k, v in zip(keys, values):
            best[k] = max(best.get(k, 0.0), v)
        X[:, AGGREGATE + column] = [best[k] for k in keys]
    count: dict = {}
    for k, v in zip(sentences, fit):
        count[k] = count.get(k, 0.0) + v
    X[:, AGGREGATE + 3] = [v / count[k] if v else 0.0 for k, v in zip(sentences, fit)]  # the sentence's only fitting candidate
    for column, name in enumerate(("s_match", "turn_match", "window", "rank_inverse"), start=4):
        X[:, AGGREGATE + column] = fit * X[:, n[name]]
    X[:, AGGREGATE + 8] = cls * X[:, n["s_match"]]


def _named_as(root):
    """The noun a name is given to: "a teacher called Ines" -> teacher, "her name's Coco" -> name, "a dog named Tilly" -> dog."""
    head = root.head
    if head.lemma_.lower() in ("call", "name") and root.dep_ in ("oprd", "dobj", "attr", "xcomp", "npadvmod", "appos") and head != root:
        return head.head if head.dep_ in ("acl", "relcl") and head.head != head else head
    if head.lemma_.lower() == "be" and root.dep_ == "attr":
        return next((c for c in head.children if c.dep_ == "nsubj" and c.lemma_.lower() == "name"), None)
    return None


def _slot(root, wanted: frozenset[str], asked: frozenset[str]) -> tuple[float, float, float]:
    """Where the candidate sits relative to the question's words: the object of a preposition attached to one
    ("raising awareness for mental health" for "what did the race raise awareness for?"), that preposition being
    the question's own, and an argument of "be" whose other side holds one ("my favourite trilogy is ...")."""
    prep = root.head if root.dep_ == "pobj" and root.head.dep_ in ("prep", "agent", "dative") else None
    linked = prep is not None and prep.head != prep and _matches(stem(prep.head.lemma_), wanted) is not None
    head = root.head
    copula = head.lemma_.lower() == "be" and root.dep_ in ("attr", "nsubj", "acomp") and any(
        c != root and c.dep_ in ("nsubj", "attr") and any(t.is_alpha and _matches(stem(t.lemma_), wanted) for t in c.subtree) for c in head.children)
    return float(linked), float(linked and prep.lower_ in asked), float(copula)


def _role(dep: str) -> str:
    return {"nsubjpass": "dobj", "dative": "dobj", "attr": "dobj", "oprd": "dobj", "agent": "nsubj"}.get(dep, dep)


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
    out = {kind: float(bool(ups & broad_classes(kind))) for kind in ("person", "place", "activity", "date", "title", "organisation")}
    if classes:
        out["class"] = float(bool(ups & set(classes)))
        parents = {p for c in classes[:1] for p in net.hypernyms(c)}
        out["parent"] = float(bool(ups & parents))
    return out
