"""The suffix automaton accepts exactly the substrings of its evidence; quotes verify and repair to exact spans."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from hyperloom.agent.quotes import ROOT, SuffixAutomaton, nearest_span, repair_quote, same_words, verify_quote

# A small alphabet makes repeats (and so clone states) common.
small_text = st.text(alphabet="abc", max_size=40)
token_ids = st.lists(st.integers(min_value=0, max_value=4), max_size=40)


def is_substring(needle: list, hay: list) -> bool:
    return any(hay[i : i + len(needle)] == needle for i in range(len(hay) - len(needle) + 1))


@given(small_text)
@settings(max_examples=200)
def test_every_substring_is_accepted(text):
    automaton = SuffixAutomaton(text)
    for i in range(len(text) + 1):
        for j in range(i, len(text) + 1):
            assert text[i:j] in automaton


@given(small_text, small_text)
@settings(max_examples=300)
def test_only_substrings_are_accepted(text, quote):
    assert (quote in SuffixAutomaton(text)) == (quote in text)


@given(token_ids, token_ids)
@settings(max_examples=300)
def test_generic_over_token_ids(evidence, quote):
    assert (quote in SuffixAutomaton(evidence)) == is_substring(quote, evidence)


@given(small_text, st.lists(st.integers(min_value=0, max_value=10), max_size=30))
@settings(max_examples=200)
def test_decoding_only_allowed_symbols_stays_a_substring(text, choices):
    """Following `allowed` greedily, as a logits processor does, always yields a substring."""
    automaton, state, quote = SuffixAutomaton(text), ROOT, ""
    for choice in choices:
        options = sorted(automaton.allowed(state))
        if not options:
            break
        symbol = options[choice % len(options)]
        state, quote = automaton.step(state, symbol), quote + symbol
        assert quote in text
        assert text[automaton.first_end(state) - len(quote) : automaton.first_end(state)] == quote


@given(small_text, small_text)
@settings(max_examples=300)
def test_longest_match_is_a_longest_common_substring(text, query):
    match = SuffixAutomaton(text).longest_match(query)
    best = max((j - i for i in range(len(query)) for j in range(i + 1, len(query) + 1) if query[i:j] in text), default=0)
    if best == 0:
        assert match is None
    else:
        assert match.length == best
        assert text[match.start : match.end] == query[match.qstart : match.qstart + match.length]


def test_separate_sequences_never_match_across_the_seam():
    automaton = SuffixAutomaton[str]()
    automaton.add_sequence("I moved to Porto")
    offset = automaton.add_sequence("last week")
    assert "Porto" in automaton and "last" in automaton
    assert "Portolast" not in automaton and "Porto last" not in automaton
    assert offset == len("I moved to Porto") + 1


def test_allowed_lists_the_continuations():
    automaton = SuffixAutomaton("abcab")
    assert set(automaton.allowed(automaton.walk("ab"))) == {"c"}
    assert set(automaton.allowed(ROOT)) == {"a", "b", "c"}
    assert automaton.step(automaton.walk("ab"), "a") is None
    assert automaton.step(None, "a") is None


def test_verify_quote_returns_the_first_exact_span():
    text = "I moved to Porto last week. Porto is lovely."
    assert verify_quote("Porto", text) == (11, 16)
    assert verify_quote("porto", text) is None
    assert verify_quote("", text) is None


def test_nearest_span_finds_the_nearest_exact_span():
    text = "Ada said: I adopted a puppy called Biscuit yesterday! Then we had tea."
    start, end = nearest_span("I adopted a puppy named Biscuit yesterday", text)
    assert text[start:end] == "I adopted a puppy called Biscuit yesterday"
    start, end = nearest_span('"i ADOPTED a puppy called biscuit"', text)
    assert text[start:end] == "I adopted a puppy called Biscuit"
    assert nearest_span("ada sai", text) == (0, 8)  # widened to the whole word "Ada said"


def test_repair_fixes_case_and_punctuation_but_never_a_word():
    text = "Ada said: I adopted a puppy called Biscuit yesterday! Then we had tea."
    start, end = repair_quote('"i ADOPTED a puppy, called biscuit"', text)
    assert text[start:end] == "I adopted a puppy called Biscuit"
    assert repair_quote("I adopted a puppy named Biscuit yesterday", text) is None  # named != called
    assert repair_quote("ada sai", text) is None  # "sai" is not "said"


def test_repair_gives_up_when_too_little_matches():
    assert repair_quote("completely unrelated words here", "I moved to Porto.") is None
    assert repair_quote("", "anything") is None
    assert repair_quote("Maya lives on the moon", "Yes, on the south side of the river.") is None  # a few shared words are not a quote
    assert repair_quote("zz", "zz top") == (0, 2)  # an exact quote is always kept, however short


@given(st.text(max_size=60), st.text(max_size=30))
@settings(max_examples=300)
def test_repair_always_returns_an_exact_span_or_none(text, quote):
    span = repair_quote(quote, text)
    if span is not None:
        start, end = span
        assert 0 <= start < end <= len(text)
        assert text[start:end] == quote or text[start:end].strip() == text[start:end]


@given(st.text(max_size=60), st.text(max_size=30))
@settings(max_examples=300)
def test_a_repaired_quote_keeps_every_word(text, quote):
    span = repair_quote(quote, text)
    if span is not None:
        assert same_words(quote, text[span[0] : span[1]])
