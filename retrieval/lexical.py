"""BM25 over one namespace's documents, kept incrementally, with English stopwords and Snowball stemming."""

from __future__ import annotations

import bisect
import math
import re
import sys
import threading
from array import array
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import lru_cache

import numpy as np

_WORD = re.compile(r"\w+", re.UNICODE)


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


def terms(text: str) -> list[str]:
    """Lower-cased, stopword-free, stemmed word tokens: what BM25 and span matching compare."""
    stop = _stopwords()
    words = [w for w in _WORD.findall(text.lower()) if w not in stop]
    return _stemmer().stemWords(words)


class BM25:
    """Lucene BM25 (k1 1.5, b 0.75, as bm25s scores) over documents that are windows of consecutive turns.

    A turn's document is its own terms plus those of its neighbours in the same
    session, repeated by distance (3x itself, 2x the adjacent turns, 1x the next
    ones): in a dialogue the words of a question and of its answer belong together.
    On LoCoMo dev, recall@5/@10 goes 0.485/0.581 (turn alone, RRF) -> 0.652/0.737
    (uniform ±1 window) -> 0.687/0.762 (these weights).

    Kept incrementally, because a remember or forget must not cost a rebuild of the
    namespace (2-4 s at 20k turns with a static index): a term-major base of term
    frequencies built once, plus the windows changed since, kept in dicts. Scores
    are computed at query time from both, with the statistics of the current
    documents, so they equal a fresh build's; the base is rebuilt when the changes
    outgrow an eighth of it.
    """

    k1 = 1.5
    b = 0.75

    def __init__(self, weights: Sequence[int] = (3, 2, 1)) -> None:
        self.weights = tuple(weights)  # repetitions of a turn's terms at distance 0, 1, 2... from the document's turn
        self._docs: dict[int, tuple[str, tuple[str, ...]]] = {}  # id -> (group, terms); ids ascend in conversation order
        self._order: list[int] = []  # the ids, sorted
        self._dirty: set[int] = set()  # ids whose window changed since it was last counted
        self._base: _Base | None = None
        self._delta: dict[int, Counter] = {}  # id -> its window's term counts, for windows changed since the base
        self._delta_terms: dict[str, set[int]] = {}
        self._lengths: dict[int, int] = {}  # id -> window length, every current document
        self._total = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._docs)

    def ids(self) -> set[int]:
        with self._lock:
            return set(self._docs)

    def add(self, ids: Sequence[int], texts: Sequence[str], groups: Sequence[str] | None = None) -> None:
        with self._lock:
            for j, (i, text) in enumerate(zip(ids, texts, strict=True)):
                i = int(i)
                if i not in self._docs:
                    if not self._order or i > self._order[-1]:
                        self._order.append(i)
                    else:
                        bisect.insort(self._order, i)
                self._docs[i] = (groups[j] if groups else "", tuple(sys.intern(t) for t in terms(text)))  # one copy of each word, not one per use
            self._touch(ids)

    def delete(self, ids: Sequence[int]) -> None:
        with self._lock:
            gone = {int(i) for i in ids} & self._docs.keys()
            if not gone:
                return
            self._touch(gone)
            for i in gone:
                del self._docs[i]
            self._order = [i for i in self._order if i not in gone]

    def scores(self, query: str) -> dict[int, float]:
        """BM25 score of every document with a positive score."""
        ids, scores = self._scored(query)
        return dict(zip(ids.tolist(), scores.tolist()))

    def top(self, query: str, n: int) -> dict[int, float]:
        """The n best-scoring documents, best first (ties: the earlier id), without sorting all of them."""
        ids, scores = self._scored(query)
        if len(ids) > n:
            nth = np.partition(scores, len(scores) - n)[len(scores) - n]
            keep = scores >= nth  # the n best and every tie with the last of them
            ids, scores = ids[keep], scores[keep]
        order = np.lexsort((ids, -scores))[:n]
        return dict(zip(ids[order].tolist(), scores[order].tolist()))

    def _scored(self, query: str) -> tuple[np.ndarray, np.ndarray]:
        """(ids ascending, their scores) of every document with a positive score."""
        none = (np.zeros(0, dtype=np.int64), np.zeros(0))
        query_terms = terms(query)
        with self._lock:
            if not query_terms or not self._docs:
                return none
            self._catch_up()
            n, average = len(self._lengths), self._total / len(self._lengths)
            found_ids, found_scores = [], []
            for term in query_terms:  # a repeated query term counts each time, as in bm25s
                ids, tf, lengths = self._postings(term)
                if not len(ids):
                    continue
                idf = math.log(1 + (n - len(ids) + 0.5) / (len(ids) + 0.5))
                found_ids.append(ids)
                found_scores.append(idf * tf / (self.k1 * ((1 - self.b) + self.b * lengths / average) + tf))
        if not found_ids:
            return none
        unique, where = np.unique(np.concatenate(found_ids), return_inverse=True)
        return unique, np.bincount(where, weights=np.concatenate(found_scores))

    # -- keeping the counts current -------------------------------------------------------------------

    def _touch(self, ids) -> None:
        """Mark the windows that contain any of `ids` (theirs and their neighbours') as changed."""
        reach = len(self.weights) - 1
        for i in ids:
            p = bisect.bisect_left(self._order, int(i))
            self._dirty.update(self._order[max(0, p - reach) : p + reach + 1])
            self._dirty.add(int(i))

    def _catch_up(self) -> None:
        if self._base is None or len(self._dirty) + len(self._delta) > max(256, len(self._docs) // 8):
            self._rebuild()
            return
        for i in self._dirty:
            self._uncount(i)
            if i in self._docs:
                counts = Counter(self._window(bisect.bisect_left(self._order, i)))
                self._delta[i] = counts
                for t in counts:
                    self._delta_terms.setdefault(t, set()).add(i)
                self._count_length(i, sum(counts.values()))
            self._base.retire(i)
        self._dirty.clear()

    def _uncount(self, i: int) -> None:
        self._total -= self._lengths.pop(i, 0)
        for t in self._delta.pop(i, ()):
            self._delta_terms[t].discard(i)

    def _count_length(self, i: int, length: int) -> None:
        length = length or 1  # an empty window counts as one placeholder term, as bm25s indexes it
        self._lengths[i] = length
        self._total += length

    def _rebuild(self) -> None:
        self._base = _Base(self._order, (self._window(p) for p in range(len(self._order))))
        self._delta, self._delta_terms, self._dirty = {}, {}, set()
        self._lengths, self._total = {}, 0
        for i, length in zip(self._order, self._base.window_lengths.tolist()):
            self._count_length(i, length)

    def _window(self, p: int) -> list[str]:
        order, docs, reach = self._order, self._docs, len(self.weights) - 1
        group, window = docs[order[p]][0], []
        for n in range(max(0, p - reach), min(len(order), p + reach + 1)):
            if docs[order[n]][0] == group:
                window += docs[order[n]][1] * self.weights[abs(n - p)]
        return window

    def _postings(self, term: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(ids, term frequencies, window lengths) of the current documents holding `term`."""
        ids, tf, lengths = self._base.postings(term)
        extra = self._delta_terms.get(term)
        if extra:
            more = sorted(extra)
            ids = np.concatenate([ids, np.array(more, dtype=np.int64)])
            tf = np.concatenate([tf, np.array([self._delta[i][term] for i in more], dtype=np.float64)])
            lengths = np.concatenate([lengths, np.array([self._lengths[i] for i in more], dtype=np.float64)])
        return ids, tf, lengths


class _Base:
    """Term-major term frequencies of every window at one moment; a document retired since is skipped."""

    def __init__(self, ids: list[int], windows: Iterable[list[str]]) -> None:
        """`windows`: each document's window of terms, in `ids` order, read once (one window at a time, and
        the postings gathered in C arrays: all windows and Python lists of postings at once were a ~300 MB
        peak for 333k documents at 100k turns)."""
        self.ids = np.array(ids, dtype=np.int64)
        self.alive = np.ones(len(ids), dtype=bool)
        self._row = {i: r for r, i in enumerate(ids)}
        vocab: dict[str, int] = {}
        term_ids, rows, counts, lengths = array("q"), array("i"), array("f"), array("q")
        for r, window in enumerate(windows):
            lengths.append(len(window))
            for t, c in Counter(window).items():
                term_ids.append(vocab.setdefault(t, len(vocab)))
                rows.append(r)
                counts.append(c)
        self.window_lengths = np.frombuffer(lengths, dtype=np.int64) if lengths else np.zeros(0, dtype=np.int64)
        self.lengths = np.maximum(self.window_lengths, 1).astype(np.float64)
        terms_of = np.frombuffer(term_ids, dtype=np.int64) if term_ids else np.zeros(0, dtype=np.int64)
        order = np.argsort(terms_of, kind="stable")
        self.vocab = vocab
        self.rows = (np.frombuffer(rows, dtype=np.int32) if rows else np.zeros(0, dtype=np.int32))[order]
        self.tf = (np.frombuffer(counts, dtype=np.float32) if counts else np.zeros(0, dtype=np.float32))[order]
        self.indptr = np.searchsorted(terms_of[order], np.arange(len(vocab) + 1))

    def retire(self, i: int) -> None:
        if (r := self._row.get(i)) is not None:
            self.alive[r] = False

    def postings(self, term: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        t = self.vocab.get(term)
        if t is None:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32), np.zeros(0)
        rows = self.rows[self.indptr[t] : self.indptr[t + 1]]
        keep = self.alive[rows]
        rows = rows[keep]
        return self.ids[rows], self.tf[self.indptr[t] : self.indptr[t + 1]][keep], self.lengths[rows]
