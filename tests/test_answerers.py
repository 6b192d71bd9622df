"""Who answers is chosen once per run; the reader (no LLM) is the default and says the answer, not a fragment."""

from __future__ import annotations

from pathlib import Path

import pytest

from hyperloom import Agent
from hyperloom.agent.answerers import Extractive, LiteLLM, LocalQuoter, Reader, answerer_for
from hyperloom.agent.critic import FixedCritic
from hyperloom.samples import sample_path


@pytest.fixture(scope="module")
def demo(tmp_path_factory, embedder):
    with Agent.open(tmp_path_factory.mktemp("demo") / "home", "demo", model="reader", critic=FixedCritic(1.0), embedder=embedder) as agent:
        agent.ingest(sample_path())
        yield agent


def test_the_model_name_chooses_the_answerer_once() -> None:
    assert isinstance(answerer_for("none"), Extractive) and isinstance(answerer_for("reader"), Reader)
    assert isinstance(answerer_for("local/smollm2"), LocalQuoter)
    assert isinstance(answerer_for("openai/gpt-4o-mini"), LiteLLM) and answerer_for("openai/gpt-4o-mini").writes_freely


@pytest.mark.parametrize("content", ["{not json", '{"features": []}', ""])
def test_damaged_reader_weights_fall_back_to_extractive_answers_with_a_notice(tmp_path: Path, embedder, content: str) -> None:
    weights = tmp_path / "reader.json"
    weights.write_text(content)
    assert isinstance(answerer_for("reader", reader_weights=weights), Extractive)
    with Agent.open(tmp_path / "home", "demo", model="reader", critic=FixedCritic(1.0), embedder=embedder, reader_weights=weights) as agent:
        agent.ingest(sample_path())
        answer = agent.ask("Where does Maya live now?")
    assert answer.text and answer.citations
    assert str(weights) in answer.notice and "reader_fit" in answer.notice


def test_a_compound_question_is_answered_part_by_part(demo: Agent) -> None:
    answer = demo.ask("What instrument is Jonas learning, and who teaches him?")
    first, second = answer.text.split("; ")  # one short answer per part, in the question's order
    assert first == "cello" and 0 < len(second) < 30
    assert all(demo.turn(c.turn_id).text[c.start : c.end] == c.quote for c in answer.citations)


def test_a_replaced_fact_is_not_the_answer_about_now(demo: Agent) -> None:
    """Maya said "I live in Lisbon now" before she moved to Porto: now is not Lisbon."""
    assert "Lisbon" not in demo.ask("Where does Maya live now?").text


@pytest.mark.parametrize("question", ["?!?", "🙂🙂", "x" * 10_000, "¿Dónde vive Maya ahora?"])
def test_odd_questions_get_an_answer_or_no_information_never_an_exception(demo: Agent, question: str) -> None:
    answer = demo.ask(question)
    assert isinstance(answer.text, str) and answer.text


@pytest.mark.parametrize("question", ["Wo wohnt Maya?", "¿Dónde vive Maya ahora?", "マヤはどこに住んでいますか？"])
def test_a_question_in_another_language_is_not_guessed_at(demo: Agent, question: str) -> None:
    """The reader's parser and WordNet are English: it says so, rather than answering 'Douro' to 'Wo wohnt Maya?'."""
    answer = demo.ask(question)
    assert answer.text == "No information available." and answer.citations == [] and "in English" in answer.notice
    assert demo.ask("Where does Maya live now?").text == "Porto"


@pytest.mark.parametrize(("question", "said"), [("What did they talk about first?", "2024-03"), ("What did Maya and Jonas talk about in October?", "2024-10")])
def test_what_was_talked_about_is_answered_from_the_scenes_of_that_period(demo: Agent, question: str, said: str) -> None:
    answer = demo.ask(question)
    assert len(answer.citations) >= 2 and " / " in answer.text
    assert all(c.time and c.time.startswith(said) for c in answer.citations)
    assert all(demo.turn(c.turn_id).text[c.start : c.end] == c.quote for c in answer.citations)
