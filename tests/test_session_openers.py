"""Session openers: the first turn of a session carries its news ("Hey Bo! I joined a pottery class last week"),
and the best-scored turns that open their session gain a share of their score."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from hyperloom.memory.log import Turn
from hyperloom.retrieval.associative import Weights, _lift_openers, associative_search


def _session(n: int, lines: list[tuple[str, str]], day: int) -> list[Turn]:
    return [
        Turn(id=f"D{n}:{i + 1}", text=text, speaker=speaker, session=f"session_{n}", role="user", created_at=f"2023-05-{day:02d}T13:56:00", namespace="c", seq=-1)
        for i, (speaker, text) in enumerate(lines)
    ]


FIRST = [
    ("Ada", "Hey Bo! Guess what, I joined a pottery class last week and made my first bowl."),
    ("Bo", "That's great, Ada! What did the bowl look like?"),
    ("Ada", "It was blue with a little flower painted on the side."),
]
SECOND = [
    ("Bo", "Hi Ada, my week was busy, work and more work."),
    ("Ada", "Sorry to hear that. The pottery class is still fun, we glazed cups today."),
    ("Bo", "Cups sound lovely."),
]


def test_session_starts_are_the_first_turns_of_their_sessions(store) -> None:
    store.remember(_session(1, FIRST, 8) + _session(2, SECOND, 20), "c")
    store.remember(_session(1, FIRST[:1], 8), "other")  # another namespace's sessions are not this one's
    view = store.view("c")
    first = {t.session: t.position for t in store.log.turns("c") if t.id.endswith(":1")}
    assert view.session_starts(["session_1", "session_2", "session_9"]) == first
    assert store.view("other").session_starts(["session_2"]) == {}


def test_the_opener_gains_its_share_and_no_other_turn_changes(store) -> None:
    store.remember(_session(1, FIRST, 8) + _session(2, SECOND, 20), "c")
    view, w = store.view("c"), Weights()
    assert w.opener > 0
    question = "What did Ada do at her pottery class?"
    before = {h.turn_id: h.score for h in associative_search(view, question, 6, weights=Weights(opener=0.0))}
    after = {h.turn_id: h.score for h in associative_search(view, question, 6)}
    for turn_id, score in before.items():
        expected = score * (1 + w.opener) if turn_id in ("D1:1", "D2:1") else score
        assert abs(after[turn_id] - expected) < 1e-9, turn_id


class _Starts:
    """A view that knows only where each session starts (what `_lift_openers` reads)."""

    def __init__(self, starts: dict[str, int]):
        self.starts = starts

    def session_starts(self, sessions) -> dict[str, int]:
        return {s: self.starts[s] for s in sessions if s in self.starts}


@settings(max_examples=300, deadline=None)
@given(
    raw=st.lists(st.tuples(st.floats(0.01, 2.0), st.sampled_from(["s1", "s2", "s3"])), min_size=1, max_size=30),
    seeds=st.integers(1, 30),
)
def test_only_the_best_openers_gain_and_nothing_falls(raw, seeds: int) -> None:
    turns = {seq: Turn(f"t{seq}", "text", "Ada", session=session, position=seq, seq=seq) for seq, (_, session) in enumerate(raw)}
    scores = {seq: score for seq, (score, _) in enumerate(raw)}
    starts = {}
    for seq, (_, session) in enumerate(raw):
        starts.setdefault(session, seq)
    w = Weights(opener_seeds=seeds)
    best = set(sorted(scores, key=lambda s: -scores[s])[:seeds])
    lifted = dict(scores)
    _lift_openers(_Starts(starts), lifted, turns, w)
    for seq, score in scores.items():
        opens = starts[turns[seq].session] == seq
        assert lifted[seq] == (score * (1 + w.opener) if opens and seq in best else score)
