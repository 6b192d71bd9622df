"""Turns that only ask: a turn that asks and tells little ("Cool! What kind of music do you play?") shares the
question's words but holds no answer, and gives way to the turn that tells."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hyperloom.memory.log import Turn
from hyperloom.retrieval.associative import Weights, _discount_asking, associative_search, said_words
from hyperloom.retrieval.search import Filters, top_hits


def _turns(lines, caption: str | None = None) -> list[Turn]:
    return [
        Turn(id=f"D1:{i + 1}", text=text, speaker=speaker, session="session_1", role="user", created_at="2023-05-08T13:56:00", caption=caption, namespace="c", position=i, seq=-1)
        for i, (speaker, text) in enumerate(lines)
    ]


def test_said_words_count_what_a_turn_tells_not_what_it_asks() -> None:
    (asking,) = _turns([("Ada", "Cool! What kind of music do you play?")])
    (telling,) = _turns([("Ada", "I play the cello. Do you?")])
    (shown,) = _turns([("Ada", "Look at this!")], caption="a photo of a painting of a sunset over a lake")
    assert said_words(asking) == 1 and said_words(telling) == 4
    assert said_words(shown) == 3 + 11  # the image tells what the words do not


MUSIC = [
    ("Bo", "I finally went to the jazz festival downtown, it was great."),
    ("Ada", "Cool! What kind of music do you play?"),
    ("Bo", "Mostly the saxophone, some blues with friends on weekends."),
    ("Ada", "I play classical music too, the cello in a string quartet."),
    ("Bo", "Work has been stressful, lots of meetings and deadlines."),
    ("Ada", "I read a long report about the budget for the meeting."),
]


@pytest.fixture
def music(store):
    store.remember(_turns(MUSIC), "c")
    return store.view("c")


@pytest.mark.parametrize("question", ["What kind of music does Ada play?", "What music does Ada play?"])
def test_the_asking_turn_ranks_below_the_answer(music, question: str) -> None:
    undiscounted = [h.turn_id for h in associative_search(music, question, 4, weights=Weights(asking=0.0))]
    ranked = [h.turn_id for h in associative_search(music, question, 4)]
    assert undiscounted[0] == "D1:2"  # Ada's own question shares every word of this one
    assert ranked[0] == "D1:4"  # "I play classical music too, the cello..."


_TEXTS = ("Cool! What do you play?", "I play the cello every Tuesday with Ines.", "Nice?", "Where? I moved to Porto last spring, near the river.")


@settings(max_examples=300, deadline=None)
@given(
    raw=st.lists(st.tuples(st.floats(0.01, 2.0), st.sampled_from(_TEXTS), st.sampled_from(["Maya", "Jonas"])), min_size=1, max_size=40),
    k=st.integers(1, 12),
    only=st.sampled_from([None, "Maya"]),
)
def test_discounting_the_likeliest_turns_alone_gives_the_same_hits(raw, k: int, only: str | None) -> None:
    """The discount looks only at the turns that could still reach the k best; the hits are those of
    discounting every candidate."""
    turns = {seq: Turn(f"t{seq}", text, speaker, seq=seq, position=seq) for seq, (_, text, speaker) in enumerate(raw)}
    scores = {seq: score for seq, (score, _, _) in enumerate(raw)}
    filters, w = (Filters(speaker=only) if only else None), Weights()
    everyone = {seq: s * (1 - w.asking) if "?" in turns[seq].text and said_words(turns[seq]) < w.asking_words else s for seq, s in scores.items()}
    lazy = dict(scores)
    _discount_asking(lazy, turns, k, filters, w)
    assert top_hits(lazy, turns, "play", k, "ns", filters) == top_hits(everyone, turns, "play", k, "ns", filters)
