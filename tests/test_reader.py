"""The reader: short answers that are exact spans of the evidence, or "No information available."."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hyperloom.agent.reader import NO_ANSWER, Reading, ReaderWeightsError, Weights, read
from hyperloom.memory.store import MemoryStore
from hyperloom.retrieval.search import Hit
from hyperloom.retrieval.spans import Span, best_spans

CELLO = "Yes, on the south side. I also started learning the cello last month — lessons every Tuesday evening with a teacher called Ines."


def hit(text: str, question: str, *, turn_id: str = "s1:6", speaker: str = "Jonas", time: str | None = "2024-03-02T18:10:00", score: float = 1.0) -> Hit:
    return Hit(turn_id, score, text, speaker, time, best_spans(turn_id, text, question) if text.strip() else [], "s1", "demo")


def assert_verbatim(reading: Reading, hits: list[Hit]) -> None:
    texts = {h.turn_id: h.text for h in hits}
    for span in reading.citations:
        assert texts[span.turn_id][span.start : span.end] == span.text
    if reading.answer_type != "date" and not reading.abstained and not reading.verdict:
        for part in reading.text.split(", "):
            assert any(part == s.text for s in reading.citations), part


def test_what_instrument_is_answered_with_the_instrument_wordnet_names() -> None:
    question = "What instrument is Jonas learning?"
    hits = [hit(CELLO, question)]
    reading = read(question, hits)
    assert reading.text == "cello" and reading.answer_type == "class:instrument" and not reading.abstained
    assert_verbatim(reading, hits)


def test_who_teaches_is_answered_with_the_teacher_s_name() -> None:
    question = "Who teaches Jonas?"
    hits = [hit(CELLO, question)]
    reading = read(question, hits)
    assert reading.text == "Ines" and reading.answer_type == "person"
    assert_verbatim(reading, hits)


@pytest.mark.parametrize("question", ["What instrument is Jonas learning?", "Who teaches Jonas the cello?", "Who is Pixel?", "What did they talk about first?", "Where does Maya live now?", "When did Jonas run his first 10k race?"])
def test_every_answer_part_is_an_exact_span_of_its_hit(demo_store: MemoryStore, question: str) -> None:
    hits = demo_store.search(question, 10, "demo")
    reading = read(question, hits)
    assert reading.text and (reading.abstained == (reading.text == NO_ANSWER))
    assert_verbatim(reading, hits)
    for span in reading.citations:
        assert demo_store.log.text(span.turn_id, "demo")[span.start : span.end] == span.text


def test_a_when_question_gets_the_date_resolved_against_the_turn() -> None:
    question = "When did Jonas run his first 10k race?"
    said = "I ran my first 10k race yesterday! Finished in 58 minutes."
    hits = [hit(said, question, time="2024-04-14T09:30:00")]
    reading = read(question, hits)
    assert reading.text == "13 April 2024" and reading.answer_type == "date"
    assert reading.citations[0].text in said


@pytest.mark.parametrize("question", ["", "   ", "?!?...", "🎻🎻🎻", "x" * 10_000, "Qué instrumento toca Jonas?", "Welches Instrument lernt Jonas?", "when " * 2000])
def test_bad_questions_get_an_answer_or_an_abstention_never_an_exception(question: str) -> None:
    hits = [hit(CELLO, "cello")]
    reading = read(question, hits)
    assert isinstance(reading.text, str) and reading.text
    assert_verbatim(reading, hits)


@pytest.mark.parametrize("text", ["", "   ", "🎻", "..."])
def test_evidence_without_sentences_yields_an_abstention(text: str) -> None:
    reading = read("What instrument is Jonas learning?", [Hit("s1:9", 1.0, text, "Jonas", None, [], "s1", "demo")])
    assert reading.abstained and reading.text == NO_ANSWER and reading.citations == ()


def test_a_caption_only_turn_is_read_like_any_text() -> None:
    caption = "a photo of a cello leaning against a music stand"
    question = "What instrument did Jonas share a photo of?"
    hits = [hit(caption, question, turn_id="s1:9")]
    reading = read(question, hits)
    assert reading.text == NO_ANSWER or reading.text in caption
    assert_verbatim(reading, hits)


def test_no_evidence_abstains() -> None:
    reading = read("Who is Pixel?", [])
    assert reading == Reading(NO_ANSWER, (), "description", 0.0, 0.0, True)


def test_missing_weights_name_the_file_and_the_refit_command(tmp_path: Path) -> None:
    with pytest.raises(ReaderWeightsError, match=r"reader\.json.*reader_fit"):
        Weights.load(tmp_path / "reader.json")


@pytest.mark.parametrize("content", ["{not json", "{}", json.dumps({"features": ["other"], "rank": {}}), "[]"])
def test_corrupted_weights_name_the_file_and_the_refit_command(tmp_path: Path, content: str) -> None:
    path = tmp_path / "reader.json"
    path.write_text(content)
    with pytest.raises(ReaderWeightsError, match=r"reader\.json.*reader_fit"):
        Weights.load(path)


def test_the_shipped_weights_load_and_record_what_they_were_trained_on() -> None:
    weights = Weights.load()
    assert weights.trained_on and 0 < weights.list_ratio <= 1


def test_a_list_question_joins_parts_from_several_turns() -> None:
    question = "What sports does John play?"
    hits = [
        hit("I play basketball every weekend with my old college friends.", question, turn_id="a:1", speaker="John"),
        hit("Soccer is my other love; I play it on Tuesdays.", question, turn_id="a:2", speaker="John", score=0.9),
    ]
    reading = read(question, hits)
    assert reading.answer_type == "list:activity" and not reading.abstained
    assert_verbatim(reading, hits)
    assert "basketball" in reading.text.lower()


def test_spans_cite_hits_by_their_turn_ids() -> None:
    question = "Who teaches Jonas?"
    other = hit("The fig tree finally outgrew its pot.", question, turn_id="s1:4", score=0.5)
    reading = read(question, [hit(CELLO, question), other])
    assert reading.citations and all(isinstance(s, Span) and s.turn_id == "s1:6" for s in reading.citations)


# -- the demo conversation, asked through the real agent ----------------------------------------------


@pytest.fixture(scope="module")
def demo_agent(tmp_path_factory, embedder):
    from hyperloom import Agent
    from hyperloom.agent.critic import FixedCritic
    from hyperloom.samples import sample_path

    with Agent.open(tmp_path_factory.mktemp("reader-demo") / "home", "demo", model="reader", memory="structured", critic=FixedCritic(1.0), embedder=embedder) as agent:
        agent.ingest(sample_path())
        yield agent


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What instrument is Jonas learning?", "cello"),
        ("Who teaches Jonas?", "Ines"),  # "a teacher called Ines": the teacher, not the composer of the piece he played
        ("Where does Maya live now?", "Porto"),  # she moved from Lisbon to Porto
        ("When did Jonas run his first 10k race?", "13 April 2024"),  # "yesterday", said on 14 April 2024
        ("Who is Clara?", "sister"),  # "my sister Clara"
    ],
)
def test_the_demo_questions_are_answered_by_the_agent(demo_agent, question: str, expected: str) -> None:
    answer = demo_agent.ask(question)
    assert answer.text == expected
    assert answer.citations and all(demo_agent.turn(c.turn_id).text[c.start : c.end] == c.quote for c in answer.citations)


def test_who_is_a_named_pet_is_answered_about_the_pet(demo_agent) -> None:
    """Pixel is Maya's cat ("a grey rescue called Pixel"): the answer says what she called Pixel, instead of abstaining."""
    answer = demo_agent.ask("Who is Pixel?")
    assert answer.text != NO_ANSWER and ("cat" in answer.text or "rescue" in answer.text)
    assert all("Pixel" in demo_agent.turn(c.turn_id).text for c in answer.citations)


