"""The storage seam: one schema and one set of statements for SQLite (embedded) and PostgreSQL (shared).

The statements are written once, in the subset of SQL both accept (`ON CONFLICT` upserts,
`?` placeholders, `"end"` quoted). What differs is kept here and nowhere else:
- PostgreSQL's driver wants `%s` placeholders and refuses an empty `IN ()`, so each
  statement is rewritten once (cached) before it is sent;
- the schema is written in SQLite's types; PostgreSQL gets 64-bit integers, identity
  columns for AUTOINCREMENT, DOUBLE PRECISION for REAL and BYTEA for BLOB;
- a new row's id comes from `lastrowid` in SQLite and from `RETURNING` in PostgreSQL (`insert`);
- a write transaction is `BEGIN IMMEDIATE` in SQLite and `BEGIN` in PostgreSQL, where
  writers of one namespace queue on its `changes` row instead (see TurnLog._bump).
Schema versions are recorded in `schema_version` and migrated on open (`migrate`).

Forgetting in PostgreSQL (`PgDb.purge`): a DELETE leaves the row's bytes in its page, and a plain VACUUM
leaves them in the page's free space and in index pages (measured: `grep` still finds them), so every
table a forget touched is rewritten (`VACUUM FULL`), then the WAL segment is ended and a CHECKPOINT lets
the server remove the segments that recorded the rows. That needs the server settings `forgetting_unmet`
checks on open (README, "PostgreSQL").
"""

from __future__ import annotations

import functools
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from hyperloom.errors import BackendUnavailable, StorageError

SCHEMA_VERSION = 2  # what this code reads and writes; a database with a higher one is refused
POSTGRES_URL = re.compile(r"postgres(?:ql)?://", re.IGNORECASE)
_NOW_SQLITE = "(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))"
_NOW_POSTGRES = """(to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))"""
_IDLE = 0  # psycopg.pq.TransactionStatus.IDLE
_SCHEMA_LOCK = 0x68796C6F6F6D  # PostgreSQL advisory lock held while creating or migrating tables ("hyloom")
LOCK_WAIT = "2s"  # how long a purge's rewrite waits for a table another session holds, before it says so
_OLD_ROWS = re.compile(r"^\s*(?:DELETE\s+FROM|UPDATE|INSERT\s+INTO)\s+(\w+)", re.IGNORECASE)
# Text columns that hold what people said: PostgreSQL's statistics never sample them (ANALYZE would copy some
# values into pg_statistic, where no forget reaches). The rest (namespace, ids, kinds, times) keep theirs.
_SAID = {
    "sessions": ("title",), "turns": ("text", "caption"), "facts": ("text", "attribute", "value"),
    "scenes": ("summary",), "reflections": ("note",), "entities": ("name",), "aliases": ("alias",),
    "points": ("description",), "fact_classes": ("word",),
}


def is_postgres(target: str) -> bool:
    return bool(POSTGRES_URL.match(target))


class SqliteDb(sqlite3.Connection):
    """sqlite3's connection, plus the few methods the PostgreSQL side needs too."""

    dialect = "sqlite"
    BEGIN = "BEGIN IMMEDIATE"

    def insert(self, sql: str, args: Sequence[Any] = (), key: str = "id") -> int:
        """Run an INSERT of one row; returns the new row's `key`."""
        return self.execute(sql, args).lastrowid

    def purge(self) -> list[str]:
        """Nothing: the log's `purge` checkpoints SQLite's WAL, and secure_delete overwrote the rows."""
        return []

    def forgetting_unmet(self) -> list[str]:
        return []

    def executescript(self, script: str) -> sqlite3.Cursor:
        return super().executescript(render(script, "sqlite"))


