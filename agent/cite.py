"""Citations out of a model's answer, each checked against the log (DESIGN.md invariant 2).

A model writes `[turn id] "quote"`. Every quote is looked up in the turn it names
first, then in every other evidence turn: an exact match is kept, a near
one with the same words is repaired to the exact span of the log (punctuation,
spacing, case), anything else is removed and the answer says so (a quote whose
words differ from memory is told apart from one not found at all). What is left
always satisfies `turn.text[start:end] == quote`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from hyperloom.agent.quotes import nearest_span, repair_quote, verify_quote
from hyperloom.agent.state import Citation
from hyperloom.memory.log import Turn

_CITED = re.compile(r"(?:\[(?P<before>[^\]\n]{1,80})\]\s*)?[\"“](?P<quote>[^\"”\n]{1,2000})[\"”](?:\s*\[(?P<after>[^\]\n]{1,80})\])?")
_BARE_ID = re.compile(r"\[[^\]\n]{1,80}\]")
_LABEL = re.compile(r"^\s*(answer|evidence|quote)s?\s*:\s*", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Checked:
    text: str  # the answer without its citation markup
    citations: list[Citation]
    repaired: int
    removed: int  # every quote removed, `altered` included
    altered: int = 0  # removed because their words differ from the nearest span in memory


def check_citations(output: str, turns: Sequence[Turn]) -> Checked:
    """Split a model's output into its answer and verified citations of `turns` (the evidence it was shown)."""
    by_id = {t.id: t for t in turns}
    citations, repaired, removed, altered = [], 0, 0, 0
    for match in _CITED.finditer(output):
        named = by_id.get((match.group("before") or match.group("after") or "").strip())
        # The named turn first; models get ids wrong more often than words.
        candidates = ([named] if named else []) + [t for t in turns if t is not named]
        found = _locate(match.group("quote"), candidates)
        if found is None:
            removed += 1
            altered += _altered(match.group("quote"), candidates)
            continue
        citation, exact = found
        repaired += not exact
        if not any(_within(citation, other) for other in citations):
            citations.append(citation)
    answer = _LABEL.sub("", _BARE_ID.sub("", _CITED.sub("", output))).strip(" \n:-")
    if not answer and citations:
        answer = citations[0].quote
    return Checked(" ".join(answer.split()), citations, repaired, removed, altered)


def _within(inner: Citation, outer: Citation) -> bool:
    return inner.turn_id == outer.turn_id and outer.start <= inner.start and inner.end <= outer.end


def _locate(quote: str, turns: Sequence[Turn]) -> tuple[Citation, bool] | None:
    for exact, find in ((True, verify_quote), (False, repair_quote)):
        for turn in turns:
            if span := find(quote, turn.text):
                return cite(turn, *span), exact
    return None


def _altered(quote: str, turns: Sequence[Turn]) -> bool:
    """True when memory holds a near span whose words differ: a changed word, not a slip of punctuation."""
    return any(nearest_span(quote, turn.text) for turn in turns)


def cite(turn: Turn, start: int, end: int) -> Citation:
    return Citation(turn.id, start, end, turn.text[start:end], turn.speaker, turn.created_at, turn.session)


def notice(checked: Checked) -> str | None:
    parts = []
    if checked.repaired:
        parts.append(f"{checked.repaired} quote{'s' * (checked.repaired > 1)} repaired to the exact words in memory")
    if checked.altered:
        parts.append(f"{checked.altered} quote{'s' * (checked.altered > 1)} whose words differ from memory removed")
    if missing := checked.removed - checked.altered:
        parts.append(f"{missing} quote{'s' * (missing > 1)} not found in memory removed")
    return "; ".join(parts).capitalize() + "." if parts else None
