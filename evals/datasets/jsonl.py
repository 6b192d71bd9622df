"""Your own conversations and questions, one JSON object per line (blank lines are ignored).

A `conversation` line holds a conversation in hyperloom's JSON format; its `id`
is the namespace the conversation is remembered in::

    {"type": "conversation", "id": "maya", "sessions": [
        {"id": "s1", "started_at": "2024-05-01 09:30", "turns": [
            {"speaker": "Maya", "text": "We moved to Lisbon last week."},
            {"speaker": "Jonas", "text": "How is the new flat?", "id": "s1:2", "role": "assistant", "time": "2024-05-01 09:31"}]}]}

Sessions take `id` (default `s<N>`), `started_at`, `title` and `turns`; turns take
`speaker` and `text` (required), `id` (default `<session id>:<n>`, n from 1), `role`
and `time`.

A `question` line asks something of one conversation (defined on any line)::

    {"type": "question", "conversation": "maya", "id": "where", "question": "Where does Maya live?",
     "answer": "Lisbon", "category": "single-hop", "evidence": ["s1:1"]}

- `conversation`, `question`: required.
- `evidence`: required unless `abstain` is true: the turn ids that answer the
  question, or character spans `{"turn": "s1:1", "start": 17, "end": 23}` of a
  turn's text (`text[start:end]`) when only part of a turn is the answer. Span
  metrics use the spans; turn and session metrics use the turns they lie in.
- `evidence_sessions`: optional; defaults to the sessions of the evidence turns.
- `abstain`: true when the conversation does not hold the answer (asked in QA
  mode, skipped by retrieval metrics).
- `id` (default `q<N>`, N counting that conversation's questions from 1),
  `answer` (needed to score answers), `category` (default `general`; reports
  group by it), `date` (when the question is asked).
"""

from __future__ import annotations

import json
from pathlib import Path

from hyperloom.errors import InputError
from hyperloom.evals.datasets.base import Dataset, Question, Unit
from hyperloom.memory.formats import Conversation, hyperloom_conversation
from hyperloom.memory.log import validate_turn


def load(path: Path) -> Dataset:
    if not path.exists():
        raise InputError(f"{path} does not exist; write your conversations and questions as JSONL (format: `python -m pydoc hyperloom.evals.datasets.jsonl`) and pass its path.")
    conversations: dict[str, Conversation] = {}
    raw_questions: list[tuple[int, dict]] = []
    for line_no, obj in _lines(path):
        kind = obj.get("type")
        if kind == "conversation":
            _add_conversation(conversations, obj, line_no, path)
        elif kind == "question":
            raw_questions.append((line_no, obj))
        else:
            raise InputError(f"Line {line_no} of {path} has `type` {kind!r}; each line is a `conversation` or a `question`.")
    if not conversations:
        raise InputError(f"{path} defines no conversation; add a line with \"type\": \"conversation\".")
    questions = _questions(raw_questions, conversations, path)
    units = tuple(Unit(c, tuple(q for q in questions if q.unit == name)) for name, c in conversations.items())
    categories = tuple(dict.fromkeys(q.category for q in questions))
    return Dataset("jsonl", path, units, categories, (1, 5, 10, 25), ("turn", "recall"), {})


def _lines(path: Path):
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path} cannot be read as UTF-8 text ({exc}); check the file.") from None
    for line_no, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"Line {line_no} of {path} is not valid JSON ({exc.msg} at column {exc.colno}); fix the line.") from None
        if not isinstance(obj, dict):
            raise InputError(f"Line {line_no} of {path} is not a JSON object; each line is a `conversation` or a `question` object.")
        yield line_no, obj


