"""Question rewriting and citation checking: the two text-level steps around retrieval and answering."""

from __future__ import annotations

from datetime import datetime

import pytest

from hyperloom.agent.cite import check_citations, notice
from hyperloom.agent.rewrite import rewrite
from hyperloom.memory.log import Turn

SPEAKERS = ["Maya", "Jonas"]


@pytest.mark.parametrize(
    ("question", "speaker", "expected"),
    [
        ("Where do I live now?", "Maya", "Where do Maya live now?"),
        ("What is my cat called?", "Maya", "What is Maya's cat called?"),
        ("Where do I live now?", "alice", "Where do I live now?"),  # memory does not know alice: left alone
    ],
)
def test_first_person_becomes_the_known_speaker(question: str, speaker: str, expected: str) -> None:
    assert rewrite(question, speaker=speaker, speakers=SPEAKERS)[0] == expected


def test_pronoun_is_the_person_the_user_last_named() -> None:
    history = ["user: What is Maya's cat called?", "hyperloom: Pixel, said Jonas."]
    assert rewrite("Where does she work?", speaker="user", speakers=SPEAKERS, history=history)[0] == "Where does Maya work?"
    assert rewrite("Where does Jonas work?", speaker="user", speakers=SPEAKERS, history=history)[0] == "Where does Jonas work?"


def test_relative_dates_become_absolute() -> None:
    query = rewrite("What did Maya do yesterday?", speaker=None, speakers=SPEAKERS, now=datetime(2023, 5, 8, 13, 56))[0]
    assert query == "What did Maya do yesterday (7 May 2023)?"


@pytest.mark.parametrize(
    "request_, question",
    [
        ("Tell me who Pixel is", "Who is Pixel?"),
        ("Tell me about Pixel.", "Who is Pixel?"),
        ("Describe the fig tree", "What is the fig tree?"),
        ("Can you tell me what Jonas is learning?", "What is Jonas learning?"),
        ("Tell me what the name of Maya's cat is", "What is the name of Maya's cat?"),
        ("Please remind me where Maya lives", "Where Maya lives?"),
        ("Tell me who is teaching Jonas", "Who is teaching Jonas?"),
        ("Where is Pixel?", "Where is Pixel?"),
        ("Tell me", "Tell me"),
    ],
)
def test_a_request_is_asked_as_the_question_it_stands_for(request_: str, question: str) -> None:
    assert rewrite(request_, speaker=None, speakers=[])[0] == question


def test_compound_question_is_split() -> None:
    queries = rewrite("Where did Maya move and when did Jonas run his race?", speaker=None, speakers=SPEAKERS)
    assert queries[1:] == ["Where did Maya move?", "when did Jonas run his race?"]


TURNS = [Turn("s1:1", "I live in Lisbon now, remember.", "Maya"), Turn("s3:1", "Guess what: I moved to Porto two weeks ago.", "Maya")]


def test_exact_quote_is_kept_with_its_offsets() -> None:
    checked = check_citations('Porto [s3:1] "I moved to Porto two weeks ago."', TURNS)
    (c,) = checked.citations
    assert checked.text == "Porto" and (c.turn_id, c.start, c.end) == ("s3:1", 12, 43)
    assert TURNS[1].text[c.start : c.end] == c.quote and notice(checked) is None


def test_near_quote_is_repaired_and_a_wrong_id_is_looked_up_everywhere() -> None:
    checked = check_citations('Porto. [s1:1] "i moved to porto, two weeks ago"', TURNS)
    (c,) = checked.citations
    assert c.turn_id == "s3:1" and c.quote == TURNS[1].text[c.start : c.end]
    assert checked.repaired == 1 and "repaired" in notice(checked)


def test_invented_quote_is_removed_and_said_so() -> None:
    checked = check_citations('Mars [s1:1] "Maya lives on Mars"', TURNS)
    assert checked.citations == [] and checked.removed == 1 and checked.text == "Mars"
    assert notice(checked) == "1 quote not found in memory removed."


def test_answer_that_is_only_a_quote() -> None:
    checked = check_citations('"I live in Lisbon now"', TURNS)
    assert checked.text == "I live in Lisbon now" and checked.citations[0].turn_id == "s1:1"
