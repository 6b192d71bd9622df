"""The turn log is the truth: verbatim, ordered, committed on return, safe across processes and crashes.

Every test runs against both stores (the `log_target` fixture): a SQLite file and a PostgreSQL database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from hyperloom.errors import InputError
from hyperloom.memory.log import MAX_TURN_CHARS, Session, Turn, TurnLog


def test_append_keeps_text_verbatim_and_order(log_target: str) -> None:
    log = TurnLog(log_target)
    text = "  Crème brûlée 🍮\r\nsecond line\t"
    log.append_many([Turn("D1:1", text, "Ada", "s1"), Turn("D1:2", "hi", "Bo", "s1")], "ns", [Session("s1", "2023-05-08T13:56:00", "first")])
    assert log.text("D1:1", "ns") == text
    assert [t.id for t in log.turns("ns")] == ["D1:1", "D1:2"]
    assert [t.position for t in log.turns("ns")] == [0, 1]
    assert log.sessions("ns") == [Session("s1", "2023-05-08T13:56:00", "first")]


def test_append_is_visible_to_another_connection_at_once(log_target: str) -> None:
    writer, reader = TurnLog(log_target), TurnLog(log_target)
    writer.append(Turn("a", "hello", "Ada"), "ns")
    assert reader.text("a", "ns") == "hello"


def test_duplicate_id_rolls_back_the_whole_batch(log_target: str) -> None:
    log = TurnLog(log_target)
    log.append(Turn("a", "one", "Ada"), "ns")
    with pytest.raises(InputError, match="already in namespace"):
        log.append_many([Turn("b", "two", "Ada"), Turn("a", "dup", "Ada")], "ns")
    assert [t.id for t in log.turns("ns")] == ["a"]


@pytest.mark.parametrize(
    "turn, message",
    [
        (Turn("x", "a" * (MAX_TURN_CHARS + 1), "Ada"), "over the limit"),
        (Turn("x", "   ", "Ada"), "is empty"),
        (Turn("x", "bad \udcff byte", "Ada"), "not valid Unicode"),
    ],
)
def test_unstorable_turns_are_refused_and_change_nothing(log_target: str, turn: Turn, message: str) -> None:
    log = TurnLog(log_target)
    with pytest.raises(InputError, match=message):
        log.append_many([Turn("ok", "fine", "Ada"), turn], "ns")
    assert log.count() == 0


def test_forget_session_and_namespace(log_target: str) -> None:
    log = TurnLog(log_target)
    log.append_many([Turn("a", "x", "Ada", "s1"), Turn("b", "y", "Ada", "s2")], "ns")
    log.append(Turn("a", "other", "Ada"), "other")
    assert len(log.forget("ns", session="s1")) == 1
    assert [t.id for t in log.turns("ns")] == ["b"] and [s.id for s in log.sessions("ns")] == ["s2"]
    log.forget("ns")
    assert log.count("ns") == 0 and log.namespaces() == ["other"] and log.text("a", "other") == "other"


WRITER = """
import sys
from hyperloom.memory.log import Turn, TurnLog
log = TurnLog(sys.argv[1])
for i in range(int(sys.argv[3])):
    log.append(Turn(f"{sys.argv[2]}-{i}", f"turn {i} from {sys.argv[2]}", "w"), "ns")
    print(i, flush=True)
"""


def test_sigkill_mid_ingest_loses_no_returned_turn(log_target: str) -> None:
    db = log_target
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(db), "k", "100000"], stdout=subprocess.PIPE, text=True)
    returned = []
    while len(returned) < 300:
        returned.append(int(proc.stdout.readline()))
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    returned += [int(line) for line in proc.stdout.read().split()]  # printed before the kill landed
    log = TurnLog(db)
    assert log.integrity_ok()
    stored = {t.id for t in log.turns("ns")}
    assert {f"k-{i}" for i in returned} <= stored
    assert len(stored) >= len(returned)


def test_two_processes_writing_at_once_do_not_corrupt(log_target: str) -> None:
    db = log_target
    TurnLog(db).close()  # create the schema once, so both writers start on an existing file
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(db), name, "200"], stdout=subprocess.DEVNULL) for name in ("p", "q")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    log = TurnLog(db)
    assert log.integrity_ok()
    turns = log.turns("ns")
    assert len(turns) == 400
    assert sorted(t.position for t in turns) == list(range(400))  # positions stay unique under contention
