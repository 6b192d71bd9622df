"""Rule-based question rewriting: make a question searchable without its conversation.

First person becomes the asking speaker (when memory knows them), a third-person
pronoun becomes the person last named in the conversation, relative dates become
absolute ones, and a compound question is split into sub-queries.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from hyperloom.memory.extract import entities
from hyperloom.memory.temporal import resolve

_FIRST_PERSON = [
    (re.compile(r"\b(do|did|have|was|am|can|should|will|would)\s+I\b", re.IGNORECASE), r"\1 {name}"),
    (re.compile(r"\bI'm\b"), "{name} is"),
    (re.compile(r"\bI've\b"), "{name} has"),
    (re.compile(r"\bI\b"), "{name}"),
    (re.compile(r"\b(me|myself)\b", re.IGNORECASE), "{name}"),
    (re.compile(r"\b(my|mine)\b", re.IGNORECASE), "{name}'s"),
]
ASSISTANT = "hyperloom"  # the speaker of the agent's own answers
_THIRD_PERSON = re.compile(r"\b(he|she|him|her|his|hers)\b", re.IGNORECASE)
_SPLIT = re.compile(r"\?\s+(?=\S)|\s+and\s+(?=(?:what|when|where|who|whom|which|why|how)\b)", re.IGNORECASE)


# A request is asked as the question it stands for (memory/log.py is_question tells requests from statements).
_REQUEST = re.compile(r"(?:please\s+)?(?:(?:can|could|would)\s+you\s+)?(?:(?:tell|remind|show)\s+(?:me|us)(?:\s+about)?|describe|explain)\s+", re.IGNORECASE)
_WH = re.compile(r"(?:who|whom|whose|what|which|when|where|why|how)\b", re.IGNORECASE)
# "what Jonas is learning": the auxiliary goes back before the subject (a name or a short noun phrase).
_AUX_AFTER = re.compile(r"(who|whom|whose|what|which|when|where|why|how(?:\s+\w+)?)\s+((?:\S+\s+){0,5}?\S+)\s+(is|was|are|were|has|have|had|can|could|will|would)\b\s*(.*)", re.IGNORECASE)


def as_question(text: str) -> str:
    """"Tell me who Pixel is" -> "Who is Pixel?"; "Tell me about Pixel" -> "Who is Pixel?" (a name) and
    "Describe the fig tree" -> "What is the fig tree?"; any other line as it is."""
    request = _REQUEST.match(text.strip())
    rest = text.strip()[request.end() :].strip(" .?!") if request else ""
    if not rest:
        return text
    if _WH.match(rest):  # an embedded question
        aux = _AUX_AFTER.fullmatch(rest)
        asked = " ".join(w for w in (aux[1], aux[3], aux[2], aux[4]) if w) if aux else rest
    else:
        asked = f"{'Who' if rest[0].isupper() else 'What'} is {rest}"
    return asked[0].upper() + asked[1:] + "?"


def rewrite(question: str, *, speaker: str | None, speakers: Sequence[str], history: Sequence[str] = (), now: datetime | None = None) -> list[str]:
    """The rewritten question first, then its parts when it asks several things."""
    query = as_question(question.strip())
    if speaker and speaker.lower() in {s.lower() for s in speakers}:
        for pattern, template in _FIRST_PERSON:
            query = pattern.sub(lambda m, t=template: m.expand(t.format(name=speaker)), query)
    query = _resolve_pronouns(query, speakers, history)
    query = _absolute_dates(query, now)
    parts = [p.strip(" ?,;") + "?" for p in _SPLIT.split(query) if len(p.split()) >= 3]
    return [query, *parts] if len(parts) > 1 else [query]


def _resolve_pronouns(query: str, speakers: Sequence[str], history: Sequence[str]) -> str:
    if not _THIRD_PERSON.search(query) or _names(query, speakers):
        return query
    # The user's own questions first: whom they last asked about is whom "she" means.
    mine = [h for h in reversed(history) if not h.startswith(f"{ASSISTANT}: ")]
    for line in mine + [h for h in reversed(history) if h not in mine]:
        named = _names(line.partition(": ")[2], speakers)
        if named:
            name = named[-1]
            return _THIRD_PERSON.sub(lambda m: f"{name}'s" if m.group(0).lower() in ("his", "hers") else name, query)
    return query


def _names(text: str, speakers: Sequence[str]) -> list[str]:
    known = frozenset(speakers)
    people = [e.name for e in entities(text, known) if e.kind == "person"]
    return people + [s for s in speakers if re.search(rf"\b{re.escape(s)}\b", text) and s not in people]


def _absolute_dates(query: str, now: datetime | None) -> str:
    """'yesterday' asked on 8 May 2023 → 'yesterday (7 May 2023)': the date is what memory holds."""
    if now is None:
        return query
    for mention in reversed(resolve(query, now)):
        if mention.text.strip().isdigit():  # a bare year is already absolute
            continue
        query = f"{query[: mention.end]} ({mention.label()}){query[mention.end :]}"
    return query