class PgDb:
    """A psycopg 3 connection speaking the statements written for SQLite (autocommit, explicit BEGIN as there)."""

    dialect = "postgres"
    BEGIN = "BEGIN"

    def __init__(self, url: str):
        try:
            import psycopg
        except ImportError:
            raise StorageError("store = \"postgres\" needs the PostgreSQL driver; install it with `pip install 'hyperloom[postgres]'`.") from None

        self.url = url
        self.Error, self.IntegrityError, self.OperationalError = psycopg.Error, psycopg.IntegrityError, psycopg.OperationalError
        self._conn = pg_connect(url)
        self._touched: set[str] = set()  # tables holding old row versions since the last purge

    def execute(self, sql: str, args: Sequence[Any] = (), *, retry: bool = True):
        if table := _leaves_old_rows(sql):
            self._touched.add(table)
        if sql == "ROLLBACK" and self._conn.broken:
            return None  # the server already rolled back when the connection went
        self._reconnect_if_lost()
        idle = self._conn.info.transaction_status == _IDLE  # outside a transaction: nothing can be half-done
        try:
            return self._conn.execute(_pg_sql(sql), args)
        except self.IntegrityError:
            raise  # the caller names the turn or row that broke a constraint
        except self.Error as exc:
            if not (retry and idle and self._conn.broken):
                raise self._failed(exc) from None
        # The server went away since the last statement (a restart, a failover): once more, on a new connection.
        return self.execute(sql, args, retry=False)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]):
        rows = list(rows)
        if not rows:
            return None
        if table := _leaves_old_rows(sql):
            self._touched.add(table)
        try:
            with self._conn.cursor() as cur:
                cur.executemany(_pg_sql(sql), rows)
        except self.IntegrityError:
            raise
        except self.Error as exc:
            raise self._failed(exc) from None

    def executescript(self, script: str) -> None:
        """DDL in one transaction, one process at a time (concurrent CREATE ... IF NOT EXISTS can collide)."""
        self._reconnect_if_lost()
        try:
            with self._conn.transaction():
                self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                self._conn.execute(render(script, "postgres").encode())  # bytes: no placeholders are parsed
                self._unsample(re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", script))
        except self.Error as exc:
            raise self._failed(exc) from None

    def _unsample(self, tables: list[str]) -> None:
        """Statistics off for the text columns of `tables` that hold what was said, and what was sampled dropped:
        once per database (an ALTER locks the table), so only where it is not so yet."""
        wanted = [(t, c) for t in tables for c in _SAID.get(t, ())]
        if not wanted:
            return
        rows = self._conn.execute(
            "SELECT c.relname, a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
            " WHERE c.relnamespace = current_schema()::regnamespace AND (c.relname, a.attname) IN (SELECT * FROM unnest(%s::text[], %s::text[]))"
            " AND a.attstattarget <> 0",
            ([t for t, _ in wanted], [c for _, c in wanted]),
        ).fetchall()
        for table, column in rows:  # TYPE text again drops the column's sampled values from pg_statistic
            self._conn.execute(f'ALTER TABLE "{table}" ALTER COLUMN "{column}" SET STATISTICS 0, ALTER COLUMN "{column}" TYPE text')

    def purge(self, wait: float = 10.0) -> list[str]:
        """After a forget or a correction: leave no byte of the old rows on the server. Rewrites every table that
        holds old row versions since the last purge (and those its foreign keys cascaded into), ends the WAL
        segment and checkpoints, so the server removes the segments that recorded them. Returns notices (what
        could not be done, and why); the forget itself has already committed.

        A rewrite keeps the rows a transaction older than the forget may still see, so it first waits (up to
        `wait` seconds) for those to end; tables it had to leave so are rewritten again at the next purge."""
        if not self._touched or self._conn.info.transaction_status != _IDLE:
            return []  # inside a transaction VACUUM cannot run: the outermost write purges
        try:
            older = self._wait_for_older_snapshots(wait)
            tables = self._cascaded(self._touched)
            # A session holding one of the tables would block the rewrite, and every reader queued behind it: bounded.
            self._conn.execute(f"SET lock_timeout = '{LOCK_WAIT}'")
            try:
                self._conn.execute("VACUUM (FULL) " + ", ".join(f'"{t}"' for t in sorted(tables)))
            finally:
                self._conn.execute("RESET lock_timeout")
            if not older:
                self._touched.clear()
            self._conn.execute("SELECT pg_switch_wal()")
            self._conn.execute("CHECKPOINT")
        except self.Error as exc:
            return [f"Forgotten, but PostgreSQL at {describe(self.url)} keeps the old rows' bytes until a purge succeeds ({_first_line(exc)}); the next forget or correction tries again (README, PostgreSQL)."]
        if older:
            return [f"Forgotten, but {older} transaction(s) older than the forget were still open on PostgreSQL at {describe(self.url)}, which keeps the rows they may see; the next forget or correction rewrites those tables again."]
        return []

    def _wait_for_older_snapshots(self, wait: float) -> int:
        """How many sessions of this database still hold a snapshot taken before now, after waiting up to `wait` s."""
        started = self._conn.execute("SELECT clock_timestamp()").fetchone()[0]
        deadline = time.monotonic() + wait
        while True:
            older = self._conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
                " AND backend_type = 'client backend'"  # a (auto)vacuum's own snapshot does not hold rows back
                " AND backend_xmin IS NOT NULL AND coalesce(xact_start, query_start) < %s",
                (started,),
            ).fetchone()[0]
            if not older or time.monotonic() > deadline:
                return older
            time.sleep(0.02)

    def _cascaded(self, tables: set[str]) -> set[str]:
        """`tables` and every table an ON DELETE CASCADE reaches from them."""
        rows = self._conn.execute(
            "SELECT confrelid::regclass::text, conrelid::regclass::text FROM pg_constraint"
            " WHERE contype = 'f' AND confdeltype = 'c' AND connamespace = current_schema()::regnamespace"
        ).fetchall()
        found, grew = set(tables), True
        while grew:
            more = {child.strip('"') for parent, child in rows if parent.strip('"') in found}
            grew = bool(more - found)
            found |= more
        return found

    def forgetting_unmet(self) -> list[str]:
        """One notice when the server would keep forgotten rows on disk (README, "PostgreSQL"); none when it is set up."""
        try:
            unmet = [why for why, bad in self._conn.execute(_FORGETTING_CHECKS).fetchall() if bad]
        except self.Error:
            return []  # a server that cannot say: the purge itself will say what it could not do
        if not unmet:
            return []
        return [f"PostgreSQL at {describe(self.url)} keeps forgotten text on disk ({'; '.join(unmet)}); set it up as the README's PostgreSQL section says."]

    def insert(self, sql: str, args: Sequence[Any] = (), key: str = "id") -> int:
        return self.execute(f"{sql} RETURNING {key}", args).fetchone()[0]

    def close(self) -> None:
        self._conn.close()

    def _failed(self, exc: Exception) -> StorageError:
        """One sentence for a statement PostgreSQL refused or could not finish."""
        if self._conn.broken or self._conn.closed:
            return lost(self.url, exc)
        if getattr(exc, "sqlstate", None) in ("25006", "42501"):  # read-only transaction, insufficient privilege
            return StorageError(f"The PostgreSQL database {describe(self.url)} does not let hyperloom write ({_first_line(exc)}); grant the user write access or use another database.")
        return StorageError(f"PostgreSQL at {describe(self.url)} refused a statement ({_first_line(exc)}); nothing of that write was kept.")

    def _reconnect_if_lost(self) -> None:
        """A long-lived process outlives a server restart: between transactions, a lost connection is made again."""
        if self._conn.broken or self._conn.closed:
            self._conn = pg_connect(self.url)


