"""Conversation files → sessions and turns, validated whole before anything is written.

Two formats are read:
- LoCoMo (`locomo10.json`): a list of samples (or one sample) with `conversation`
  holding `session_N_date_time` and `session_N` turns `{speaker, dia_id, text, blip_caption?}`.
- hyperloom JSON: `{"sessions": [{"id", "started_at"?, "title"?, "turns": [{"speaker", "text", "id"?, "role"?, "time"?}]}]}`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from hyperloom.errors import InputError
from hyperloom.memory.log import Session, Turn, validate_turn

_TIME_FORMATS = ("%I:%M %p on %d %B, %Y", "%I:%M %p on %d %b, %Y", "%d.%m.%Y, %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y/%m/%d (%a) %H:%M")


@dataclass(frozen=True)
class Conversation:
    name: str
    sessions: list[Session]
    turns: list[Turn]


def parse_time(text: str | None) -> str | None:
    """An ISO timestamp for the time formats conversations use; None when absent or unparseable."""
    if not text or not isinstance(text, str):
        return None
    text = text.strip()
    try:
        return datetime.fromisoformat(text).isoformat()
    except ValueError:
        pass
    for fmt in _TIME_FORMATS:
        try:
            return datetime.strptime(text, fmt).isoformat()
        except ValueError:
            continue
    return None


def read_json(path: Path) -> Any:
    """Parsed JSON, or one sentence saying what is wrong with the file."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path} does not exist; check the path.") from None
    except OSError as exc:
        raise InputError(f"{path} cannot be read ({exc.strerror}); check its permissions.") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path} is not valid UTF-8 (byte {raw[exc.start]:#04x} at offset {exc.start}); re-save it as UTF-8.") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path} is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); fix or re-download it.") from None


def load_conversations(path: Path) -> list[Conversation]:
    """Every conversation in a LoCoMo or hyperloom JSON file; raises InputError on any defect."""
    data = read_json(path)
    if isinstance(data, dict) and "sessions" in data:
        conversations = [hyperloom_conversation(data, Path(path).stem)]
    elif isinstance(data, list) and data and all(isinstance(s, dict) and "conversation" in s for s in data):
        conversations = [locomo_conversation(s, i) for i, s in enumerate(data)]
    elif isinstance(data, dict) and "conversation" in data:
        conversations = [locomo_conversation(data, 0)]
    else:
        raise InputError(f"{path} is neither a LoCoMo file nor a hyperloom conversation (a JSON object with `sessions`); see the README for the format.")
    for conversation in conversations:
        for turn in conversation.turns:
            validate_turn(turn)
    return conversations


def locomo_conversation(sample: dict, index: int) -> Conversation:
    if not isinstance(sample, dict):
        raise InputError(f"LoCoMo sample {index + 1} is {_kind(sample)}, not an object; the file is not in the official format.")
    name = _string(sample.get("sample_id"), "sample_id", f"LoCoMo sample {index + 1}") or f"sample-{index}"
    where = f"LoCoMo sample {name}"
    conv = sample.get("conversation")
    if not isinstance(conv, dict) or not {"speaker_a", "speaker_b"} <= conv.keys():
        raise InputError(f"{where} has no `conversation` with `speaker_a` and `speaker_b`; the file is not in the official format.")
    for key in ("speaker_a", "speaker_b"):
        if not _string(conv[key], key, where):
            raise InputError(f"{where}: `{key}` is empty; name the speaker.")
    numbers = sorted(int(m.group(1)) for key in conv if (m := re.fullmatch(r"session_(\d+)", key)))
    if not numbers:
        raise InputError(f"{where} has no `session_N` lists; the file is not in the official format.")
    sessions, turns = [], []
    for n in numbers:
        at = f"{where}, session {n}"
        raw_turns = conv[f"session_{n}"]
        if not isinstance(raw_turns, list):
            raise InputError(f"{at}: `session_{n}` must be a list of turns, not {_kind(raw_turns)}; fix the file.")
        label = _string(conv.get(f"session_{n}_date_time"), f"session_{n}_date_time", at)
        started = _time(label, f"session_{n}_date_time", at)
        sessions.append(Session(f"session_{n}", started, label))
        for j, raw in enumerate(raw_turns):
            turns.append(_locomo_turn(raw, f"{at}, turn {j + 1}", n, j, started))
    return Conversation(name, sessions, turns)


def _locomo_turn(raw: Any, where: str, n: int, j: int, time: str | None) -> Turn:
    if not isinstance(raw, dict) or not isinstance(raw.get("speaker"), str) or not isinstance(raw.get("text", ""), str):
        raise InputError(f"{where} lacks a `speaker` or a `text` string; fix the file.")
    return Turn(
        id=_string(raw.get("dia_id"), "dia_id", where) or f"D{n}:{j + 1}",
        text=raw.get("text", ""),
        speaker=raw["speaker"],
        session=f"session_{n}",
        created_at=time,
        caption=_string(raw.get("blip_caption"), "blip_caption", where),
    )


def hyperloom_conversation(data: dict, name: str) -> Conversation:
    name = _string(data.get("name"), "name", f"Conversation {name}") or name
    if not isinstance(data["sessions"], list):
        raise InputError(f"`sessions` in {name} must be a list of sessions; see the README for the format.")
    sessions, turns = [], []
    for n, s in enumerate(data["sessions"], 1):
        where = f"Conversation {name}, session {n}"
        if not isinstance(s, dict) or not isinstance(s.get("turns"), list):
            raise InputError(f"{where} needs a `turns` list; see the README for the format.")
        sid = _string(s.get("id"), "id", where) or f"s{n}"
        where = f"Conversation {name}, session {sid}"
        started = _time(s.get("started_at"), "started_at", where)
        sessions.append(Session(sid, started, _string(s.get("title"), "title", where)))
        for j, raw in enumerate(s["turns"], 1):
            turns.append(_hyperloom_turn(raw, f"{where}, turn {j}", sid, j, started))
    return Conversation(name, sessions, turns)


def _hyperloom_turn(raw: Any, where: str, sid: str, j: int, started: str | None) -> Turn:
    if not isinstance(raw, dict) or not isinstance(raw.get("speaker"), str) or not isinstance(raw.get("text"), str):
        raise InputError(f"{where} needs `speaker` and `text` strings; fix the file.")
    return Turn(
        id=_string(raw.get("id"), "id", where) or f"{sid}:{j}",
        text=raw["text"],
        speaker=raw["speaker"],
        session=sid,
        role=_string(raw.get("role"), "role", where) or "user",
        created_at=_time(raw.get("time"), "time", where) or started,
    )


def _string(value: Any, field: str, where: str) -> str | None:
    """An optional string field: None when absent, InputError naming the place when of another type."""
    if value is None or isinstance(value, str):
        return value
    raise InputError(f"{where}: `{field}` must be a string, not {_kind(value)}; fix the file.")


def _time(value: Any, field: str, where: str) -> str | None:
    """An optional date field as ISO: None when absent or blank, InputError when not a date (parse_time alone would drop it silently)."""
    if not (text := _string(value, field, where)) or not text.strip():
        return None
    if iso := parse_time(text):
        return iso
    raise InputError(f"{where}: `{field}` {text[:40]!r} is not a date hyperloom reads (ISO 8601 such as 2024-05-01 09:30, or 1:56 pm on 8 May, 2023); fix the file.")


def _kind(value: Any) -> str:
    """A JSON type's name, as a person who wrote the file would call it."""
    names = {dict: "an object", list: "a list", str: "a string", bool: "true/false", int: "a number", float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)