# -- yes/no questions: the verdict is the reader's word, the sentence it was judged from is the citation ----------


@pytest.mark.parametrize(
    ("question", "said"),
    [
        ("Did Jonas pass his cello exam?", "I passed my grade 1 cello exam last Friday"),
        ("Did Maya move to Porto?", "I moved to Porto two weeks ago"),
    ],
)
def test_a_yes_no_question_is_answered_yes_citing_the_sentence_that_says_so(demo_agent, question: str, said: str) -> None:
    answer = demo_agent.ask(question)
    assert answer.text == "Yes" and answer.verdict  # the word is the reader's verdict; the quote is what it was judged from
    assert [c.quote for c in answer.citations] and said in answer.citations[0].quote
    assert all(demo_agent.turn(c.turn_id).text[c.start : c.end] == c.quote for c in answer.citations)


@pytest.mark.parametrize(
    "question",
    [
        "Does Maya have a car?",  # no car anywhere in the conversation
        "Does Jonas have a cat?",  # Pixel is Maya's cat; Jonas only says "a roboticist's cat"
        "Has Jonas been to Lisbon?",  # Maya was, and lived there
        "Is Maya vegetarian?",
    ],
)
def test_a_yes_no_question_nothing_in_memory_supports_gets_no_answer(demo_agent, question: str) -> None:
    answer = demo_agent.ask(question)
    assert answer.text == NO_ANSWER and answer.citations == [] and not answer.verdict


def test_a_negated_sentence_says_no() -> None:
    question = "Does Maya have a car?"
    hits = [hit("I don't have a car anymore, I sold it when I moved.", question, speaker="Maya")]
    reading = read(question, hits)
    assert reading.text == "No" and reading.verdict and not reading.abstained
    assert_verbatim(reading, hits)
    assert reading.citations[0].text == hits[0].text[: hits[0].text.index(".") + 1]


def test_a_would_question_is_answered_likely() -> None:
    question = "Would Jonas enjoy playing in an orchestra?"
    hits = [hit("Ines says I can join the community orchestra in the autumn, and I would enjoy playing there.", question)]
    reading = read(question, hits)
    assert reading.text == "Likely yes" and reading.verdict


def test_a_wordnet_kind_of_the_asked_for_thing_supports_the_question() -> None:
    question = "Is Jonas learning an instrument?"
    hits = [hit(CELLO, question)]
    reading = read(question, hits)
    assert reading.text == "Yes" and "cello" in reading.citations[0].text


def test_another_speaker_s_story_does_not_answer_a_question_about_someone_else() -> None:
    question = "Did Jonas adopt a cat?"
    hits = [hit("I'm also adopting a cat next week, a grey rescue called Pixel.", question, speaker="Maya"), hit("Pixel is a perfect name.", question, turn_id="s2:7")]
    assert read(question, hits).text == NO_ANSWER


def test_a_choice_question_is_not_answered_yes_or_no() -> None:
    question = "Does Jonas live close to a river or the mountains?"
    hits = [hit("I ran the Spree river run in Berlin, right by my flat.", question)]
    assert read(question, hits).text not in ("Yes", "No", NO_ANSWER)


def test_a_weekday_is_told_relative_to_the_day_it_was_said() -> None:
    """"last Friday", said on 20 July 2024: LoCoMo's form, and exactly what was claimed (not a guess at which Friday)."""
    question = "When did Jonas pass his cello exam?"
    said = "I passed my grade 1 cello exam last Friday, by the way."
    hits = [hit(said, question, turn_id="s3:4", time="2024-07-20T10:00:00")]
    reading = read(question, hits)
    assert reading.text == "the Friday before 20 July 2024" and reading.citations[0].text == "last Friday"