_FORGETTING_CHECKS = """
SELECT 'wal_recycle is on, so old WAL segments are reused with the forgotten rows in them', current_setting('wal_recycle') = 'on'
UNION ALL SELECT 'wal_keep_size keeps WAL past a checkpoint', current_setting('wal_keep_size') <> '0'
UNION ALL SELECT 'archive_mode copies every WAL segment elsewhere', current_setting('archive_mode') <> 'off'
UNION ALL SELECT 'a replication slot holds WAL back', EXISTS (SELECT 1 FROM pg_replication_slots)
UNION ALL SELECT 'this user may not CHECKPOINT (grant pg_checkpoint)', NOT (pg_has_role('pg_checkpoint', 'MEMBER') OR (SELECT rolsuper FROM pg_roles WHERE rolname = current_user))
UNION ALL SELECT 'this user may not run pg_switch_wal()', NOT has_function_privilege('pg_switch_wal()', 'EXECUTE')
"""


@functools.lru_cache(maxsize=4096)
def _leaves_old_rows(sql: str) -> str | None:
    """The table in which a statement leaves old row versions behind: a DELETE, an UPDATE, an upsert that updates."""
    match = _OLD_ROWS.match(sql)
    if not match or (sql.lstrip()[:6].upper() == "INSERT" and "DO UPDATE" not in sql.upper()):
        return None
    return match.group(1).lower()


