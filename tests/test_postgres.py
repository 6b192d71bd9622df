"""store = "postgres": what goes wrong is one sentence (exit 1 from the CLI) and changes nothing; a connection
lost mid-write keeps nothing of the write; schema versions; writers on several processes share one order."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import free_port
from hyperloom.config import Config
from hyperloom.errors import BackendUnavailable, ConfigError, HyperloomError, InputError, StorageError
from hyperloom.memory import db as storage
from hyperloom.memory.log import Turn, TurnLog
from hyperloom.samples import sample_path

HYPERLOOM = str(Path(sys.executable).parent / "hyperloom")


def one_sentence(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text and text.endswith(".") and "Traceback" not in text
    return text


@pytest.mark.parametrize(
    "url, error, fragment",
    [
        ("postgresql://u:p@127.0.0.1:notaport/db", StorageError, "not valid"),
        ("postgresql://u:p@127.0.0.1:{free}/db", BackendUnavailable, "start the server"),
    ],
)
def test_a_wrong_url_or_a_server_that_is_down_is_one_sentence(url: str, error: type, fragment: str) -> None:
    with pytest.raises(error) as exc:
        TurnLog(url.format(free=free_port()))
    assert fragment in one_sentence(exc)


def test_a_refused_password_is_one_sentence_that_never_shows_it(postgres, pg_url: str) -> None:
    wrong = pg_url.replace(":hyperloom-test@", ":not-the-password@")
    with pytest.raises(StorageError, match="refused the password") as exc:
        TurnLog(wrong)
    assert "not-the-password" not in one_sentence(exc)


def test_a_missing_database_is_one_sentence(postgres) -> None:
    with pytest.raises(StorageError, match="no such database") as exc:
        TurnLog(postgres.url("nowhere"))
    one_sentence(exc)


def test_a_read_only_database_is_one_sentence_and_keeps_what_it_has(postgres, pg_url: str) -> None:
    TurnLog(pg_url).append(Turn("a", "kept", "Ada"), "ns")
    database = pg_url.rsplit("/", 1)[1]
    postgres.sql(f"ALTER DATABASE {database} SET default_transaction_read_only = on")
    with pytest.raises(StorageError, match="does not let hyperloom write") as exc:
        TurnLog(pg_url)
    one_sentence(exc)
    postgres.sql(f"ALTER DATABASE {database} SET default_transaction_read_only = off")
    assert [t.text for t in TurnLog(pg_url).turns("ns")] == ["kept"]


def test_a_schema_from_a_newer_hyperloom_is_refused_and_left_alone(postgres, pg_url: str) -> None:
    TurnLog(pg_url).append(Turn("a", "kept", "Ada"), "ns")
    database = pg_url.rsplit("/", 1)[1]
    postgres.sql(f"UPDATE schema_version SET version = {storage.SCHEMA_VERSION + 1}", database)
    with pytest.raises(StorageError, match="newer hyperloom") as exc:
        TurnLog(pg_url)
    one_sentence(exc)
    assert postgres.sql("SELECT version FROM schema_version", database) == [(storage.SCHEMA_VERSION + 1,)]
    assert postgres.sql("SELECT text FROM turns", database) == [("kept",)]


def test_a_sqlite_file_from_a_newer_hyperloom_is_refused(tmp_path: Path) -> None:
    TurnLog(tmp_path / "t.db").close()
    import sqlite3

    with sqlite3.connect(tmp_path / "t.db") as raw:
        raw.execute("UPDATE schema_version SET version = 99")
    with pytest.raises(StorageError, match="schema version 99"):
        TurnLog(tmp_path / "t.db")


def test_postgres_mode_needs_its_urls() -> None:
    with pytest.raises(ConfigError, match="needs `postgres_url`"):
        Config.load(store="postgres")
    with pytest.raises(ConfigError, match="needs `chroma_url`"):
        Config.load(store="postgres", postgres_url="postgresql://u@127.0.0.1/db")
    assert Config.load(store="postgres", postgres_url="postgresql://u@127.0.0.1/db", chroma_url="http://127.0.0.1:1").vector_backend == "chroma"


def backend_pid(log: TurnLog) -> int:
    return log.db.execute("SELECT pg_backend_pid()").fetchone()[0]


def test_a_connection_lost_mid_write_keeps_nothing_of_it(postgres, pg_url: str) -> None:
    log = TurnLog(pg_url)
    log.append(Turn("before", "kept", "Ada"), "ns")
    with pytest.raises(StorageError, match="Lost the connection") as exc:
        with log.transaction() as db:
            log._insert(db, Turn("x1", "half", "Ada"), "ns")
            log._insert(db, Turn("x2", "of a batch", "Ada"), "ns")
            postgres.sql(f"SELECT pg_terminate_backend({backend_pid(log)})")
            log._insert(db, Turn("x3", "never", "Ada"), "ns")
    one_sentence(exc)
    assert [t.id for t in log.turns("ns")] == ["before"]  # the same object reconnects between transactions
    log.append(Turn("after", "works again", "Ada"), "ns")
    assert [t.position for t in log.turns("ns")] == [0, 1]


def test_an_append_whose_connection_dies_while_it_waits_keeps_nothing(postgres, pg_url: str) -> None:
    """A batch queued behind another writer (the namespace's `changes` row) loses its connection: none of it is kept."""
    log, other = TurnLog(pg_url), TurnLog(pg_url)
    log.append(Turn("a", "first", "Ada"), "ns")
    errors: list[Exception] = []
    with other.transaction() as db:
        other._bump(db, "ns")  # holds the namespace's row until this block ends
        waiting = threading.Thread(target=lambda: _append(log, errors))
        waiting.start()
        time.sleep(0.5)
        postgres.sql(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> {backend_pid(other)} AND state = 'active' AND query LIKE 'INSERT INTO changes%'")
        waiting.join(30)
    assert len(errors) == 1 and isinstance(errors[0], StorageError)
    assert [t.id for t in other.turns("ns")] == ["a"]


def _append(log: TurnLog, errors: list[Exception]) -> None:
    try:
        log.append_many([Turn("b", "second", "Bo"), Turn("c", "third", "Bo")], "ns")
    except HyperloomError as exc:
        errors.append(exc)


def test_a_restarted_server_is_reconnected_between_writes(postgres, pg_url: str) -> None:
    log = TurnLog(pg_url)
    log.append(Turn("a", "before the restart", "Ada"), "ns")
    postgres.restart()
    log.append(Turn("b", "after it", "Ada"), "ns")
    assert [t.id for t in log.turns("ns")] == ["a", "b"]


def run_cli(*args: str, home: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    full = {**os.environ, "COLUMNS": "200", "HYPERLOOM_HOME": str(home), **env}
    return subprocess.run([HYPERLOOM, *args], capture_output=True, text=True, env=full, timeout=300)


@pytest.mark.parametrize("case", ["bad-url", "down", "password", "no-chroma"])
def test_the_cli_says_one_sentence_and_exits_1(postgres, pg_url: str, tmp_path: Path, case: str) -> None:
    url = {
        "bad-url": "postgresql://u:p@127.0.0.1:notaport/db",
        "down": f"postgresql://u:p@127.0.0.1:{free_port()}/db",
        "password": pg_url.replace(":hyperloom-test@", ":wrong@"),
        "no-chroma": pg_url,
    }[case]
    env = {"HYPERLOOM_STORE": "postgres", "HYPERLOOM_POSTGRES_URL": url}
    if case != "no-chroma":
        env["HYPERLOOM_CHROMA_URL"] = f"http://127.0.0.1:{free_port()}"
    result = run_cli("ingest", str(sample_path()), home=tmp_path, env=env)
    assert result.returncode == 1, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "wrong" not in lines[0] and ":p@" not in lines[0]


WRITER = """
import sys
from hyperloom.memory.log import Turn, TurnLog
log = TurnLog(sys.argv[1])
for i in range(int(sys.argv[3])):
    log.append_many([Turn(f"{sys.argv[2]}-{i}-{j}", f"turn {i}.{j} from {sys.argv[2]}", "w", session=sys.argv[2]) for j in range(3)], "ns")
"""


def test_four_writers_keep_one_gapless_order_per_namespace(pg_url: str) -> None:
    TurnLog(pg_url).close()
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, pg_url, name, "100"]) for name in "pqrs"]
    assert [p.wait(timeout=300) for p in procs] == [0, 0, 0, 0]
    turns = TurnLog(pg_url).turns("ns")
    assert sorted(t.position for t in turns) == list(range(1200))
    for name in "pqrs":  # each writer's batches stay whole and in its order
        assert [t.id for t in turns if t.session == name] == [f"{name}-{i}-{j}" for i in range(100) for j in range(3)]


