"""Context packing: the best evidence under a token budget, strongest at both ends (Jin et al., ICLR 2025).

With passages d1..dk sorted by score the layout is [d1, d3, d5, ..., d6, d4, d2]:
the weakest sit in the middle, where long-context models read least.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from hyperloom.retrieval.search import Hit

T = TypeVar("T")


def both_ends(ranked: Sequence[T]) -> list[T]:
    """[d1, d3, d5, ..., d6, d4, d2] for `ranked` best first."""
    return list(ranked[0::2]) + list(ranked[1::2])[::-1]


def approximate_tokens(text: str) -> int:
    """About four characters a token for English (callers with a tokenizer pass their own count)."""
    return max(1, len(text) // 4)


def render(hit: Hit, note: str = "") -> str:
    """One evidence line: the turn id to cite, who, when, the verbatim text, and any note (a superseded fact)."""
    when = f" ({hit.time[:10]})" if hit.time else ""
    return f"[{hit.turn_id}] {hit.speaker}{when}: {hit.text}" + (f" [{note}]" if note else "")


@dataclass(frozen=True)
class Packed:
    hits: list[Hit]  # in layout order
    text: str
    tokens: int


def pack(hits: Sequence[Hit], budget: int, count: Callable[[str], int] = approximate_tokens, notes: Mapping[str, str] | None = None) -> Packed:
    """The highest-scored hits whose lines fit in `budget` tokens, laid out strongest at both ends.
    `notes` (by turn id) are appended to their lines: what the model must know about a turn, such as a newer fact."""
    notes = notes or {}
    chosen, used = [], 0
    for hit in sorted(hits, key=lambda h: -h.score):
        cost = count(render(hit, notes.get(hit.turn_id, "")))
        if used + cost <= budget:
            chosen.append(hit)
            used += cost
    layout = both_ends(chosen)
    return Packed(layout, "\n".join(render(h, notes.get(h.turn_id, "")) for h in layout), used)
