"""Wrong types and dates in conversation files: one InputError sentence naming the place, never a traceback later."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest

from conftest import locomo_sample
from hyperloom.errors import InputError
from hyperloom.memory.formats import load_conversations

HYPERLOOM = {
    "name": "maya",
    "sessions": [
        {"id": "s1", "started_at": "2024-05-01 09:30", "title": "Moving", "turns": [
            {"id": "s1:1", "speaker": "Maya", "text": "We moved to Lisbon last week.", "time": "2024-05-01 09:31"},
            {"speaker": "Jonas", "text": "How is the new flat?", "role": "assistant"},
        ]},
    ],
}


def load(tmp_path: Path, data) -> list:
    path = tmp_path / "conversation.json"
    path.write_text(json.dumps(data))
    return load_conversations(path)


def refused(tmp_path: Path, data) -> str:
    with pytest.raises(InputError) as caught:
        load(tmp_path, data)
    message = str(caught.value)
    assert "\n" not in message and message.endswith(".") and not re.search(r"[.!?]\s+\S", message), message  # one sentence
    return message


def hyperloom_with(path: tuple, value) -> dict:
    data = copy.deepcopy(HYPERLOOM)
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data


def locomo_with(path: tuple, value) -> dict:
    data = locomo_sample()
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data


def test_the_well_formed_files_still_load(tmp_path: Path) -> None:
    (maya,) = load(tmp_path, HYPERLOOM)
    assert [t.role for t in maya.turns] == ["user", "assistant"] and maya.sessions[0].title == "Moving"
    (ada,) = load(tmp_path, [locomo_sample()])
    assert ada.turns[2].caption.startswith("a photo") and ada.sessions[0].started_at == "2023-05-08T13:56:00"


@pytest.mark.parametrize(
    ("where", "value", "said"),
    [
        (("sessions", 0, "title"), {"text": "Moving"}, "Conversation maya, session s1: `title` must be a string, not an object"),
        (("sessions", 0, "turns", 1, "role"), ["assistant"], "Conversation maya, session s1, turn 2: `role` must be a string, not a list"),
        (("sessions", 0, "turns", 0, "time"), 1714555860, "Conversation maya, session s1, turn 1: `time` must be a string, not a number"),
        (("sessions", 0, "turns", 0, "time"), "next tuesday-ish", "Conversation maya, session s1, turn 1: `time` 'next tuesday-ish' is not a date"),
        (("sessions", 0, "started_at"), "2024-13-45", "Conversation maya, session s1: `started_at` '2024-13-45' is not a date"),
        (("sessions", 0, "id"), 1, "Conversation maya, session 1: `id` must be a string, not a number"),
        (("sessions", 0, "turns", 0, "id"), {"n": 1}, "Conversation maya, session s1, turn 1: `id` must be a string, not an object"),
        (("sessions", 0, "turns", 0, "speaker"), ["Maya"], "Conversation maya, session s1, turn 1 needs `speaker` and `text` strings"),
        (("name",), ["maya"], "Conversation conversation: `name` must be a string, not a list"),
    ],
)
def test_wrong_hyperloom_fields_are_refused(tmp_path: Path, where: tuple, value, said: str) -> None:
    assert refused(tmp_path, hyperloom_with(where, value)).startswith(said)


@pytest.mark.parametrize(
    ("where", "value", "said"),
    [
        (("conversation", "session_1", 2, "blip_caption"), 42, "LoCoMo sample conv-t, session 1, turn 3: `blip_caption` must be a string, not a number"),
        (("conversation", "session_1", 0, "speaker"), 7, "LoCoMo sample conv-t, session 1, turn 1 lacks a `speaker` or a `text` string"),
        (("conversation", "session_2", 1, "dia_id"), ["D2:2"], "LoCoMo sample conv-t, session 2, turn 2: `dia_id` must be a string, not a list"),
        (("conversation", "session_2_date_time"), "the day after", "LoCoMo sample conv-t, session 2: `session_2_date_time` 'the day after' is not a date"),
        (("conversation", "session_2_date_time"), 20230620, "LoCoMo sample conv-t, session 2: `session_2_date_time` must be a string, not a number"),
        (("conversation", "session_2"), {"speaker": "Bo"}, "LoCoMo sample conv-t, session 2: `session_2` must be a list of turns, not an object"),
        (("conversation", "session_2"), 3, "LoCoMo sample conv-t, session 2: `session_2` must be a list of turns, not a number"),
        (("conversation", "speaker_a"), {"name": "Ada"}, "LoCoMo sample conv-t: `speaker_a` must be a string, not an object"),
        (("sample_id",), 26, "LoCoMo sample 1: `sample_id` must be a string, not a number"),
    ],
)
def test_wrong_locomo_fields_are_refused(tmp_path: Path, where: tuple, value, said: str) -> None:
    assert refused(tmp_path, [locomo_with(where, value)]).startswith(said)
