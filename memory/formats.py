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
    name = str(sample.get("sample_id") or f"sample-{index}")
    conv = sample.get("conversation")
    if not isinstance(conv, dict) or not {"speaker_a", "speaker_b"} <= conv.keys():
        raise InputError(f"LoCoMo sample {name} has no `conversation` with `speaker_a` and `speaker_b`; the file is not in the official format.")
    numbers = sorted(int(m.group(1)) for key in conv if (m := re.fullmatch(r"session_(\d+)", key)))
    if not numbers:
        raise InputError(f"LoCoMo sample {name} has no `session_N` lists; the file is not in the official format.")
    sessions, turns = [], []
    for n in numbers:
        started = conv.get(f"session_{n}_date_time")
        sessions.append(Session(f"session_{n}", parse_time(started), started))
        for j, raw in enumerate(conv[f"session_{n}"]):
            turns.append(_locomo_turn(raw, name, n, j, parse_time(started)))
    return Conversation(name, sessions, turns)


def _locomo_turn(raw: Any, name: str, n: int, j: int, time: str | None) -> Turn:
    if not isinstance(raw, dict) or not isinstance(raw.get("speaker"), str) or not isinstance(raw.get("text", ""), str):
        raise InputError(f"LoCoMo sample {name}, session {n}, turn {j + 1} lacks a `speaker` or a `text` string; fix the file.")
    return Turn(
        id=str(raw.get("dia_id") or f"D{n}:{j + 1}"),
        text=raw.get("text", ""),
        speaker=raw["speaker"],
        session=f"session_{n}",
        created_at=time,
        caption=raw.get("blip_caption"),
    )


def hyperloom_conversation(data: dict, name: str) -> Conversation:
    if not isinstance(data["sessions"], list):
        raise InputError(f"`sessions` in {name} must be a list of sessions; see the README for the format.")
    sessions, turns = [], []
    for n, s in enumerate(data["sessions"], 1):
        if not isinstance(s, dict) or not isinstance(s.get("turns"), list):
            raise InputError(f"Session {n} of {name} needs a `turns` list; see the README for the format.")
        sid = str(s.get("id") or f"s{n}")
        started = parse_time(s.get("started_at"))
        sessions.append(Session(sid, started, s.get("title")))
        for j, raw in enumerate(s["turns"], 1):
            if not isinstance(raw, dict) or not isinstance(raw.get("speaker"), str) or not isinstance(raw.get("text"), str):
                raise InputError(f"Turn {j} of session {sid} in {name} needs `speaker` and `text` strings; fix the file.")
            turns.append(
                Turn(
                    id=str(raw.get("id") or f"{sid}:{j}"),
                    text=raw["text"],
                    speaker=raw["speaker"],
                    session=sid,
                    role=raw.get("role", "user"),
                    created_at=parse_time(raw.get("time")) or started,
                )
            )
    return Conversation(str(data.get("name") or name), sessions, turns)
