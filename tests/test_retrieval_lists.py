"""What structured search does with questions that list things and with turns that only ask: a turn that asks and
tells little gives way to the turn that tells, and a list question looks further among the named speaker's facts."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hyperloom.memory.log import Turn
from hyperloom.retrieval.associative import LIST, Weights, _add_speaker_facts, _discount_asking, _topic, associative_search, said_words, scoped_weights
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


@pytest.mark.parametrize(
    "question, listing",
    [
        ("What activities has Melanie done with her family?", True),
        ("Which books has Caroline read?", True),
        ("What kind of interests do Joanna and Nate share?", True),
        ("What is Caroline's identity?", False),  # a possessive is no plural
        ("What does Caroline's necklace symbolize?", False),
        ("What did Melanie paint recently?", False),
        ("When did Jon open his studio?", False),
    ],
)
def test_list_questions(question: str, listing: bool) -> None:
    assert bool(LIST.search(question)) is listing


def test_a_list_question_looks_further_among_the_speakers_own_facts(store) -> None:
    chores = ["rewrote the report", "fixed the tap", "paid the bill", "cleaned the fridge", "sorted the papers", "called the bank"]
    times = ["on Monday", "this morning", "after lunch", "before dinner", "at the office", "late at night", "with Bo", "at home"]
    lines = [("Ada", f"I {c} {t}.") for c, t in itertools.product(chores, times)]  # 48 facts of Ada's
    store.remember(_turns(lines), "c")
    view = store.view("c")
    reached = {}
    for question in ("What chores has Ada done?", "Did Ada do the chores?"):
        scores: dict[int, float] = {}
        _add_speaker_facts(view, ["Ada"], view.embed(_topic(question, ["Ada"])), scores, scoped_weights(question, Weights()))
        reached[question] = len(scores)
    assert reached == {"What chores has Ada done?": Weights().list_scoped_top, "Did Ada do the chores?": Weights().scoped_top}


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