def _add_conversation(conversations: dict[str, Conversation], obj: dict, line_no: int, path: Path) -> None:
    name = obj.get("id")
    if not isinstance(name, str) or not name or "sessions" not in obj:
        raise InputError(f"Line {line_no} of {path}: a conversation needs an `id` string and a `sessions` list.")
    if name in conversations:
        raise InputError(f"Line {line_no} of {path} defines conversation {name!r} a second time; give each conversation a unique `id`.")
    conversation = hyperloom_conversation({"sessions": obj["sessions"], "name": name}, name)
    for turn in conversation.turns:
        validate_turn(turn)
    ids = [t.id for t in conversation.turns]
    if len(set(ids)) < len(ids):
        raise InputError(f"Line {line_no} of {path}: conversation {name!r} has two turns with id {next(i for i in ids if ids.count(i) > 1)!r}.")
    conversations[name] = conversation


def _questions(raw: list[tuple[int, dict]], conversations: dict[str, Conversation], path: Path) -> list[Question]:
    questions: list[Question] = []
    for line_no, obj in raw:
        where = f"Line {line_no} of {path}"
        conversation = conversations.get(obj.get("conversation"))  # type: ignore[arg-type]
        if conversation is None:
            raise InputError(f"{where}: the question's `conversation` {obj.get('conversation')!r} is not defined in the file.")
        if not isinstance(obj.get("question"), str) or not obj["question"].strip():
            raise InputError(f"{where}: a question needs a non-empty `question` string.")
        n = sum(q.unit == conversation.name for q in questions) + 1
        questions.append(_question(obj, conversation, str(obj.get("id") or f"q{n}"), where))
    keys = [q.key for q in questions]
    if len(set(keys)) < len(keys):
        raise InputError(f"{path} has two questions with the key {next(k for k in keys if keys.count(k) > 1)!r}; give each question of a conversation a unique `id`.")
    return questions


def _question(obj: dict, conversation: Conversation, qid: str, where: str) -> Question:
    texts = {t.id: t.text for t in conversation.turns}
    session_of = {t.id: t.session for t in conversation.turns}
    spans = _evidence(obj.get("evidence", []), texts, where)
    abstain = obj.get("abstain") is True
    if not spans and not abstain:
        raise InputError(f"{where}: the question has no `evidence`; list the turn ids that answer it, or mark it \"abstain\": true.")
    evidence = tuple(dict.fromkeys(t for t, _, _ in spans))
    sessions = obj.get("evidence_sessions") or [session_of[t] for t in evidence]
    if not isinstance(sessions, list) or any(s not in set(session_of.values()) for s in sessions):
        raise InputError(f"{where}: `evidence_sessions` must list session ids of conversation {conversation.name!r}.")
    answer = obj.get("answer")
    explicit = any(isinstance(e, dict) for e in obj.get("evidence", []))
    return Question(
        key=f"{conversation.name}/{qid}",
        unit=conversation.name,
        text=obj["question"],
        answer=None if answer is None else str(answer),
        category=str(obj.get("category") or "general"),
        evidence=evidence,
        evidence_sessions=tuple(dict.fromkeys(str(s) for s in sessions)),
        spans=tuple(spans) if explicit else (),
        excluded="abstention" if abstain else None,
        date=obj.get("date"),
    )


def _evidence(raw: object, texts: dict[str, str], where: str) -> list[tuple[str, int, int]]:
    """(turn id, start, end) for every evidence item; a bare turn id covers the whole turn."""
    if not isinstance(raw, list):
        raise InputError(f"{where}: `evidence` must be a list of turn ids or {{\"turn\", \"start\", \"end\"}} spans.")
    spans = []
    for item in raw:
        if isinstance(item, str) and item in texts:
            spans.append((item, 0, len(texts[item])))
        elif isinstance(item, dict) and item.get("turn") in texts and _valid_span(item, len(texts[item["turn"]])):
            spans.append((item["turn"], item["start"], item["end"]))
        else:
            raise InputError(f"{where}: evidence {item!r} names no turn of the conversation (or a span outside the turn's text).")
    return spans


def _valid_span(item: dict, length: int) -> bool:
    start, end = item.get("start"), item.get("end")
    return isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= length
