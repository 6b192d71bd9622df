"""Spans are exact: `text[start:end]` is the span for any Unicode text, emoji, combining marks and CRLF included."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from hyperloom.retrieval.spans import best_spans, sentences

# Text built from pieces that stress offsets: multi-code-point emoji, combining marks, CRLF, punctuation.
pieces = st.sampled_from(["Hello", "world", ".", "!", "?", " ", "\r\n", "\n", "👩‍👩‍👧", "🎻", "e\u0301", "…", "”", "Ωμέγα", "日本語", "\t", "42"])
texts = st.one_of(st.text(), st.lists(pieces, max_size=40).map("".join))


@given(texts)
@settings(max_examples=300, deadline=None)
def test_sentences_are_trimmed_ordered_and_inside_the_text(text: str) -> None:
    previous_end = 0
    for start, end in sentences(text):
        assert previous_end <= start < end <= len(text)
        assert not text[start].isspace() and not text[end - 1].isspace()
        previous_end = end
    if text.strip():
        assert sentences(text)


@given(texts, st.text(min_size=1))
@settings(max_examples=300, deadline=None)
def test_best_span_quotes_the_turn_exactly(text: str, query: str) -> None:
    for span in best_spans("D1:1", text, query, limit=2):
        assert text[span.start : span.end] == span.text
        assert span.turn_id == "D1:1"


def test_sentence_split_on_punctuation_and_crlf() -> None:
    text = "I moved to Porto! The view is unreal.\r\nPixel loves it… “Really?” she asked."
    assert [text[s:e] for s, e in sentences(text)] == ["I moved to Porto!", "The view is unreal.", "Pixel loves it…", "“Really?”", "she asked."]


def test_best_span_is_the_sentence_matching_the_query() -> None:
    text = "Morning! I ran my first 10k race yesterday. 54 minutes, which I'm happy with."
    (span,) = best_spans("s2:1", text, "When did Jonas run the race?")
    assert span.text == "I ran my first 10k race yesterday."
    assert text[span.start : span.end] == span.text


def test_no_overlap_quotes_the_whole_turn() -> None:
    (span,) = best_spans("t", "  Just this.  ", "unrelated words")
    assert span.text == "Just this." and (span.start, span.end) == (2, 12)
