"""Flat or structured memory: decided once, when the store opens, and carried as an object.

The store's write path is the same for both; what differs is what a new turn
becomes (a turn vector, or a turn vector plus facts, memory points and scenes),
what reconciliation checks, and how a question is searched. Each mode says that
here, so no method of the store asks which mode it is in.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from hyperloom.errors import InputError

if TYPE_CHECKING:
    from hyperloom.memory.log import Turn
    from hyperloom.memory.store import MemoryStore
    from hyperloom.retrieval.search import Filters, Hit


class Flat:
    """Turns only: one vector and one BM25 entry per turn; twice as fast to write."""

    name = "flat"
    structured = False
    levels = ("turns",)

    def index(self, store: MemoryStore, namespace: str, turns: list[Turn]) -> None:
        store._index(namespace, "turns", turns)

    def consolidate(self, store: MemoryStore, namespace: str, sessions: Iterable[str] | None = None) -> None:
        if store.hierarchy.scenes(namespace):  # left by structured memory: summaries must not keep forgotten words
            store._consolidate(namespace, sessions=sessions)

    def behind(self, store: MemoryStore, namespace: str, turns: set[int]) -> tuple[int, int]:
        return 0, 0

    def search(self, store: MemoryStore, query: str, k: int, namespace: str, filters: Filters | None, candidates: int | None) -> list[Hit]:
        from hyperloom.retrieval.search import CANDIDATES, hybrid_search

        return hybrid_search(
            query,
            k,
            namespace=namespace,
            embedder=store.embedder,
            vectors=store.vectors(namespace),
            bm25=store.bm25(namespace),
            fetch=lambda seqs: store.log.turns(namespace, seqs),
            speakers=store.log.speakers(namespace),
            filters=filters,
            dense_weight=store.config.dense_weight,
            candidates=candidates or CANDIDATES,
        )

    def entity_turns(self, store: MemoryStore, namespace: str, name: str) -> list[str]:
        raise InputError("Forgetting an entity needs structured memory; set HYPERLOOM_MEMORY=structured (the default) and try again.")


class Structured(Flat):
    """Turns, facts (L1), scenes (L2), persona (L3) and the entity hypergraph, searched together."""

    name = "structured"
    structured = True
    levels = ("turns", "facts", "scenes")

    def index(self, store: MemoryStore, namespace: str, turns: list[Turn]) -> None:
        store._index_turns_and_facts(namespace, turns, store._derive(turns, namespace))

    def consolidate(self, store: MemoryStore, namespace: str, sessions: Iterable[str] | None = None) -> None:
        store._consolidate(namespace, sessions=sessions)

    def behind(self, store: MemoryStore, namespace: str, turns: set[int]) -> tuple[int, int]:
        """(turns without facts, index entries out of date), each repaired: a crash between the log and the
        structure, or a namespace that was flat until now. `turns`: the seqs of the log's evidence."""
        from hyperloom.memory.store import INDEX_BATCH

        bare, said = sorted(turns - store.hierarchy.turns_with_facts(namespace)), set()
        for k in range(0, len(bare), INDEX_BATCH):  # as ingest does: a flat namespace at 100k lacks every fact
            said |= {f.turn_seq for f in store._derive(store.log.turns(namespace, bare[k : k + INDEX_BATCH], evidence=True), namespace)}
        stale = store._align(namespace, "facts", set(store.hierarchy.fact_ids(namespace)))
        if said or {s[0] for s in store.hierarchy.scenes(namespace)} != store.vectors(namespace, "scenes").ids():
            store._consolidate(namespace)
            stale += 1
        return len(said), stale  # turns with nothing to say are not behind

    def search(self, store: MemoryStore, query: str, k: int, namespace: str, filters: Filters | None, candidates: int | None) -> list[Hit]:
        from hyperloom.retrieval.associative import POOL, associative_search

        return associative_search(store.view(namespace), query, k, filters, pool=candidates or POOL)

    def entity_turns(self, store: MemoryStore, namespace: str, name: str) -> list[str]:
        """Ids of every turn with a memory point naming the entity (or one of its aliases)."""
        target = store.hypergraph.aliases(namespace).get(name.lower())
        if target is None:
            raise InputError(f"No entity called {name!r} in namespace {namespace!r}; check the name with `hyperloom search`.")
        return sorted({store.hierarchy.fact(f).turn_id for p in store.hypergraph.points(namespace) if target in p.entities for f in p.facts})


def mode_for(name: str) -> Flat:
    return Structured() if name == "structured" else Flat()
