"""Forgetting leaves no trace past one machine: after every forget path, no byte of a forgotten secret (its text,
its vector) is left in the PostgreSQL server's data directory (base/, pg_wal/, everything in it) or in the
Chroma server's files, nor in an embedded Chroma's. Each test has servers of its own, so every hit is its own."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import psycopg
import pytest
from test_cli import run
from test_promises import SECRET, open_agent, remember_secret

from chroma_server import ChromaServer
from hyperloom.config import Config
from hyperloom.memory import db as storage
from hyperloom.memory.log import Turn, TurnLog
from hyperloom.memory.store import MemoryStore
from pg import PostgresServer

PATHS = {"turn": "--turn", "session": "--session", "entity": "--entity", "everything": "--everything"}


def traces(root: Path, vector: bytes) -> dict[str, int]:
    """Files under `root` holding the secret's text, or its vector (byte for byte, or within cosine 0.999 of it:
    Chroma's HNSW re-normalises what it stores), with how many times."""
    found = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        hits = data.count(SECRET.encode()) + data.count(vector) + near_vectors(data, np.frombuffer(vector, dtype=np.float32))
        if hits:
            found[str(path.relative_to(root))] = hits
    return found


def near_vectors(data: bytes, vector: np.ndarray, threshold: float = 0.999) -> int:
    """How many float32 windows of `data`, at any byte alignment, point the way `vector` does (one FFT per alignment)."""
    if len(data) > 64 << 20 or len(data.strip(b"\0")) < 4 * len(vector):
        return 0  # nothing hyperloom wrote is that large; an all-zero file holds nothing
    v, count = vector.astype(np.float64), 0
    for shift in range(4):
        with np.errstate(invalid="ignore", over="ignore"):
            x = np.frombuffer(data[shift : shift + (len(data) - shift) // 4 * 4], dtype=np.float32).astype(np.float64)
            x = np.where(np.isfinite(x) & (np.abs(x) < 4), x, 0.0)  # unit vectors' parts are small; the rest is not a vector
        if len(x) < len(v):
            continue
        size = 1 << (len(x) + len(v)).bit_length()
        dots = np.fft.irfft(np.fft.rfft(x, size) * np.conj(np.fft.rfft(v, size)), size)[: len(x) - len(v) + 1]
        squares = np.concatenate([[0.0], np.cumsum(x * x)])
        norms = np.sqrt(np.maximum(squares[len(v) :] - squares[: -len(v)], 1e-12))
        count += int(np.sum(dots / norms > threshold))
    return count


@pytest.fixture
def servers(tmp_path: Path):
    """A PostgreSQL server and a Chroma server of this test's own, set up as the README asks an operator to."""
    postgres = PostgresServer()
    chroma = ChromaServer(tmp_path / "chroma-server")
    try:
        yield postgres, chroma
    finally:
        chroma.stop()
        postgres.stop()


def postgres_settings(postgres: PostgresServer, chroma: ChromaServer) -> dict[str, str]:
    return {"store": "postgres", "postgres_url": postgres.new_database(), "chroma_url": chroma.url}


def remember_and_ask(home: Path, embedder, **settings: str) -> tuple[list[str], bytes]:
    """Remember the secret, chat and ask about it; the CLI arguments of each forget path, and the vector's bytes."""
    config = Config(home=home, namespace="vault", **settings)
    with open_agent(home, config=config, embedder=embedder) as agent:
        turn_id, vector = remember_secret(agent)
        session = agent.turn(turn_id).session
        agent.chat("What is dana's locker code?")  # an answer that quotes the secret
        agent.ask("What is the locker code?")
        assert any(SECRET in h.text for h in agent.search("locker code", k=5))
    return {"turn": [turn_id], "session": [session], "entity": ["dana"], "everything": []}, vector


def forget(home: Path, how: str, args: dict[str, list[str]], **settings: str) -> None:
    env = {f"HYPERLOOM_{k.upper()}": v for k, v in settings.items()}
    result = run("forget", PATHS[how], *args[how], "--yes", "--home", str(home), "--namespace", "vault", env=env)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("how", list(PATHS))
def test_a_forget_leaves_no_trace_on_the_postgresql_and_chroma_servers(tmp_path: Path, embedder, servers, how: str) -> None:
    postgres, chroma = servers
    settings = postgres_settings(postgres, chroma)
    args, vector = remember_and_ask(tmp_path / "home", embedder, **settings)
    postgres.sql("ANALYZE", settings["postgres_url"].rsplit("/", 1)[1])  # autovacuum samples tables too: pg_statistic must hold none of it
    postgres.sql("CHECKPOINT")  # the server writes its buffers out when it likes: look at what it will have written
    assert SECRET.encode() in b"".join(p.read_bytes() for p in postgres.data.rglob("*") if p.is_file())
    assert traces(chroma.path, vector)  # the grep sees the vector where Chroma keeps it
    forget(tmp_path / "home", how, args, **settings)
    postgres.sql("CHECKPOINT")
    left = {
        "postgres": traces(postgres.data, vector),  # the heap, its indexes, pg_wal, the statistics
        "home": traces(tmp_path / "home", vector),
        "chroma running": {f: n for f, n in traces(chroma.path, vector).items() if f != "chroma.sqlite3"},  # the HNSW files
    }
    chroma.stop()
    chroma.vacuum()  # the operator's step the README asks for: Chroma's SQLite keeps deleted rows in free pages
    left["chroma vacuumed"] = traces(chroma.path, vector)
    assert left == {where: {} for where in left}


@pytest.mark.parametrize("how", list(PATHS))
def test_a_forget_leaves_no_trace_in_an_embedded_chroma(tmp_path: Path, embedder, how: str) -> None:
    home = tmp_path / "home"
    args, vector = remember_and_ask(home, embedder, vector_backend="chroma")
    assert traces(home / "chroma", vector)
    forget(home, how, args, vector_backend="chroma")
    assert traces(home, vector) == {}


def test_a_server_that_would_keep_forgotten_rows_is_one_notice_on_open(tmp_path: Path, embedder, chroma_url: str) -> None:
    postgres = PostgresServer(settings={})  # PostgreSQL's defaults: WAL segments recycled with old records in them
    try:
        url = postgres.new_database()
        database = url.rsplit("/", 1)[1]
        postgres.sql("CREATE ROLE keeper LOGIN PASSWORD 'hyperloom-test'")
        postgres.sql(f"ALTER DATABASE {database} OWNER TO keeper")
        config = Config(home=tmp_path / "home", store="postgres", postgres_url=url.replace("//postgres:", "//keeper:"), chroma_url=chroma_url)
        with MemoryStore(config, embedder=embedder) as store:
            [notice] = store.notices
        assert "wal_recycle" in notice and "pg_checkpoint" in notice and "pg_switch_wal" in notice and "README" in notice
        assert "\n" not in notice and notice.endswith(".")
        postgres.sql("ALTER SYSTEM SET wal_recycle = off")
        postgres.sql("SELECT pg_reload_conf()")
        postgres.sql("GRANT pg_checkpoint TO keeper")
        postgres.sql("GRANT EXECUTE ON FUNCTION pg_switch_wal() TO keeper", database)  # functions are granted per database
        with MemoryStore(config, embedder=embedder) as store:
            assert store.notices == []
            store.remember([Turn("t1", "My locker code is zebra-4711-secret.", "dana")], "vault")
            store.forget("vault", turn="t1")  # a user who is not a superuser can purge too
            assert store.notices == []
        assert SECRET.encode() not in b"".join(p.read_bytes() for p in postgres.data.rglob("*") if p.is_file())
    finally:
        postgres.stop()


@pytest.fixture
def own_postgres():
    """A PostgreSQL server of this test's own: every hit in its files is this test's."""
    postgres = PostgresServer()
    yield postgres
    postgres.stop()


def on_disk(postgres: PostgresServer) -> bool:
    postgres.sql("CHECKPOINT")
    return SECRET.encode() in b"".join(p.read_bytes() for p in postgres.data.rglob("*") if p.is_file())


def test_a_process_waiting_for_the_namespace_keeps_no_forgotten_row_alive(own_postgres: PostgresServer) -> None:
    """The forgetter purges under the namespace's lock; a process queued for that lock must hold no snapshot
    (one blocked in pg_advisory_lock() did, and VACUUM FULL kept the row for it)."""
    url = own_postgres.new_database()
    log = TurnLog(url)
    log.append(Turn("t1", f"My locker code is {SECRET}.", "dana"), "vault")
    holder, waiter, acquired = storage.PgNamespaceLocks(url), storage.PgNamespaceLocks(url), threading.Event()

    def queue_for_the_namespace() -> None:
        with waiter.hold("vault"):
            acquired.set()

    with holder.hold("vault"):
        queued = threading.Thread(target=queue_for_the_namespace)
        queued.start()
        time.sleep(0.3)
        log.forget("vault", turn="t1")
        assert log.db.purge() == [] and not acquired.is_set()
    queued.join(timeout=10)
    assert acquired.is_set() and not on_disk(own_postgres)


def test_a_transaction_older_than_the_forget_delays_the_purge_and_is_said(own_postgres: PostgresServer) -> None:
    url = own_postgres.new_database()
    log = TurnLog(url)
    log.append(Turn("t1", f"My locker code is {SECRET}.", "dana"), "vault")
    reader = psycopg.connect(url)
    reader.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    reader.execute("SELECT 1").fetchone()  # a snapshot in which the turn is alive (and no lock on its table)
    log.forget("vault", turn="t1")
    [notice] = log.db.purge(wait=0.5)
    assert "older than the forget" in notice and "\n" not in notice and notice.endswith(".")
    assert on_disk(own_postgres)  # that transaction may still read it, so PostgreSQL keeps it
    reader.rollback()
    assert log.db.purge() == [] and not on_disk(own_postgres)  # the next purge rewrites the tables again
    reader.close()


def test_a_session_holding_a_table_makes_the_purge_say_so_not_hang(own_postgres: PostgresServer) -> None:
    url = own_postgres.new_database()
    log = TurnLog(url)
    log.append(Turn("t1", f"My locker code is {SECRET}.", "dana"), "vault")
    log.forget("vault", turn="t1")
    holder = psycopg.connect(url)
    holder.execute("LOCK TABLE turns IN ACCESS SHARE MODE")  # what any open transaction that read the table holds
    started = time.monotonic()
    [notice] = log.db.purge(wait=0)
    assert time.monotonic() - started < 10 and "lock timeout" in notice and "tries again" in notice
    holder.rollback()
    holder.close()
    assert log.db.purge() == [] and not on_disk(own_postgres)


def test_a_correction_leaves_no_trace_of_the_words_it_replaced(tmp_path: Path, embedder, own_postgres: PostgresServer, chroma_url: str) -> None:
    config = Config(home=tmp_path / "home", store="postgres", postgres_url=own_postgres.new_database(), chroma_url=chroma_url)
    with MemoryStore(config, embedder=embedder) as store:
        [turn] = store.remember([Turn("t1", f"My locker code is {SECRET}.", "dana")], "vault")
        start = turn.text.index(SECRET)
        store.correct("vault", "t1", start, start + len(SECRET), "1234")
        assert store.notices == [] and store.log.text("t1", "vault") == "My locker code is 1234."
    assert not on_disk(own_postgres)


def test_a_collection_an_older_hyperloom_made_saves_after_every_write_once_opened(chroma_url: str) -> None:
    from hyperloom.retrieval.chroma import SAVE_EVERY, ChromaIndex, chroma_client
    from hyperloom.retrieval.index import safe_name

    client, name = chroma_client(path=None, url=chroma_url), "hl-" + safe_name("old-vault")
    client.get_or_create_collection(name, metadata={"hnsw:space": "cosine"})  # Chroma's default: a save every 1,000 records
    ChromaIndex("old-vault", url=chroma_url)
    assert client.get_collection(name).configuration_json["hnsw"]["sync_threshold"] == SAVE_EVERY