def test_migrate_copies_a_sqlite_memory_and_verifies_it(tmp_path: Path, pg_url: str, chroma_url: str, embedder) -> None:
    from hyperloom.memory.store import MemoryStore

    home = tmp_path / "home"
    with MemoryStore(Config(home=home), embedder=embedder) as old:
        old.ingest(sample_path(), "demo")
        old.forget("demo", session="s4")  # a gap in the seqs: the copy keeps the same ids
        before = [(h.turn_id, h.seq) for h in old.search("When did Jonas run his first 10k race?", 3, "demo")]
        counts = old.counts("demo")
    result = run_cli("migrate", "--from", f"sqlite:{home}", "--to", pg_url, "--chroma-url", chroma_url, home=tmp_path / "unused", env={})
    assert result.returncode == 0, result.stderr
    assert "every table counts the same rows" in result.stdout
    config = Config(home=tmp_path / "other", store="postgres", postgres_url=pg_url, chroma_url=chroma_url)
    with MemoryStore(config, embedder=embedder) as new:
        assert new.counts("demo") == counts
        assert [(h.turn_id, h.seq) for h in new.search("When did Jonas run his first 10k race?", 3, "demo")][:1] == before[:1]
        turn = new.remember([Turn("new", "A turn written after the move.", "Maya")], "demo")[0]
        assert turn.seq > max(t.seq for t in new.log.turns("demo") if t.id != "new")  # ids go on, never reused
    again = run_cli("migrate", "--from", f"sqlite:{home}", "--to", pg_url, "--chroma-url", chroma_url, home=tmp_path / "unused", env={})
    assert again.returncode == 1 and "already holds a memory" in again.stderr


