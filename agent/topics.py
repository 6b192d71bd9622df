"""Questions about what was talked about ("What did we talk about in March?", "What did they talk about
first?") are answered from the scenes of that period, not from one turn: each scene says what it was
about through its most central fact, quoted from the turn it came from."""

from __future__ import annotations

import re
from dataclasses import dataclass

from hyperloom.memory.hierarchy import Fact
from hyperloom.memory.view import MemoryView

TOPIC = re.compile(r"\bwhat (did|do|have) (we|they|you|i|\w+(?: and \w+)?) (talk|talked|chat|chatted|speak|spoke|discuss|discussed)( about)?\b|\bwhat (was|were) (the )?(conversation|chat|talk)s? about\b", re.IGNORECASE)
FIRST = re.compile(r"\b(first|at the (start|beginning)|in the beginning|earliest|initially)\b", re.IGNORECASE)
LAST = re.compile(r"\b(last time|most recently|lately|latest|last)\b", re.IGNORECASE)
MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december")
MONTH = re.compile(rf"\b({'|'.join(MONTHS)})\b(?:\s+(\d{{4}}))?", re.IGNORECASE)
SCENES = 3  # topics named in one answer


@dataclass(frozen=True, slots=True)
class Topic:
    fact: Fact
    quote: str  # the fact's sentence as said: the turn's text at fact.start:fact.end


def is_topic_question(question: str) -> bool:
    return bool(TOPIC.search(question))


def topics(view: MemoryView, question: str) -> list[Topic]:
    """The scenes of the period the question names (first, last, a month), each by its most central fact said then."""
    scenes = view.scenes()
    said_then = _period(question)
    if LAST.search(question) and not FIRST.search(question):
        scenes = list(reversed(scenes))
    out = []
    for scene_id, summary, *_ in scenes:
        facts = [f for f in view.facts_by_id(view.scene_facts(scene_id)).values() if said_then(f.time)]
        central = [f for f in facts if f.text in summary] or facts
        if central:
            fact = max(central, key=lambda f: len(f.text.split()))  # "Jonas!" is central to a greeting, and says nothing
            out.append(Topic(fact, view.turn(fact.turn_id).text[fact.start : fact.end]))
        if len(out) == SCENES:
            break
    return out


def _period(question: str):
    """Whether a fact said at an ISO time falls in the month the question names (any time when it names none)."""
    match = MONTH.search(question)
    if not match:
        return lambda when: True
    month, year = MONTHS.index(match.group(1).lower()) + 1, match.group(2)
    return lambda when: bool(when) and int(when[5:7]) == month and (year is None or when[:4] == year)
