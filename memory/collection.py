"""Collection: one namespace's level (turns, facts or scenes) — its vector index, its BM25 and how its documents read.

As simonw/llm's `Collection` owns its rows, a collection owns everything derived
from one level of one namespace, so the store writes through one object per
(namespace, level) instead of keeping parallel caches keyed by strings. The
vectors are the ones the store embedded (embedding stays with the store: it
decides which facts may reuse their turn's vector); the BM25 is built from the
tables the first time it is needed and kept in step with every add and delete
after that.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from hyperloom.retrieval.index import VectorIndex
from hyperloom.retrieval.lexical import BM25
from hyperloom.retrieval.search import document_text

LEVELS = ("turns", "facts", "scenes")
# A BM25 is built from the tables a page at a time: all 233k facts of a 100k-turn namespace read at once
# were ~100 MB of rows held only to be counted.
PAGE = 2000
WINDOWS = {"turns": (3, 2, 1), "facts": (1,), "scenes": (1,)}  # BM25 neighbour weights (retrieval/lexical.py): only turns read their neighbours


def documents(level: str, items: Sequence) -> tuple[list[int], list[str], list[str] | None]:
    """(ids, texts, groups) of what a level indexes: turns (grouped by session), facts, scene rows."""
    if level == "turns":
        return [t.seq for t in items], [document_text(t) for t in items], [t.session for t in items]
    if level == "facts":
        # Embedded without the "Speaker: " prefix: with it, a speaker's short sentences all look alike.
        return [f.id for f in items], [f.text.partition(": ")[2] or f.text for f in items], None
    return [s[0] for s in items], [s[1] for s in items], None


class Collection:
    """The vectors and BM25 of one (namespace, level), changed only together."""

    def __init__(self, level: str, vectors: VectorIndex, read: Callable[[list[int]], list], every: Callable[[], list[int]]):
        self.level = level
        self.vectors = vectors
        self._read = read  # the level's items with these ids, from the tables
        self._every = every  # the ids of all of the level's items, in conversation order
        self._bm25: BM25 | None = None

    def __len__(self) -> int:
        return len(self.vectors)

    def ids(self) -> set[int]:
        return self.vectors.ids()

    @property
    def bm25(self) -> BM25:
        if self._bm25 is None:
            lexical = BM25(WINDOWS[self.level])
            for page in self._pages(self._every()):
                lexical.add(*documents(self.level, page))
            self._bm25 = lexical
        return self._bm25

    def add(self, items: Sequence, vectors: np.ndarray) -> None:
        """Index items whose vectors the caller embedded (in the order of `items`)."""
        if not len(items):
            return
        ids, texts, groups = documents(self.level, items)
        self.vectors.add(ids, vectors)
        if self._bm25 is not None:  # an unbuilt BM25 reads the tables when first needed
            self._bm25.add(ids, texts, groups)

    def delete(self, ids: Sequence[int]) -> None:
        self.vectors.delete(ids)
        if self._bm25 is not None:
            self._bm25.delete(ids)

    def align(self, ids: set[int], embed: Callable[[list], np.ndarray]) -> int:
        """Hold exactly these ids: drop the others, read, embed and add the missing; how many changed.
        A built BM25 is brought to the same ids. Only what differs is read from the tables (at 100k turns,
        every item of a level at once was hundreds of MB on each first look), a page at a time: a namespace
        switched from flat to structured lacks every fact's vector."""
        held = self.vectors.ids()
        extra, missing = sorted(held - ids), sorted(ids - held)
        self.vectors.delete(extra)
        for page in self._pages(missing):
            self.vectors.add(documents(self.level, page)[0], embed(page))
        if self._bm25 is not None:
            words = self._bm25.ids()
            self._bm25.delete(sorted(words - ids))
            for page in self._pages(sorted(ids - words)):
                self._bm25.add(*documents(self.level, page))
        return len(extra) + len(missing)

    def _pages(self, ids: list[int]):
        """The items with these ids, read from the tables PAGE at a time."""
        for k in range(0, len(ids), PAGE):
            if page := self._read(ids[k : k + PAGE]):
                yield page

    def refresh(self) -> None:
        """Catch up with another process's saves: the vectors from its files, the BM25 by what they say changed."""
        changed = self.vectors.refresh()
        if changed is None:  # read whole again: the BM25 is rebuilt when next needed
            self._bm25 = None
        elif self._bm25 is not None:
            self._bm25.delete(sorted(changed))  # gone, or replaced (then read again below)
            if new := sorted(self.vectors.ids() - self._bm25.ids()):
                self._bm25.add(*documents(self.level, self._read(new)))

    def save(self) -> None:
        self.vectors.save()

    def drop(self) -> None:
        """Empty the collection, files included."""
        self.vectors.drop()
        self._bm25 = None
