"""Conflicting facts shown together (RESEARCH.md section 8): when the evidence holds a fact about a
speaker's residence, workplace, job or relationship, every version of it is packed, each with its
dates, the newest marked, so the model sees the history instead of guessing from order or count."""

from __future__ import annotations

from collections.abc import Sequence

from hyperloom.memory.hierarchy import ATTRIBUTES, Fact
from hyperloom.memory.store import MemoryStore
from hyperloom.retrieval.search import Hit


def with_history(store: MemoryStore, namespace: str, hits: Sequence[Hit]) -> tuple[list[Hit], dict[str, str]]:
    """The hits plus the turns of every other version of their attribute facts, and a note per such turn."""
    if not store.structured:
        return list(hits), {}
    shown = {h.turn_id for h in hits}
    out, notes = list(hits), {}
    floor = min((h.score for h in hits), default=0.0)
    for attribute in ATTRIBUTES:
        chains: dict[str, list[Fact]] = {}
        for fact in store.hierarchy.with_attribute(namespace, attribute):
            chains.setdefault(fact.speaker, []).append(fact)
        for chain in chains.values():
            if len(chain) < 2 or not shown & {f.turn_id for f in chain}:
                continue
            for fact in chain:
                notes[fact.turn_id] = _note(fact)
                if fact.turn_id not in shown:
                    out.append(_hit(store, namespace, fact, floor))
                    shown.add(fact.turn_id)
    return out, notes


def _note(fact: Fact) -> str:
    since = (fact.valid_from or fact.time or "")[:10]
    if fact.valid_to is None:
        return f"{fact.attribute}: {fact.value}, since {since}, newest"
    return f"{fact.attribute}: {fact.value}, {since} to {fact.valid_to[:10]}, superseded"


def _hit(store: MemoryStore, namespace: str, fact: Fact, score: float) -> Hit:
    turn = store.log.turn(fact.turn_id, namespace)
    return Hit(turn.id, score, turn.text, turn.speaker, turn.created_at, [], turn.session, namespace, turn.seq)
