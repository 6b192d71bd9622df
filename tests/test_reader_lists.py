"""List questions: the asked-for items of several evidence turns, joined with ", ", each an exact span of its turn."""

from __future__ import annotations

import pytest

from hyperloom.agent.question import keeps_replaced
from hyperloom.agent.reader import read
from hyperloom.retrieval.search import Hit
from hyperloom.retrieval.spans import best_spans


def hit(turn_id: str, speaker: str, text: str, question: str, score: float) -> Hit:
    return Hit(turn_id, score, text, speaker, "2024-03-02T18:10:00", best_spans(turn_id, text, question), turn_id.split(":")[0], "demo")


def parts_cited(question: str, hits: list[Hit]) -> tuple[list[str], list[str]]:
    reading = read(question, hits)
    texts = {h.turn_id: h.text for h in hits}
    assert all(texts[s.turn_id][s.start : s.end] == s.text for s in reading.citations)
    assert reading.text.split(", ") == [s.text for s in reading.citations]  # every part is its own quote
    return reading.text.split(", "), [s.turn_id for s in reading.citations]


def test_the_cities_someone_lived_in_are_gathered_from_every_turn_that_says_so() -> None:
    """Lisbon and Porto are where Maya said she lives or moved; Zurich is only where a team came from, and Hamburg
    is Jonas's city, not hers."""
    question = "Which cities has Maya lived in?"
    hits = [
        hit("s1:7", "Maya", "The cello! That's brave. I live in Lisbon now, remember, so you'll have to play for me over video.", question, 1.8),
        hit("s1:3", "Maya", "It went better than I hoped. A team from Zurich asked for our dataset.", question, 1.5),
        hit("s1:4", "Jonas", "I grew up in Hamburg, you know.", question, 1.3),
        hit("s3:1", "Maya", "Guess what: I moved to Porto two weeks ago. The lab opened a new site there.", question, 1.2),
    ]
    parts, turns = parts_cited(question, hits)
    assert sorted(parts) == ["Lisbon", "Porto"] and sorted(turns) == ["s1:7", "s3:1"]


def test_a_list_of_a_class_keeps_the_class_s_members_said_by_the_person_asked_about() -> None:
    """WordNet files a cello and a piano under the asked class (instruments); the park is not one, and the drums are
    Maya's brother's, not Jonas's."""
    question = "Which instruments does Jonas play?"
    hits = [
        hit("s1:6", "Jonas", "I play the cello on Tuesdays with my teacher Ines.", question, 1.8),
        hit("s1:8", "Jonas", "Maya, the park near my flat is lovely in spring.", question, 1.5),
        hit("s2:1", "Jonas", "Lately I also play the piano at weekends.", question, 1.3),
        hit("s2:2", "Maya", "My brother plays the drums, badly.", question, 1.2),
    ]
    parts, _ = parts_cited(question, hits)
    assert sorted(parts) == ["cello", "piano"]


@pytest.mark.parametrize(
    ("question", "keeps"),
    [
        ("Which cities has Maya lived in?", True),  # over time: where she lived before counts
        ("Where did Maya live before Porto?", True),
        ("Where does Maya live now?", False),  # a replaced fact is no answer about now
        ("Which cities does Maya work in now?", False),
    ],
)
def test_a_question_over_time_keeps_the_facts_later_ones_replaced(question: str, keeps: bool) -> None:
    assert keeps_replaced(question) is keeps


@pytest.fixture(scope="module")
def demo_agent(tmp_path_factory, embedder):
    from hyperloom import Agent
    from hyperloom.samples import sample_path

    with Agent.open(tmp_path_factory.mktemp("lists-demo") / "home", "demo", model="reader", memory="structured", embedder=embedder) as agent:
        agent.ingest(sample_path())
        yield agent


def test_the_demo_s_cities_question_is_answered_with_both_cities(demo_agent) -> None:
    """Maya lived in Lisbon and moved to Porto; the shipped critic and reader answer from the agent's own evidence."""
    answer = demo_agent.ask("Which cities has Maya lived in?")
    assert sorted(answer.text.split(", ")) == ["Lisbon", "Porto"]
    assert sorted(c.quote for c in answer.citations) == ["Lisbon", "Porto"]
    assert all(demo_agent.turn(c.turn_id).text[c.start : c.end] == c.quote for c in answer.citations)
