"""LoCoMo (`locomo10.json` and files in its format): categories by numeric id, malformed evidence ids parsed or skipped."""

from __future__ import annotations

import re
from pathlib import Path

from hyperloom.errors import InputError
from hyperloom.evals.datasets.base import Dataset, Question, Unit
from hyperloom.memory.formats import Conversation, locomo_conversation, read_json

# The numeric ids in the file; the paper lists them in another order and several harnesses mislabel them.
CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}
PUBLISHED_AT = "https://github.com/snap-research/locomo (data/locomo10.json)"
# One id ("D5:3", "d5 : 3", "D:11:26" with a stray colon) or a range of them ("D12:3-D12:5", "D12:3-5", "D1:18 to D2:3"). Lists joined by
# ";" or "," (with or without spaces), two ids run together by a colon ("D13:45:D20:19") and trailing
# punctuation ("D5:3.") all fall out of scanning for these.
_DIA_ID = re.compile(r"D\s*:?\s*(\d+)\s*:\s*(\d+)(?:\s*(?:-|–|to)\s*(?:D\s*(\d+)\s*:\s*)?(\d+))?", re.IGNORECASE)


def load(path: Path) -> Dataset:
    """Every sample of a LoCoMo file; evidence ids that name no real turn are skipped and recorded."""
    if not path.exists():
        raise InputError(f"{path} does not exist; LoCoMo is published at {PUBLISHED_AT}; download it yourself and pass the path to locomo10.json.")
    data = read_json(path)
    if not isinstance(data, list) or not data or not all(isinstance(s, dict) and "conversation" in s for s in data):
        raise InputError(f"{path} is not a LoCoMo file (a list of samples with `conversation` and `qa`); pass locomo10.json or a file in its format.")
    notes: dict[str, list[str]] = {"parsed_evidence": [], "skipped_evidence": [], "unparsed_evidence": []}
    units = tuple(_unit(raw, i, notes) for i, raw in enumerate(data))
    names = [u.name for u in units]
    if len(set(names)) < len(names):
        duplicate = next(n for n in names if names.count(n) > 1)
        raise InputError(f"{path} holds two samples named {duplicate!r}; give each sample a unique `sample_id`.")
    return Dataset("locomo", path, units, tuple(CATEGORIES.values()), (1, 5, 10, 25, 50), ("turn", "recall"), notes)


def _unit(raw: dict, index: int, notes: dict[str, list[str]]) -> Unit:
    conversation = locomo_conversation(raw, index)
    qa = raw.get("qa", [])
    if not isinstance(qa, list):
        raise InputError(f"LoCoMo sample {conversation.name} has a `qa` that is not a list; the file is not in the official format.")
    return Unit(conversation, tuple(_question(item, i, conversation, notes) for i, item in enumerate(qa)))


def _question(qa: object, i: int, conversation: Conversation, notes: dict[str, list[str]]) -> Question:
    name = conversation.name
    if not isinstance(qa, dict) or not isinstance(qa.get("question"), str) or qa.get("category") not in CATEGORIES:
        raise InputError(f"Question {i} of LoCoMo sample {name} lacks a `question` or a `category` in 1-5; fix the file.")
    if not isinstance(qa.get("evidence"), list):
        raise InputError(f"Question {i} of LoCoMo sample {name} has no `evidence` list (every LoCoMo question has one, maybe empty); fix the file.")
    session_of = {t.id: t.session for t in conversation.turns}
    evidence = _evidence(qa["evidence"], f"{name} q{i}", [t.id for t in conversation.turns], notes)
    code = qa["category"]
    answer = qa.get("answer")
    return Question(
        key=f"{name}/q{i}",
        unit=name,
        text=qa["question"],
        answer=None if answer is None else str(answer),  # a few answers are bare numbers (years)
        category=CATEGORIES[code],
        evidence=evidence,
        evidence_sessions=tuple(dict.fromkeys(session_of[e] for e in evidence)),
        code=code,
        excluded="adversarial" if code == 5 else None if evidence else "no evidence",
    )


def _evidence(raw_ids: list, where: str, order: list[str], notes: dict[str, list[str]]) -> tuple[str, ...]:
    """Dialogue ids found in each raw id (a range is every turn in it, in conversation order); a raw id
    holding no id at all is unparsed, one naming no real turn is skipped, a repaired one is noted."""
    position = {turn_id: p for p, turn_id in enumerate(order)}
    evidence: list[str] = []
    for raw_id in raw_ids:
        text = str(raw_id).strip()
        spans = [_span(m, position, order) for m in _DIA_ID.finditer(text)]
        if not spans:
            notes["unparsed_evidence"].append(f"{where}: {raw_id!r}")
            continue
        found = [t for span in spans if span for t in span]
        evidence += found
        if not all(spans):
            notes["skipped_evidence"].append(f"{where}: {raw_id!r}")
        elif len(found) > 1 or found[0] != text:
            notes["parsed_evidence"].append(f"{where}: {raw_id!r}")
    return tuple(dict.fromkeys(evidence))


def _span(match: re.Match, position: dict[str, int], order: list[str]) -> list[str]:
    """The turn ids one match names: one id, or every turn from its first to its last; [] if an end is no turn."""
    session, turn, last_session, last_turn = match.groups()
    first = f"D{int(session)}:{int(turn)}"
    if last_turn is None:
        return [first] if first in position else []
    last = f"D{int(last_session or session)}:{int(last_turn)}"
    if first not in position or last not in position:
        return []
    a, b = sorted((position[first], position[last]))
    return order[a : b + 1]
