"""The evidence sentences the reader parses: the best hits' sentences, chosen before parsing, each parsed once per process.

Parsing is most of the reader's time (about 0.35 ms a word on 2 cores), so the turns are cut
into sentences by the retrieval layer's rules, the sentences are scored by the question's
words weighted by how rare they are in the evidence, and only the best of them are parsed
(`passages`); a parsed sentence is kept in an LRU cache keyed by its text.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from hyperloom.agent.nlp import spacy_pipeline
from hyperloom.retrieval.lexical import terms
from hyperloom.retrieval.search import Hit
from hyperloom.retrieval.spans import sentences

LOOK = 8  # evidence turns read, best first (the packed evidence is 7-17 turns; the answer is almost always in the first 8)
MAX_CHARS = 2000  # of one turn: a pasted document is read up to here
MAX_SENTENCE = 400  # characters of one sentence that are parsed
BUDGET = 8  # sentences parsed per question: each hit's best sentence, then the best of the rest by the question's words
LIST_BUDGET = 16  # for a list question, whose items are spread over several turns ("I live in Lisbon", "I moved to Porto")
DOC_CACHE = 8192
NER = False  # spaCy's entity recogniser is half the parse time and adds nothing measurable (LoCoMo dev LOCO 1-4 F1 0.309 with, 0.308 without)


@dataclass(frozen=True, slots=True)
class Passage:
    """One parsed evidence sentence: `hit.text[start:start + len(doc.text)] == doc.text`."""

    hit: Hit
    rank: int  # the hit's rank in the evidence, 0 best
    index: int  # the sentence's number in its turn
    start: int  # its character offset in hit.text
    doc: object  # the spaCy Doc of the sentence
    in_best: bool  # a sentence retrieval marked as the hit's best span
    near_best: bool  # next to such a sentence
    cheap: float  # the question's rarity-weighted words it holds, before parsing (0-1)
    turn_cheap: float  # the same over the whole turn
    prev_cheap: float  # the same for the sentence before it in the turn (0 for the first)
    next_cheap: float  # and for the one after it


def passages(question: str, hits: Sequence[Hit], budget: int = BUDGET) -> list[Passage]:
    """The evidence sentences worth parsing, in hit order, parsed."""
    rows = []  # (hit rank, hit, sentence index, start, end, in best, near best, term set)
    for rank, hit in enumerate(hits[:LOOK]):
        text = hit.text[:MAX_CHARS]
        bounds = sentences(text) if text.strip() else []
        best = {i for i, (s, e) in enumerate(bounds) if any(s <= sp.start < e or sp.start <= s < sp.end for sp in hit.spans)}
        for i, (s, e) in enumerate(bounds):
            e = min(e, s + MAX_SENTENCE)
            rows.append((rank, hit, i, s, e, i in best, bool(best) and i not in best and (i - 1 in best or i + 1 in best), set(terms(text[s:e]))))
    if not rows:
        return []
    weight = _rarity(set(terms(question)), [r[7] for r in rows])
    total = sum(weight.values()) or 1.0
    cheap = [sum(weight.get(t, 0.0) for t in r[7]) / total for r in rows]
    turns: dict[int, set[str]] = {}
    for r in rows:
        turns.setdefault(r[0], set()).update(r[7])
    chosen = _choose(rows, cheap, budget)
    docs = parsed([r[1].text[r[3] : r[4]] for r in (rows[i] for i in chosen)])
    turn_cheap = {k: sum(weight.get(t, 0.0) for t in v) / total for k, v in turns.items()}
    out = []
    for i, doc in zip(chosen, docs):
        rank, hit, index, start, _, in_best, near_best, _ = rows[i]
        before = cheap[i - 1] if index > 0 else 0.0
        after = cheap[i + 1] if i + 1 < len(rows) and rows[i + 1][0] == rank else 0.0
        out.append(Passage(hit, rank, index, start, doc, in_best, near_best, cheap[i], turn_cheap[rank], before, after))
    return out


def _rarity(wanted: set[str], sentence_terms: list[set[str]]) -> dict[str, float]:
    """An idf over the evidence's sentences for each question term (a term absent from the evidence still counts)."""
    n = len(sentence_terms)
    return {t: math.log((n + 1) / (0.5 + sum(t in s for s in sentence_terms))) for t in wanted}


def _choose(rows: list, cheap: list[float], budget: int) -> list[int]:
    """Every hit's best sentence while the budget lasts, then the others by their question words (and hit rank); in order."""
    first = [i for i, r in enumerate(rows) if r[5]]
    first = sorted(first, key=lambda i: rows[i][0])[:budget]
    rest = sorted((i for i in range(len(rows)) if i not in set(first)), key=lambda i: (-(cheap[i] + 0.15 * rows[i][6]) + 0.02 * rows[i][0], i))
    return sorted(first + rest[: max(0, budget - len(first))])


# -- parsing, cached per sentence text -----------------------------------------------------------

_docs: OrderedDict[str, object] = OrderedDict()
_docs_lock = threading.Lock()


def parsed(texts: Sequence[str]) -> list:
    """spaCy Docs of the texts, parsed once per process (LRU over texts)."""
    with _docs_lock:
        missing = list(dict.fromkeys(t for t in texts if t not in _docs))
    if missing:
        docs = list(spacy_pipeline().pipe(missing, batch_size=32, disable=[] if NER else ["ner"]))
        remember(zip(missing, docs))
    with _docs_lock:
        out = []
        for t in texts:
            _docs.move_to_end(t)
            out.append(_docs[t])
        return out


def remember(pairs) -> None:
    """Put parsed Docs into the cache (benchmarks/reader_fit.py loads its own parses this way)."""
    with _docs_lock:
        for text, doc in pairs:
            _docs[text] = doc
        while len(_docs) > DOC_CACHE:
            _docs.popitem(last=False)
