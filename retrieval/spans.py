"""Verbatim spans: sentence offsets into a turn's text and the best span for a query.

Offsets are Python string indices (code points), so `text[start:end]` is exactly
the span for any Unicode text; nothing here normalises or re-encodes the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hyperloom.retrieval.lexical import terms

# A sentence ends after terminal punctuation (and any closing quotes/brackets)
# followed by whitespace, or at a line break (CRLF included).
_BOUNDARY = re.compile(r"(?<=[.!?…])[\"'”’)\]]*\s+|[\r\n]+")


@dataclass(frozen=True, slots=True)
class Span:
    """`(turn_id, start, end)` such that `log.text(turn_id)[start:end] == text`."""

    turn_id: str
    start: int
    end: int
    text: str


def sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence, whitespace trimmed; never empty for non-blank text."""
    bounds, cursor = [], 0
    for match in _BOUNDARY.finditer(text):
        bounds.append((cursor, match.end()))  # trailing whitespace is trimmed below
        cursor = match.end()
    bounds.append((cursor, len(text)))
    return [trimmed for s, e in bounds if (trimmed := _trim(text, s, e))]


def _trim(text: str, start: int, end: int) -> tuple[int, int] | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if end > start else None


def best_spans(turn_id: str, text: str, query: str, limit: int = 1) -> list[Span]:
    """The sentence(s) of `text` sharing most terms with `query`; the whole turn if none does."""
    wanted = set(terms(query))
    scored = []
    for start, end in sentences(text):
        overlap = len(wanted & set(terms(text[start:end])))
        scored.append((overlap, -start, start, end))
    scored.sort(reverse=True)
    if not scored or scored[0][0] == 0:
        whole = _trim(text, 0, len(text)) or (0, len(text))
        return [Span(turn_id, whole[0], whole[1], text[whole[0] : whole[1]])]
    picked = sorted((s, e) for overlap, _, s, e in scored[:limit] if overlap > 0)
    return [Span(turn_id, s, e, text[s:e]) for s, e in picked]
