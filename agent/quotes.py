"""Exact quotes: a suffix automaton over evidence, quote verification and repair (RESEARCH.md section 4).

The automaton answers "which next symbols keep this quote a contiguous substring of
the evidence?" with one dict lookup per decoded symbol, so constrained decoding
costs amortised O(1) per token instead of a scan of the evidence.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterable, Iterator, KeysView, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Generic, TypeVar

T = TypeVar("T", bound=Hashable)

ROOT = 0  # the state of the empty quote


class _Separator:
    """A symbol no decoder can emit: keeps matches from running across two evidence sequences."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Match:
    """The longest stretch of a query found in the evidence: `evidence[start:end] == query[qstart:qstart + end - start]`."""

    start: int
    end: int
    qstart: int

    @property
    def length(self) -> int:
        return self.end - self.start


class SuffixAutomaton(Generic[T]):
    """Every contiguous substring of the evidence is a path from ROOT; nothing else is.

    Symbols are any hashable values: characters, or a tokenizer's token ids.
    Several sequences may be added; a match never spans two of them.
    """

    def __init__(self, symbols: Iterable[T] = ()):
        self._next: list[dict] = [{}]
        self._link: list[int] = [-1]
        self._len: list[int] = [0]
        self._end: list[int] = [0]  # end position (exclusive) of the first occurrence
        self._last = ROOT
        self._size = 0  # symbols added, separators included
        self.extend(symbols)

    def __len__(self) -> int:
        return self._size

    def extend(self, symbols: Iterable[T]) -> None:
        """Append symbols to the current evidence sequence."""
        for symbol in symbols:
            self._append(symbol)

    def add_sequence(self, symbols: Iterable[T]) -> int:
        """Start a new evidence sequence (after a separator); returns its offset in positions."""
        if self._size:
            self._append(_Separator())
        offset = self._size
        self.extend(symbols)
        return offset

    def _append(self, symbol: object) -> None:
        # The classic online construction (Blumer et al.): amortised O(1) per symbol.
        self._size += 1
        cur = self._new_state(self._len[self._last] + 1, self._size)
        p = self._last
        while p != -1 and symbol not in self._next[p]:
            self._next[p][symbol] = cur
            p = self._link[p]
        if p == -1:
            self._link[cur] = ROOT
        else:
            q = self._next[p][symbol]
            self._link[cur] = q if self._len[p] + 1 == self._len[q] else self._clone(p, q, symbol)
        self._last = cur

    def _clone(self, p: int, q: int, symbol: object) -> int:
        clone = self._new_state(self._len[p] + 1, self._end[q])
        self._next[clone] = dict(self._next[q])
        self._link[clone] = self._link[q]
        while p != -1 and self._next[p].get(symbol) == q:
            self._next[p][symbol] = clone
            p = self._link[p]
        self._link[q] = clone
        return clone

    def _new_state(self, length: int, end: int) -> int:
        self._next.append({})
        self._link.append(-1)
        self._len.append(length)
        self._end.append(end)
        return len(self._len) - 1

    # -- questions asked while decoding ---------------------------------------------------------

    def step(self, state: int | None, symbol: T) -> int | None:
        """The state after appending `symbol` to the quote, or None if it stops being a substring."""
        return None if state is None else self._next[state].get(symbol)

    def allowed(self, state: int) -> KeysView:
        """Symbols that keep the quote a substring (separators included; a decoder never emits them)."""
        return self._next[state].keys()

    def walk(self, symbols: Iterable[T], state: int | None = ROOT) -> int | None:
        for symbol in symbols:
            state = self.step(state, symbol)
            if state is None:
                return None
        return state

    def __contains__(self, symbols: Iterable[T]) -> bool:
        return self.walk(symbols) is not None

    def first_end(self, state: int) -> int:
        """End position (exclusive) of the first occurrence of any quote that reached `state`."""
        return self._end[state]

    def longest_match(self, query: Sequence[T]) -> Match | None:
        """The longest contiguous piece of `query` that occurs in the evidence (first such piece)."""
        state, length, best = ROOT, 0, None
        for i, symbol in enumerate(query):
            # On a mismatch, drop symbols from the front via suffix links (amortised O(1)).
            while state != ROOT and symbol not in self._next[state]:
                state = self._link[state]
                length = self._len[state]
            if symbol in self._next[state]:
                state, length = self._next[state][symbol], length + 1
            if length and (best is None or length > best.length):
                # The first occurrence of the matched suffix ends where the state's first occurrence does.
                end = self._end[state]
                best = Match(end - length, end, i + 1 - length)
        return best