def connect(target: str) -> SqliteDb | PgDb:
    """Open `target`: a SQLite file path (or `:memory:`) or a `postgresql://` URL."""
    if is_postgres(target):
        return PgDb(target)
    return sqlite3.connect(target, isolation_level=None, check_same_thread=False, timeout=30, factory=SqliteDb)


def render(script: str, dialect: str) -> str:
    """The schema for one dialect: it is written in SQLite's terms, with {ROWID} and {NOW} left to fill."""
    if dialect == "sqlite":
        return script.replace("{ROWID}", "").replace("{NOW}", _NOW_SQLITE)
    script = script.replace("{ROWID}", "rowid BIGINT GENERATED ALWAYS AS IDENTITY,").replace("{NOW}", _NOW_POSTGRES)
    script = re.sub(r"\bINTEGER PRIMARY KEY AUTOINCREMENT\b", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", script)
    script = re.sub(r"\bINTEGER\b", "BIGINT", script)
    script = re.sub(r"\bREAL\b", "DOUBLE PRECISION", script)
    return re.sub(r"\bBLOB\b", "BYTEA", script)


@functools.lru_cache(maxsize=4096)
def _pg_sql(sql: str) -> str:
    """A statement written for SQLite, as psycopg takes it. No statement quotes a literal '?'."""
    sql = sql.replace("%", "%%").replace("?", "%s")
    return sql.replace("IN ()", "IN (SELECT NULL WHERE FALSE)")  # SQLite accepts an empty list; PostgreSQL does not


# -- opening PostgreSQL: one sentence per way it can fail ------------------------------


def pg_connect(url: str):
    import psycopg

    try:
        where = describe(url)
    except psycopg.ProgrammingError as exc:
        raise StorageError(f"The PostgreSQL URL is not valid ({_first_line(exc)}); write it as postgresql://user:password@host:port/database.") from None
    try:
        conn = psycopg.connect(url, autocommit=True, connect_timeout=10, application_name="hyperloom")
    except psycopg.OperationalError as exc:
        raise _refused(where, exc) from None
    except psycopg.ProgrammingError as exc:
        raise StorageError(f"The PostgreSQL URL is not valid ({_first_line(exc)}); write it as postgresql://user:password@host:port/database.") from None
    return conn


def describe(url: str) -> str:
    """host:port/database of a URL, never its password (error messages and logs show this)."""
    from psycopg import conninfo

    parts = conninfo.conninfo_to_dict(url)
    return f"{parts.get('host') or 'localhost'}:{parts.get('port') or 5432}/{parts.get('dbname') or parts.get('user') or ''}"


def _refused(where: str, exc: Exception) -> Exception:
    text = str(exc)
    if "for connection option" in text or "invalid connection option" in text:
        return StorageError(f"The PostgreSQL URL is not valid ({_first_line(exc).removeprefix('connection is bad: ')}); write it as postgresql://user:password@host:port/database.")
    if "password authentication failed" in text or "no password supplied" in text:
        return StorageError(f"PostgreSQL at {where} refused the password; fix the user and password in `postgres_url`.")
    if "does not exist" in text and "database" in text:
        return StorageError(f"PostgreSQL at {where} has no such database; create it (`createdb`) or fix `postgres_url`.")
    if "Connection refused" in text or "timeout" in text.lower() or "could not translate host name" in text or "No route" in text:
        return BackendUnavailable(f"Cannot reach PostgreSQL at {where} ({_first_line(exc)}); start the server or fix `postgres_url`.")
    return StorageError(f"PostgreSQL at {where} refused the connection ({_first_line(exc)}); fix `postgres_url` or the server's pg_hba.conf.")


def lost(url: str, exc: Exception) -> StorageError:
    return StorageError(f"Lost the connection to PostgreSQL at {describe(url)} ({_first_line(exc)}); nothing of the unfinished write was kept, try again.")


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]


# -- schema versions --------------------------------------------------------------------


def _to_1(db) -> None:
    """Version 1: the schema as it was before versions were recorded (files of older hyperlooms get there)."""
    if db.dialect != "sqlite":
        return  # a PostgreSQL database starts at version 1
    # LangGraph checkpoints held the text of answers and evidence: an old file loses them (secure_delete overwrites).
    db.execute("DROP TABLE IF EXISTS checkpoints")
    db.execute("DROP TABLE IF EXISTS writes")
    held = {r[1] for r in db.execute("PRAGMA table_info(scenes)")}
    if held and "segment" not in held:  # a file from before segments: NULL makes the next consolidation a full one
        db.execute("ALTER TABLE scenes ADD COLUMN segment INTEGER")


