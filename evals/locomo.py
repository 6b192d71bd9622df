"""The LoCoMo data set: conversations (via memory.formats) and questions with parsed evidence ids."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from hyperloom.errors import InputError
from hyperloom.memory.formats import Conversation, locomo_conversation, read_json

CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}
PUBLISHED_AT = "https://github.com/snap-research/locomo (data/locomo10.json)"
_DIA_ID = re.compile(r"D\d+:\d+")


@dataclass(frozen=True)
class Question:
    conversation: str
    index: int
    text: str
    answer: str | None
    category: int
    evidence: list[str]


@dataclass
class Sample:
    conversation: Conversation
    questions: list[Question]
    parsed_evidence: list[str] = field(default_factory=list)  # malformed but readable, e.g. "D8:6; D9:17"
    skipped_evidence: list[str] = field(default_factory=list)  # names no turn of the conversation


def load_locomo(path: Path) -> list[Sample]:
    """Every sample of a LoCoMo file; evidence ids that name no real turn are skipped and recorded."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path} does not exist; LoCoMo is published at {PUBLISHED_AT}; pass the path to locomo10.json.")
    data = read_json(path)
    if not isinstance(data, list) or not all(isinstance(s, dict) and "conversation" in s for s in data):
        raise InputError(f"{path} is not a LoCoMo file (a list of samples with `conversation` and `qa`); pass locomo10.json or a file in its format.")
    return [_sample(s, i) for i, s in enumerate(data)]


def _sample(raw: dict, index: int) -> Sample:
    conversation = locomo_conversation(raw, index)
    turn_ids = {t.id for t in conversation.turns}
    sample = Sample(conversation, [])
    if not isinstance(raw.get("qa", []), list):
        raise InputError(f"LoCoMo sample {conversation.name} has a `qa` that is not a list; the file is not in the official format.")
    for i, qa in enumerate(raw.get("qa", [])):
        if not isinstance(qa, dict) or not isinstance(qa.get("question"), str) or qa.get("category") not in CATEGORIES:
            raise InputError(f"Question {i} of LoCoMo sample {conversation.name} lacks a `question` or a `category` in 1-5; fix the file.")
        evidence = []
        for raw_id in qa.get("evidence") or []:
            found = _DIA_ID.findall(str(raw_id))
            ok = [e for e in found if e in turn_ids]
            evidence += ok
            if len(ok) < max(len(found), 1):
                sample.skipped_evidence.append(f"{conversation.name} q{i}: {raw_id!r}")
            elif len(found) > 1 or found[0] != raw_id:
                sample.parsed_evidence.append(f"{conversation.name} q{i}: {raw_id!r}")
        answer = qa.get("answer")
        sample.questions.append(Question(conversation.name, i, qa["question"], None if answer is None else str(answer), qa["category"], list(dict.fromkeys(evidence))))
    return sample
