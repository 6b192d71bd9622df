"""`MemoryView`: what retrieval may read of one namespace — and nothing else.

Retrieval used to take the whole `MemoryStore` and a namespace argument, and
read eight of its attributes by duck typing; a wrong namespace argument
anywhere was a leak. A view is bound to one namespace when it is made
(`store.view(namespace)`), has no method that writes, and every read by id
returns only that namespace's rows, so isolation holds by construction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from hyperloom.memory.hierarchy import Fact
    from hyperloom.memory.log import Turn
    from hyperloom.memory.store import MemoryStore
    from hyperloom.retrieval.index import VectorIndex
    from hyperloom.retrieval.lexical import BM25


class MemoryView:
    """Read-only access to one namespace's turns, structure and indexes (make it with `MemoryStore.view`)."""

    def __init__(self, store: MemoryStore, namespace: str):
        self._store = store
        self.namespace = namespace
        self.structured = store.structured
        self.dense_weight = store.config.dense_weight

    # -- text and indexes --------------------------------------------------------------------------

    def embed(self, text: str) -> np.ndarray:
        return self._store.embedder.embed(text)

    def vectors(self, level: str = "turns") -> VectorIndex:
        return self._store.vectors(self.namespace, level)

    def bm25(self, level: str = "turns") -> BM25:
        return self._store.bm25(self.namespace, level)

    # -- the log ----------------------------------------------------------------------------------

    def turns(self, seqs: Iterable[int]) -> list[Turn]:
        return self._store.log.turns(self.namespace, list(seqs))

    def turn(self, turn_id: str) -> Turn:
        return self._store.log.turn(turn_id, self.namespace)

    def at_positions(self, positions: Iterable[int]) -> list[Turn]:
        return self._store.log.at_positions(self.namespace, positions)

    def speakers(self) -> list[str]:
        return self._store.log.speakers(self.namespace)

    # -- structure --------------------------------------------------------------------------------

    def facts_by_id(self, ids: Sequence[int]) -> dict[int, Fact]:
        """Facts of this namespace among `ids` (an id of another namespace's fact is simply not found)."""
        if not ids:
            return {}
        found = self._store.hierarchy.facts_by_id(list(ids))
        mine = self._store.log.present(self.namespace, {f.turn_seq for f in found.values()})
        return {i: f for i, f in found.items() if f.turn_seq in mine}

    def scene_facts(self, scene: int) -> list[int]:
        if scene not in self._scenes():
            return []
        return self._store.hierarchy.scene_facts(scene)

    def _scenes(self) -> set[int]:
        return self.vectors("scenes").ids()  # the scene index holds exactly this namespace's scenes

    def scenes(self) -> list[tuple[int, str, str | None, str | None]]:
        """(id, summary, first time, last time) of every scene, in conversation order."""
        return self._store.hierarchy.scenes(self.namespace)

    def with_attribute(self, attribute: str) -> list[Fact]:
        return self._store.hierarchy.with_attribute(self.namespace, attribute)

    def spoken(self, speaker: str) -> tuple[list[int], np.ndarray]:
        """Turn seqs and fact vectors of everything one speaker said."""
        return self._store.spoken(self.namespace, speaker)

    # -- the hypergraph ---------------------------------------------------------------------------

    def mentioned(self, text: str) -> set[str]:
        return self._store.hypergraph.mentioned(self.namespace, text)

    def neighbourhood(self, names: Iterable[str], hops: int = 2) -> set[int]:
        return self._store.hypergraph.neighbourhood(self.namespace, names, hops=hops)

    def facts_of(self, points: Iterable[int]) -> set[int]:
        return self._store.hypergraph.facts_of(points)

    def facts_mentioning(self, kind: str, besides: Sequence[str] = ()) -> set[int]:
        return self._store.hypergraph.facts_mentioning(self.namespace, kind, besides=besides)

    def facts_of_classes(self, classes: Sequence[str], modifiers: Sequence[str] = ()) -> dict[int, int]:
        return self._store.hypergraph.facts_of_classes(self.namespace, classes, modifiers)

    def point_entities(self, point: int) -> list[str]:
        return list(self._store.hypergraph.point(point).entities)
