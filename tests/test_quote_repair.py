"""A quote repair fixes punctuation, spacing, case and quote characters, never a content word (DESIGN invariant 2)."""

from __future__ import annotations

from hyperloom.agent.cite import check_citations, notice
from hyperloom.agent.quotes import repair_quote
from hyperloom.memory.log import Turn

TURNS = [Turn("s1:1", "I live in Lisbon now, remember.", "Maya"), Turn("s3:1", "Guess what: I moved to Porto two weeks ago.", "Maya")]


def test_a_changed_word_is_removed_not_repaired() -> None:
    checked = check_citations('Atlantis [s3:1] "I moved to Atlantis two weeks ago…"', TURNS)
    assert checked.citations == [] and checked.repaired == 0
    assert checked.removed == 1 and checked.altered == 1
    assert notice(checked) == "1 quote whose words differ from memory removed."


def test_repair_quote_refuses_the_atlantis_span() -> None:
    assert repair_quote("I moved to Atlantis two weeks ago…", TURNS[1].text) is None


def test_punctuation_case_and_quote_marks_are_still_repaired() -> None:
    checked = check_citations('Porto [s3:1] "i moved to porto — two weeks ago!"', TURNS)
    (c,) = checked.citations
    assert (c.turn_id, c.quote) == ("s3:1", "I moved to Porto two weeks ago")
    assert TURNS[1].text[c.start : c.end] == c.quote
    assert checked.repaired == 1 and checked.removed == 0
    assert notice(checked) == "1 quote repaired to the exact words in memory."


def test_changed_and_invented_quotes_are_told_apart() -> None:
    checked = check_citations('Atlantis [s3:1] "I moved to Atlantis two weeks ago" [s1:1] "Maya lives on the moon"', TURNS)
    assert checked.citations == [] and checked.removed == 2 and checked.altered == 1
    assert notice(checked) == "1 quote whose words differ from memory removed; 1 quote not found in memory removed."
