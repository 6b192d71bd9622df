"""Packing: within budget, verbatim, and the strongest evidence at both ends."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hyperloom.retrieval.pack import both_ends, pack, render
from hyperloom.retrieval.search import Hit


def test_layout_puts_the_weakest_in_the_middle() -> None:
    assert both_ends([1, 2, 3, 4, 5, 6]) == [1, 3, 5, 6, 4, 2]
    assert both_ends([1, 2, 3]) == [1, 3, 2]


@given(st.lists(st.integers(), unique=True))
def test_layout_is_a_permutation_with_the_best_two_at_the_ends(ranked: list[int]) -> None:
    layout = both_ends(ranked)
    assert sorted(layout) == sorted(ranked)
    if len(ranked) >= 2:
        assert layout[0] == ranked[0] and layout[-1] == ranked[1]


def hit(i: int, score: float, text: str) -> Hit:
    return Hit(turn_id=f"D1:{i}", score=score, text=text, speaker="Ada", time="2023-05-08T13:56:00")


@given(st.lists(st.tuples(st.floats(0, 1), st.text(min_size=1, max_size=200)), max_size=30), st.integers(0, 400))
def test_pack_stays_within_budget_and_quotes_verbatim(items: list[tuple[float, str]], budget: int) -> None:
    hits = [hit(i, score, text) for i, (score, text) in enumerate(items)]
    packed = pack(hits, budget, count=len)
    assert packed.tokens <= budget and packed.tokens == sum(len(render(h)) for h in packed.hits)
    for h in packed.hits:
        assert render(h) in packed.text and h.text in render(h)


def test_pack_prefers_higher_scores() -> None:
    hits = [hit(1, 0.2, "weak"), hit(2, 0.9, "strong"), hit(3, 0.5, "middle")]
    packed = pack(hits, budget=2 * len(render(hits[1])), count=len)
    assert [h.turn_id for h in packed.hits] == ["D1:2", "D1:3"]
    assert packed.text.startswith("[D1:2] Ada (2023-05-08): strong")
