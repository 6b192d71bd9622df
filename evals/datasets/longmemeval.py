"""LongMemEval (S / M / oracle files, unchanged): each question is its own unit with its own haystack of sessions.

Turn ids are `<session id>:<n>`, n counting every turn of the session from 1 (the
official code numbers turns the same way, joined with `_`). Turn evidence is the
turns marked `has_answer`, session evidence is `answer_session_ids`. Questions whose
id contains `_abs` are abstention questions: asked in QA mode, never scored for retrieval.

Unlike the official retrieval baseline, which indexes user turns only, hyperloom
remembers both sides of the conversation, so assistant turns are searched too.
"""

from __future__ import annotations

from pathlib import Path

from hyperloom.errors import InputError
from hyperloom.evals.datasets.base import Dataset, Question, Unit
from hyperloom.memory.formats import Conversation, parse_time, read_json
from hyperloom.memory.log import MAX_TURN_CHARS, Session, Turn

PUBLISHED_AT = (
    "https://github.com/xiaowu0162/LongMemEval; the files (longmemeval_s_cleaned.json, longmemeval_m_cleaned.json, "
    "longmemeval_oracle.json) are on https://huggingface.co/datasets/xiaowu0162/longmemeval-cleaned "
    "(first released as xiaowu0162/longmemeval)"
)
TYPES = ("single-session-user", "single-session-assistant", "single-session-preference", "multi-session", "knowledge-update", "temporal-reasoning")
FIELDS = ("question_id", "question_type", "question", "answer", "haystack_session_ids", "haystack_dates", "haystack_sessions", "answer_session_ids")


def load(path: Path) -> Dataset:
    if not path.exists():
        raise InputError(f"{path} does not exist; LongMemEval is published at {PUBLISHED_AT}; download a file yourself and pass its path.")
    data = read_json(path)
    if not isinstance(data, list) or not data or not all(isinstance(q, dict) and "question_id" in q for q in data):
        raise InputError(f"{path} is not a LongMemEval file (a list of questions with `question_id` and `haystack_sessions`); pass longmemeval_s_cleaned.json or a file in its format.")
    notes: dict[str, list[str]] = {"empty_turns": [], "truncated_turns": [], "renamed_sessions": [], "missing_answer_sessions": []}
    units = tuple(_unit(item, i, notes) for i, item in enumerate(data))
    ids = [u.name for u in units]
    if len(set(ids)) < len(ids):
        raise InputError(f"{path} holds the question id {next(i for i in ids if ids.count(i) > 1)!r} twice; the file is not in the official format.")
    seen = {u.questions[0].category for u in units}
    categories = TYPES + tuple(sorted(seen - set(TYPES)))
    return Dataset("longmemeval", path, units, categories, (5, 10, 50), ("session", "recall_any"), notes)


def _unit(item: dict, index: int, notes: dict[str, list[str]]) -> Unit:
    missing = [f for f in FIELDS if f not in item]
    if missing:
        raise InputError(f"Question {index} ({item.get('question_id')}) lacks `{missing[0]}`; the file is not in the official LongMemEval format.")
    qid = str(item["question_id"])
    ids, dates, sessions = item["haystack_session_ids"], item["haystack_dates"], item["haystack_sessions"]
    if not (isinstance(ids, list) and isinstance(dates, list) and isinstance(sessions, list) and len(ids) == len(dates) == len(sessions)):
        raise InputError(f"Question {qid} needs `haystack_session_ids`, `haystack_dates` and `haystack_sessions` lists of one length; fix the file.")
    conversation, evidence = _haystack(qid, ids, dates, sessions, notes)
    return Unit(conversation, (_question(item, qid, conversation, evidence, notes),))


def _question(item: dict, qid: str, conversation: Conversation, evidence: list[str], notes: dict[str, list[str]]) -> Question:
    abstention = "_abs" in qid  # the official evaluation's test
    answer_sessions = item["answer_session_ids"]
    if not isinstance(answer_sessions, list) or (not answer_sessions and not abstention):
        raise InputError(f"Question {qid} has no `answer_session_ids` (only abstention questions, ids with `_abs`, may lack evidence); fix the file.")
    known = {s.id for s in conversation.sessions}
    sessions = tuple(str(s) for s in answer_sessions if str(s) in known)
    notes["missing_answer_sessions"] += [f"{qid}: {s}" for s in answer_sessions if str(s) not in known]
    excluded = "abstention" if abstention else None if sessions else "no evidence"
    return Question(
        key=qid,
        unit=qid,
        text=str(item["question"]),
        answer=str(item["answer"]),
        category=str(item["question_type"]),
        evidence=tuple(evidence),
        evidence_sessions=sessions,
        excluded=excluded,
        date=str(item.get("question_date") or "") or None,
    )


def _haystack(qid: str, ids: list, dates: list, sessions: list, notes: dict[str, list[str]]) -> tuple[Conversation, list[str]]:
    out_sessions, turns, evidence, used = [], [], [], set()
    for raw_id, date, raw_turns in zip(ids, dates, sessions):
        sid = _unique(str(raw_id), used)
        if sid != raw_id:
            notes["renamed_sessions"].append(f"{qid}: {raw_id} -> {sid}")
        if not isinstance(raw_turns, list):
            raise InputError(f"Session {raw_id} of question {qid} is not a list of turns; fix the file.")
        started = parse_time(date) if isinstance(date, str) else None
        out_sessions.append(Session(sid, started, str(date)))
        for n, raw in enumerate(raw_turns, 1):
            turn = _turn(raw, f"{sid}:{n}", sid, started, qid, notes)
            if turn is not None:
                turns.append(turn)
                evidence += [turn.id] if raw.get("has_answer") else []
    return Conversation(qid, out_sessions, turns), evidence


def _turn(raw: object, tid: str, sid: str, started: str | None, qid: str, notes: dict[str, list[str]]) -> Turn | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("role"), str) or not isinstance(raw.get("content"), str):
        raise InputError(f"Turn {tid} of question {qid} needs `role` and `content` strings; fix the file.")
    text = raw["content"]
    if not text.strip():  # the turn log refuses empty turns; the numbering of the others stays put
        notes["empty_turns"].append(f"{qid}: {tid}")
        return None
    if len(text) > MAX_TURN_CHARS:
        notes["truncated_turns"].append(f"{qid}: {tid} ({len(text):,} chars)")
        text = text[:MAX_TURN_CHARS]
    return Turn(tid, text, raw["role"], sid, raw["role"], started)


def _unique(sid: str, used: set[str]) -> str:
    """Session ids must be unique in a namespace; a repeated one gets `#2`, `#3`..."""
    name, n = sid, 1
    while name in used:
        n += 1
        name = f"{sid}#{n}"
    used.add(name)
    return name
