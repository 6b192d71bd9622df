"""Extractive answers (`model="none"`): trimmed to the question's type, always citing an exact span."""

from __future__ import annotations

import pytest

from hyperloom.agent.extractive import answer_type, extractive_answer
from hyperloom.memory.store import MemoryStore


@pytest.mark.parametrize(
    "question, kind",
    [("When did she move?", "date"), ("What year was it?", "date"), ("How many figs?", "number"), ("Who is Ines?", "person"), ("Where does Maya live?", "place"), ("What did Jonas play?", "text")],
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