def _to_2(db) -> None:
    """Version 2: persona links are ranked from scene_speakers when read (memory/hierarchy.py), not kept."""
    db.execute("DROP TABLE IF EXISTS persona")


MIGRATIONS: dict[int, Callable[[Any], None]] = {1: _to_1, 2: _to_2}


def stored_version(db) -> int:
    """The schema version the database records; 0 when it records none (new, or from before versions)."""
    if db.dialect == "postgres":
        if db.execute("SELECT to_regclass('schema_version')").fetchone()[0] is None:
            return 0
    elif not db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'").fetchone():
        return 0
    return db.execute("SELECT max(version) FROM schema_version").fetchone()[0] or 0


def migrate(db, where: str) -> None:
    """Bring the database to SCHEMA_VERSION in one transaction; refuse one a newer hyperloom wrote."""
    version = stored_version(db)
    _refuse_newer(version, where)
    if version == SCHEMA_VERSION:
        return
    db.execute(db.BEGIN)
    try:
        if db.dialect == "postgres":
            db.execute("SELECT pg_advisory_xact_lock(?)", (_SCHEMA_LOCK,))
        db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        version = db.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0]  # another process may have migrated
        _refuse_newer(version, where)
        for step in range(version + 1, SCHEMA_VERSION + 1):
            MIGRATIONS[step](db)
        if version < SCHEMA_VERSION:
            db.execute("DELETE FROM schema_version")
            db.execute("INSERT INTO schema_version(version) VALUES (?)", (SCHEMA_VERSION,))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def _refuse_newer(version: int, where: str) -> None:
    if version > SCHEMA_VERSION:
        raise StorageError(f"The database at {where} was written by a newer hyperloom (schema version {version}, this one knows up to {SCHEMA_VERSION}); upgrade hyperloom to open it.")


# -- namespace locks across machines ----------------------------------------------------


class PgNamespaceLocks:
    """`with locks.hold(namespace):` as `NamespaceLocks`, but a PostgreSQL advisory lock instead of a lock file,
    so processes on different machines sharing the database exclude each other too."""

    def __init__(self, url: str):
        self.url = url
        self._guard = threading.Lock()
        self._locks: dict[str, _AdvisoryLock] = {}

    @contextmanager
    def hold(self, namespace: str) -> Iterator[None]:
        with self._guard:
            lock = self._locks.setdefault(namespace, _AdvisoryLock(self.url, namespace))
        with lock:
            yield


class _AdvisoryLock:
    """Re-entrant in one thread (a depth count); its own connection, so waiting for one namespace blocks no other."""

    def __init__(self, url: str, namespace: str):
        self.url, self.namespace = url, namespace
        self._thread = threading.RLock()
        self._depth = 0
        self._conn = None

    def __enter__(self) -> None:
        self._thread.acquire()
        if self._depth == 0:
            try:
                self._acquire()
            except BaseException:
                self._thread.release()
                raise
        self._depth += 1

    def _acquire(self) -> None:
        """Try, and between tries run no statement: a backend blocked in pg_advisory_lock() holds a snapshot, and
        VACUUM FULL keeps every row that snapshot might see (measured: the forgetter holding this lock while it
        purged left the forgotten row in the table file)."""
        pause = 0.001
        while not self._call("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))"):
            time.sleep(pause)
            pause = min(2 * pause, 0.02)

    def __exit__(self, *exc: object) -> None:
        self._depth -= 1
        try:
            if self._depth == 0:
                self._call("SELECT pg_advisory_unlock(hashtextextended(%s, 0))")
        finally:
            self._thread.release()

    def _call(self, sql: str) -> Any:
        import psycopg

        if self._conn is None or self._conn.broken or self._conn.closed:
            self._conn = pg_connect(self.url)  # a lost connection took its locks with it
        try:
            return self._conn.execute(sql, (self.namespace,)).fetchone()[0]
        except psycopg.Error as exc:
            raise lost(self.url, exc) from None