def test_sigkill_of_two_writers_on_two_machines_loses_no_returned_turn(tmp_path: Path, pg_url: str, chroma_url: str) -> None:
    """Two structured writers with data directories of their own (two machines) share one PostgreSQL database and
    one Chroma server; kill -9 of both mid-write: every returned turn is in the log, and a third process on a
    third directory brings the shared indexes up to the log with no error."""
    import signal

    from hyperloom import Agent
    from test_concurrency import AGENT_WRITER

    env = {**os.environ, "HYPERLOOM_STORE": "postgres", "HYPERLOOM_POSTGRES_URL": pg_url, "HYPERLOOM_CHROMA_URL": chroma_url}
    procs = {name: subprocess.Popen([sys.executable, "-c", AGENT_WRITER, str(tmp_path / name), name, "100000"], stdout=subprocess.PIPE, text=True, env=env) for name in ("ada", "bo")}
    returned = {name: [int(p.stdout.readline()) for _ in range(15)] for name, p in procs.items()}
    for name, p in procs.items():
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        returned[name] += [int(line) for line in p.stdout.read().split()]
    config = {"store": "postgres", "postgres_url": pg_url, "chroma_url": chroma_url}
    with Agent.open(tmp_path / "third", "shared", model="none", memory="structured", **config) as agent:
        turns = agent.turns()
        assert {f"Note {i} from {name} about the lantern by the orchard." for name, got in returned.items() for i in got} <= {t.text for t in turns}
        assert sorted(t.position for t in turns) == list(range(len(turns)))
        assert agent.search("lantern orchard", k=3)  # reconciled with no error
        assert agent.store.vectors("shared").ids() == {t.seq for t in turns}
        assert {f.id for f in agent.facts()} == agent.store.vectors("shared", "facts").ids()


def test_a_nul_character_postgres_cannot_store_is_one_sentence(pg_url: str) -> None:
    log = TurnLog(pg_url)
    with pytest.raises(InputError, match="NUL character") as exc:
        log.append_many([Turn("ok", "fine", "Ada"), Turn("x", "bad\x00byte", "Ada")], "ns")
    one_sentence(exc)
    assert log.count() == 0


def test_writers_a_reader_and_a_forgetter_sharing_postgres_lose_resurrect_and_misread_nothing(tmp_path: Path, pg_url: str, chroma_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """benchmarks/concurrency.py's four processes (two writers, a reader searching throughout, a forgetter), on PostgreSQL."""
    from hyperloom.benchmarks.concurrency import one_run

    for name, value in (("STORE", "postgres"), ("POSTGRES_URL", pg_url), ("CHROMA_URL", chroma_url)):
        monkeypatch.setenv(f"HYPERLOOM_{name}", value)  # the spawned processes read their settings from the environment
    result = one_run(40, tmp_path, timeout=240)
    assert result["errors"] == []
    assert (result["lost"], result["resurrected"], result["index_differs"], result["stale_hits"]) == (0, 0, 0, 0)
    assert result["forgotten"] == 4 and result["searches"] > 0
