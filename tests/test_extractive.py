"""Extractive answers (`model="none"`): trimmed to the question's type, always citing an exact span."""

from __future__ import annotations

import pytest

from hyperloom.agent.extractive import answer_type, extractive_answer
from hyperloom.memory.store import MemoryStore
from hyperloom.retrieval.search import Hit
from hyperloom.retrieval.spans import Span


@pytest.mark.parametrize(
    "question, kind",
    [("When did she move?", "date"), ("What year was it?", "date"), ("How many figs?", "number"), ("Who is Ines?", "person"), ("Where does Maya live?", "place"), ("Which book is Ada reading?", "title"), ("What did Jonas play?", "text")],
)
def test_answer_type_from_the_question_word(question: str, kind: str) -> None:
    assert answer_type(question) == kind


@pytest.mark.parametrize(
    "question, answer",
    [
        ("When did Jonas run his first 10k race?", "13 April 2024"),  # "yesterday", said on 14 April 2024
        ("How many figs did the fig tree give this summer?", "eleven"),
        ("Who teaches Jonas the cello?", "Ines"),
        ("Where did Maya move to two weeks before July 20?", "Porto"),
    ],
)
def test_answers_are_trimmed_and_cite_exact_spans(demo_store: MemoryStore, question: str, answer: str) -> None:
    result = extractive_answer(question, demo_store.search(question, 5, "demo"))
    assert result.text == answer
    (span,) = result.citations
    assert demo_store.log.text(span.turn_id, "demo")[span.start : span.end] == span.text
    assert answer.lower() in span.text.lower() or result.answer_type == "date"


def test_nothing_found_says_so() -> None:
    result = extractive_answer("Who is Pixel?", [])
    assert result.text == "No information available." and result.citations == ()


@pytest.mark.parametrize("said", ['I\'m reading "The Lean Startup" for my shop.', "I'm reading “The Lean Startup” for my shop."])
def test_a_question_about_a_titled_work_is_answered_with_the_quoted_title(said: str) -> None:
    hit = Hit("t1", 1.0, said, "Jon", None, spans=[Span("t1", 0, len(said), said)])
    result = extractive_answer("What book is Jon reading?", [hit])
    assert result.text == "The Lean Startup" and result.citations[0].text == said


def test_a_title_question_without_a_quoted_title_gets_the_span() -> None:
    said = "I'm reading a book about running a small shop."
    hit = Hit("t1", 1.0, said, "Jon", None, spans=[Span("t1", 0, len(said), said)])
    assert extractive_answer("What book is Jon reading?", [hit]).text == said