def verify_quote(quote: str, text: str) -> tuple[int, int] | None:
    """(start, end) with `text[start:end] == quote` (first occurrence), or None; an empty quote never verifies."""
    if not quote:
        return None
    start = text.find(quote)
    return None if start < 0 else (start, start + len(quote))


def repair_quote(quote: str, text: str, min_ratio: float = 0.6, min_chars: int = 3, min_anchor: float = 0.4) -> tuple[int, int] | None:
    """The exact span of `text` a quote that does not verify was meant to be, or None.

    A repair fixes punctuation, spacing, case and quote characters, never a word
    (DESIGN invariant 2): only spans with the quote's very words are candidates, or a
    model's "I moved to Atlantis" would be cited as the log's "I moved to Porto".
    """
    if exact := verify_quote(quote, text):
        return exact
    return _best([w for w in _candidates(quote, text, min_chars, min_anchor) if same_words(quote, text[w[1] : w[2]])], min_ratio)


def nearest_span(quote: str, text: str, min_ratio: float = 0.6, min_chars: int = 3, min_anchor: float = 0.4) -> tuple[int, int] | None:
    """The exact span of `text` nearest to a quote whatever its words, or None if too little of it matches.

    Not a repair (the words may differ): it tells a quote with a changed word from
    one that is nowhere in memory.
    """
    if exact := verify_quote(quote, text):
        return exact
    return _best(list(_candidates(quote, text, min_chars, min_anchor)), min_ratio)


def same_words(a: str, b: str) -> bool:
    """True when `a` and `b` differ only in punctuation, spacing and case."""
    return words(a) == words(b)


def words(text: str) -> list[str]:
    """The lower-cased runs of letters and digits: what a repair must leave alone."""
    return _WORD.findall(text.lower())


_WORD = re.compile(r"[^\W_]+")


def _best(windows: list[tuple[float, int, int]], min_ratio: float) -> tuple[int, int] | None:
    if not windows:
        return None
    ratio, start, end = max(windows, key=lambda w: (w[0], w[2] - w[1]))
    return (start, end) if ratio >= min_ratio else None


def _candidates(quote: str, text: str, min_chars: int, min_anchor: float) -> Iterator[tuple[float, int, int]]:
    """(similarity, start, end) of the spans of `text` a quote may have meant.

    The longest common substring (found with the automaton) anchors the quote in
    the text; it must cover `min_anchor` of the quote, or an invented quote would be
    "repaired" to any sentence sharing a few common words ("Maya lives on the moon"
    to "Yes, on the south"). Around it, word-bounded windows are scored by
    similarity to the quote (difflib ratio, case ignored).
    """
    wanted = _fold(quote.strip().strip("\"'“”‘’").strip())
    folded = _fold(text)
    match = SuffixAutomaton(folded).longest_match(wanted) if wanted else None
    if match is None or match.length < min(min_chars, len(wanted)) or match.length < min_anchor * len(wanted):
        return iter(())
    return _windows(folded, wanted, match)


def _windows(folded: str, wanted: str, match: Match) -> Iterator[tuple[float, int, int]]:
    """(similarity, start, end) of word-bounded windows that contain the anchor and are about the quote's length."""
    aligned, slack = match.start - match.qstart, max(3, len(wanted) // 5)
    starts = [i for i in range(max(0, aligned - slack), match.start + 1) if _starts_word(folded, i)]
    ends = [j for j in range(match.end, min(len(folded), aligned + len(wanted) + slack) + 1) if _ends_word(folded, j)]
    starts = starts or [_widen_to_words(folded, match.start, match.end)[0]]
    ends = ends or [_widen_to_words(folded, match.start, match.end)[1]]
    for start in starts:
        for end in ends:
            start_, end_ = _trim(folded, start, end)
            if end_ > start_:
                yield SequenceMatcher(None, wanted, folded[start_:end_], autojunk=False).ratio(), start_, end_


def _starts_word(text: str, i: int) -> bool:
    return i < len(text) and not text[i].isspace() and (i == 0 or not (text[i - 1].isalnum() and text[i].isalnum()))


def _ends_word(text: str, j: int) -> bool:
    return j > 0 and not text[j - 1].isspace() and (j == len(text) or not (text[j - 1].isalnum() and text[j].isalnum()))


def _fold(text: str) -> str:
    # Lower-case only where that keeps one character per character: offsets must map back 1:1.
    return "".join(low if len(low := c.lower()) == 1 else c for c in text)


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _widen_to_words(text: str, start: int, end: int) -> tuple[int, int]:
    while start > 0 and text[start - 1].isalnum() and text[start].isalnum():
        start -= 1
    while end < len(text) and text[end - 1].isalnum() and text[end].isalnum():
        end += 1
    return start, end
