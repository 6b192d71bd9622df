"""What every benchmark loader returns: units (a conversation or a haystack, each its own namespace) and questions."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from hyperloom.memory.formats import Conversation


@dataclass(frozen=True)
class Question:
    """One question asked of one unit, with the evidence a retriever should find."""

    key: str  # unique in the data set and stable across runs: results.jsonl and --resume use it
    unit: str  # the unit (and namespace) the question is asked of
    text: str
    answer: str | None
    category: str
    evidence: tuple[str, ...] = ()  # turn ids
    evidence_sessions: tuple[str, ...] = ()
    spans: tuple[tuple[str, int, int], ...] = ()  # (turn id, start, end); empty means the whole evidence turns
    code: int | None = None  # LoCoMo's numeric category, which picks its F1 rule
    excluded: str | None = None  # why retrieval metrics skip it: "adversarial", "abstention", "no evidence"
    date: str | None = None  # when the question is asked, if the data set says


@dataclass(frozen=True)
class Unit:
    """A conversation (LoCoMo, JSONL) or one question's haystack (LongMemEval), ingested into a fresh store."""

    conversation: Conversation
    questions: tuple[Question, ...]

    @property
    def name(self) -> str:
        return self.conversation.name


@dataclass(frozen=True)
class Dataset:
    name: str
    path: Path
    units: tuple[Unit, ...]
    categories: tuple[str, ...]  # display order in reports
    default_ks: tuple[int, ...]
    headline: tuple[str, str]  # (level, metric) shown first, e.g. ("turn", "recall")
    notes: dict[str, list[str]] = field(default_factory=dict)  # what the loader repaired or skipped, for the report

    def questions(self) -> list[Question]:
        return [q for u in self.units for q in u.questions]
