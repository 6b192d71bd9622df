"""TurnLog: the SQLite turn log, the source of truth every derived store is rebuilt from."""

from __future__ import annotations

import os
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from hyperloom.errors import InputError, StorageError
from hyperloom.memory import db as storage

MAX_TURN_CHARS = 100_000

SCHEMA = """
CREATE TABLE IF NOT EXISTS namespaces (
    name TEXT PRIMARY KEY,
    created_at TEXT NOT NULL DEFAULT {NOW}
);
CREATE TABLE IF NOT EXISTS sessions (
    {ROWID}namespace TEXT NOT NULL REFERENCES namespaces(name),
    id TEXT NOT NULL,
    started_at TEXT,
    title TEXT,
    PRIMARY KEY (namespace, id)
);
CREATE TABLE IF NOT EXISTS turns (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: vector indexes use it as their label
    namespace TEXT NOT NULL,
    session TEXT NOT NULL,
    id TEXT NOT NULL,
    speaker TEXT NOT NULL,
    role TEXT NOT NULL,
    text TEXT NOT NULL,
    caption TEXT,
    created_at TEXT,
    position INTEGER NOT NULL,
    UNIQUE (namespace, id),
    FOREIGN KEY (namespace, session) REFERENCES sessions(namespace, id)
);
CREATE INDEX IF NOT EXISTS turns_by_session ON turns(namespace, session, position);
CREATE INDEX IF NOT EXISTS turns_by_position ON turns(namespace, position);
CREATE INDEX IF NOT EXISTS turns_by_speaker ON turns(namespace, speaker);  -- every search asks who the speakers are
CREATE TABLE IF NOT EXISTS quotes (  -- an answer of the agent's and a turn it quoted: forgetting the turn forgets the answer
    answer INTEGER NOT NULL REFERENCES turns(seq) ON DELETE CASCADE,
    quoted INTEGER NOT NULL REFERENCES turns(seq) ON DELETE CASCADE,
    PRIMARY KEY (quoted, answer)
);
CREATE TABLE IF NOT EXISTS changes (  -- bumped by every write of a namespace: other processes notice it and reload
    namespace TEXT PRIMARY KEY,
    version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS memory_id (  -- one row: a name the database keeps for itself (vector collections carry it)
    one INTEGER PRIMARY KEY CHECK (one = 1),
    id TEXT NOT NULL
);
"""

QUESTION = "question"  # the role of a question put to the agent: kept in the log, never evidence
NOT_EVIDENCE = (QUESTION, "assistant")  # roles whose turns are logged but never indexed or quoted as evidence
NAMESPACE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}")


@dataclass(frozen=True, slots=True)
class Turn:
    """One verbatim utterance. `caption` describes an image the speaker shared."""

    id: str
    text: str
    speaker: str
    session: str = "s1"
    role: str = "user"
    created_at: str | None = None
    caption: str | None = None
    namespace: str = ""
    position: int = -1
    seq: int = -1


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    started_at: str | None = None
    title: str | None = None


class TurnLog:
    """Append-only (but forgettable) verbatim log. `append*` commit before returning.

    `path`: a SQLite file (or `:memory:`), or a `postgresql://` URL: the same tables, shared by every process that opens it.
    """

    def __init__(self, path: Path | str = ":memory:"):
        self.path = str(path)
        self._lock = threading.RLock()
        self._memory_id: str | None = None
        if storage.is_postgres(self.path):
            self._db = storage.PgDb(self.path)
            self.path = storage.describe(self.path)  # what messages show: never the password
            storage.migrate(self._db, self.path)
            self._db.executescript(SCHEMA)
            return
        try:
            _create_private(self.path)
            self._db = storage.connect(self.path)
            self._db.execute("PRAGMA busy_timeout = 30000")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = FULL")
            self._db.execute("PRAGMA foreign_keys = ON")
            self._db.execute("PRAGMA secure_delete = ON")  # forgotten text is overwritten, not left in free pages
            storage.migrate(self._db, self.path)
            self._db.executescript(SCHEMA)
        except sqlite3.Error as exc:
            raise StorageError(f"Cannot open the turn log at {self.path} ({exc}); check that the directory is writable.") from None

    @property
    def postgres(self) -> bool:
        return self._db.dialect == "postgres"

    def close(self) -> None:
        self._db.close()

    def purge(self) -> None:
        """Move the WAL into the main file and truncate it, so forgotten rows leave no copy on disk.

        PostgreSQL: nothing here; its autovacuum reclaims the dead rows of what was forgotten.
        """
        if self.postgres:
            return
        with self._lock:
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    @property
    def db(self) -> storage.SqliteDb | storage.PgDb:
        """The shared connection, for derived tables kept in the same database (hold `lock` while reading)."""
        return self._db

    def namespace_locks(self, directory: Path | None):
        """Locks on namespaces, shared by every process of this log: lock files beside a SQLite file,
        PostgreSQL advisory locks (any machine) for a shared database."""
        if self.postgres:
            return storage.PgNamespaceLocks(self._db.url)
        from hyperloom.memory.locks import NamespaceLocks

        return NamespaceLocks(directory)

    def vector_key(self, key: str) -> str:
        """The name of a vector collection: a shared database's memories are told apart on a shared Chroma server."""
        return f"{self.memory_id()}-{key}" if self.postgres else key

    @property
    def lock(self) -> threading.RLock:
        return self._lock

    @contextmanager
    def transaction(self) -> Iterator[storage.SqliteDb | storage.PgDb]:
        """One write transaction (IMMEDIATE in SQLite): all of it commits, or none of it does."""
        with self._lock:
            try:
                self._db.execute(self._db.BEGIN)
            except sqlite3.OperationalError as exc:
                raise StorageError(f"Cannot write the turn log at {self.path} ({exc}); check permissions and free space.") from None
            try:
                yield self._db
                self._db.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                self._rollback()
                if getattr(exc, "sqlite_errorname", "").startswith(_CANNOT_WRITE):  # found at the first write, not at open
                    raise StorageError(f"Cannot write the turn log at {self.path} ({exc}); nothing was changed; check permissions and free space.") from None
                raise
            except BaseException:
                self._rollback()
                raise

    def _rollback(self) -> None:
        if self._db.dialect != "sqlite" or self._db.in_transaction:  # SQLite ends a transaction itself on a full disk
            self._db.execute("ROLLBACK")

    def bump(self, namespace: str) -> None:
        """Count a change of the namespace's derived stores alone (a reindex): other processes read them again."""
        with self.transaction() as db:
            self._bump(db, namespace)

    # -- writing ---------------------------------------------------------------

    def append(self, turn: Turn, namespace: str, session: Session | None = None) -> Turn:
        return self.append_many([turn], namespace, [session] if session else [])[0]

    def append_many(self, turns: Iterable[Turn], namespace: str, sessions: Iterable[Session] = (), quotes: Iterable[tuple[str, str]] = ()) -> list[Turn]:
        """Store `turns` (and their `sessions`) in one transaction; returns them with seq and position.

        `quotes` are (answer turn id, quoted turn id) pairs: the answer goes when the quoted turn is forgotten.
        """
        turns = list(turns)
        validate_namespace(namespace)
        for turn in turns:
            validate_turn(turn)
            if self.postgres and "\x00" in "".join((turn.text, turn.speaker, turn.id, turn.session, turn.caption or "")):
                raise InputError(f"Turn {turn.id!r} contains a NUL character, which PostgreSQL cannot store; remove it from the text.")
        try:
            with self.transaction() as db:
                self._bump(db, namespace)
                db.execute("INSERT INTO namespaces(name) VALUES (?) ON CONFLICT DO NOTHING", (namespace,))
                for s in sessions:
                    db.execute(
                        "INSERT INTO sessions(namespace, id, started_at, title) VALUES (?, ?, ?, ?) "
                        "ON CONFLICT (namespace, id) DO UPDATE SET started_at = coalesce(excluded.started_at, sessions.started_at), "
                        "title = coalesce(excluded.title, sessions.title)",
                        (namespace, s.id, s.started_at, s.title),
                    )
                stored = [self._insert(db, t, namespace) for t in turns]
                for answer, quoted in quotes:
                    db.execute(
                        "INSERT INTO quotes(answer, quoted) SELECT a.seq, q.seq FROM turns a, turns q "
                        "WHERE a.namespace = ? AND a.id = ? AND q.namespace = ? AND q.id = ? ON CONFLICT DO NOTHING",
                        (namespace, answer, namespace, quoted),
                    )
                return stored
        except self._db.IntegrityError as exc:
            raise InputError(f"A turn id is already in namespace {namespace!r} ({_first_line(exc)}); give each turn a unique id.") from None

    def _insert(self, db: storage.SqliteDb | storage.PgDb, turn: Turn, namespace: str) -> Turn:
        db.execute("INSERT INTO sessions(namespace, id) VALUES (?, ?) ON CONFLICT DO NOTHING", (namespace, turn.session))
        (position,) = db.execute("SELECT coalesce(max(position), -1) + 1 FROM turns WHERE namespace = ?", (namespace,)).fetchone()
        seq = db.insert(
            "INSERT INTO turns(namespace, session, id, speaker, role, text, caption, created_at, position) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (namespace, turn.session, turn.id, turn.speaker, turn.role, turn.text, turn.caption, turn.created_at, position),
            key="seq",
        )
        return replace(turn, namespace=namespace, position=position, seq=seq)

    def _bump(self, db: storage.SqliteDb | storage.PgDb, namespace: str) -> None:
        """Count one more change of the namespace, in the writer's transaction (readers compare `version`).

        First in every write: in PostgreSQL the row stays locked until the transaction ends, so two
        writers of one namespace take turns and positions stay one gapless order (SQLite's IMMEDIATE does that).
        """
        db.execute("INSERT INTO changes(namespace, version) VALUES (?, 1) ON CONFLICT (namespace) DO UPDATE SET version = changes.version + 1", (namespace,))

    def version(self, namespace: str) -> int:
        """How many writes the namespace has seen, by any process: a cached index older than this is stale."""
        with self._lock:
            row = self._db.execute("SELECT version FROM changes WHERE namespace = ?", (namespace,)).fetchone()
        return row[0] if row else 0

    def forget(self, namespace: str, *, turn: str | None = None, session: str | None = None) -> list[int]:
        """Delete one turn, one session, or (neither given) the whole namespace; returns the deleted seqs.

        The agent's answers that quoted a deleted turn are deleted with it (their seqs are returned too).
        """
        if turn is not None:
            where, args = "namespace = ? AND id = ?", (namespace, turn)
        elif session is not None:
            where, args = "namespace = ? AND session = ?", (namespace, session)
        else:
            where, args = "namespace = ?", (namespace,)
        with self.transaction() as db:
            self._bump(db, namespace)
            seqs = [r[0] for r in db.execute(f"SELECT seq FROM turns WHERE {where}", args)]
            quoting = f"SELECT answer FROM quotes WHERE quoted IN (SELECT seq FROM turns WHERE {where})"
            seqs += [r[0] for r in db.execute(f"SELECT DISTINCT seq FROM turns WHERE seq IN ({quoting}) AND NOT ({where})", args + args)]
            db.execute(f"DELETE FROM turns WHERE seq IN ({quoting})", args)
            db.execute(f"DELETE FROM turns WHERE {where}", args)
            if session is not None and turn is None:
                db.execute("DELETE FROM sessions WHERE namespace = ? AND id = ?", (namespace, session))
            if turn is None and session is None:
                db.execute("DELETE FROM sessions WHERE namespace = ?", (namespace,))
                db.execute("DELETE FROM namespaces WHERE name = ?", (namespace,))
        return seqs

    def replace_text(self, namespace: str, turn_id: str, text: str) -> Turn:
        """Correct a turn's words in place (same id, session, time and position); returns the corrected turn."""
        turn = self.turn(turn_id, namespace)
        corrected = replace(turn, text=text)
        validate_turn(corrected)
        with self.transaction() as db:
            self._bump(db, namespace)
            # The agent's answers that quoted the old words repeat them: they go.
            db.execute("DELETE FROM turns WHERE seq IN (SELECT answer FROM quotes WHERE quoted = ?)", (turn.seq,))
            db.execute("UPDATE turns SET text = ? WHERE seq = ?", (text, turn.seq))
        return corrected

    # -- reading ---------------------------------------------------------------

    def turns(self, namespace: str, seqs: Iterable[int] | None = None, *, evidence: bool = False) -> list[Turn]:
        """Turns of a namespace in conversation order (only `seqs`, if given; only evidence, if asked)."""
        sql = f"SELECT {_COLUMNS} FROM turns WHERE namespace = ?" + (f" AND {_EVIDENCE}" if evidence else "")
        with self._lock:
            if seqs is None:
                return [Turn(*row) for row in self._db.execute(sql + " ORDER BY position", (namespace,)).fetchall()]
            # Given seqs, `namespace || ''` has SQLite look them up by key: on (namespace, position) it read
            # every turn of the namespace (7 ms for a search's 800 candidates at 20k turns, 37 ms at 100k).
            # A thousand at a time: a statement takes at most 32,766 values in SQLite, 65,535 in PostgreSQL.
            sql, seqs, rows = sql.replace("namespace = ?", "namespace || '' = ?", 1), list(seqs), []
            for k in range(0, len(seqs), 1000):
                chunk = seqs[k : k + 1000]
                rows += self._db.execute(f"{sql} AND seq IN ({','.join('?' * len(chunk))})", [namespace, *chunk]).fetchall()
        return sorted((Turn(*row) for row in rows), key=lambda t: t.position)

    def at_positions(self, namespace: str, positions: Iterable[int]) -> list[Turn]:
        """The evidence turns at these places in the conversation (gaps left by forgetting, and questions
        put to the agent and its answers, are skipped)."""
        positions = list(positions)
        if not positions:
            return []
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM turns WHERE namespace = ? AND position IN ({','.join('?' * len(positions))}) AND {_EVIDENCE} ORDER BY position",
                [namespace, *positions],
            ).fetchall()
        return [Turn(*row) for row in rows]

    def turn(self, turn_id: str, namespace: str) -> Turn:
        with self._lock:
            row = self._db.execute(f"SELECT {_COLUMNS} FROM turns WHERE namespace = ? AND id = ?", (namespace, turn_id)).fetchone()
        if row is None:
            raise KeyError(f"no turn {turn_id!r} in namespace {namespace!r}")
        return Turn(*row)

    def session_tail(self, namespace: str, session: str, n: int) -> list[Turn]:
        """The last `n` turns of one session, oldest first."""
        with self._lock:
            rows = self._db.execute(f"SELECT {_COLUMNS} FROM turns WHERE namespace = ? AND session = ? ORDER BY position DESC LIMIT ?", (namespace, session, n)).fetchall()
        return [Turn(*row) for row in reversed(rows)]

    def text(self, turn_id: str, namespace: str) -> str:
        return self.turn(turn_id, namespace).text

    def sessions(self, namespace: str) -> list[Session]:
        with self._lock:
            rows = self._db.execute("SELECT id, started_at, title FROM sessions WHERE namespace = ? ORDER BY rowid", (namespace,)).fetchall()
        return [Session(*row) for row in rows]

    def speakers(self, namespace: str) -> list[str]:
        """Who speaks in the namespace, in name order. Every search asks: a skip-scan of `turns_by_speaker`
        (one index probe per speaker) instead of DISTINCT, which read every turn's entry (33 ms at 100k turns)."""
        with self._lock:
            rows = self._db.execute(
                "WITH RECURSIVE s(name) AS (SELECT min(speaker) FROM turns WHERE namespace = ? "
                "UNION ALL SELECT (SELECT min(speaker) FROM turns WHERE namespace = ? AND speaker > s.name) FROM s WHERE s.name IS NOT NULL) "
                "SELECT name FROM s WHERE name IS NOT NULL",
                (namespace, namespace),
            )
            return [r[0] for r in rows]

    def namespaces(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT name FROM namespaces ORDER BY name")]

    def seqs(self, namespace: str, *, evidence: bool = False) -> list[int]:
        """Every turn's seq, in conversation order (what reading a whole namespace a page at a time needs)."""
        sql = "SELECT seq FROM turns WHERE namespace = ?" + (f" AND {_EVIDENCE}" if evidence else "") + " ORDER BY position"
        with self._lock:
            return [r[0] for r in self._db.execute(sql, (namespace,))]

    def count(self, namespace: str | None = None, *, evidence: bool = False) -> int:
        sql, args = ("SELECT count(*) FROM turns", ()) if namespace is None else ("SELECT count(*) FROM turns WHERE namespace = ?", (namespace,))
        if evidence:
            sql += (" AND " if namespace is not None else " WHERE ") + _EVIDENCE
        with self._lock:
            return self._db.execute(sql, args).fetchone()[0]

    def integrity_ok(self) -> bool:
        if self.postgres:
            return True  # PostgreSQL checks its own pages (and a kill -9 of a client cannot damage them)
        with self._lock:
            return self._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    def memory_id(self) -> str:
        """A name this database keeps for itself (made on first use), e.g. to tell its vector collections apart."""
        if self._memory_id is None:
            import secrets

            with self.transaction() as db:
                db.execute("INSERT INTO memory_id(one, id) VALUES (1, ?) ON CONFLICT DO NOTHING", (secrets.token_hex(4),))
                self._memory_id = db.execute("SELECT id FROM memory_id").fetchone()[0]
        return self._memory_id


_CANNOT_WRITE = ("SQLITE_READONLY", "SQLITE_FULL", "SQLITE_IOERR", "SQLITE_CANTOPEN")  # the file, not the statement
_EVIDENCE = f"role NOT IN ({', '.join(repr(r) for r in NOT_EVIDENCE)})"
_COLUMNS = "id, text, speaker, session, role, created_at, caption, namespace, position, seq"


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [""])[0]


def is_evidence(turn: Turn) -> bool:
    """What was said in a conversation, not a question put to the agent or the agent's own answer."""
    return turn.role not in NOT_EVIDENCE


# How a line typed to the agent asks: a question mark, a wh-word or auxiliary first, or a request ("Tell me
# about Pixel", "please list the cities"). Request verbs are a closed class, so a list serves.
_ASKS = re.compile(
    r"(please\s+)?(who|whom|whose|what|which|when|where|why|how|is|are|was|were|do|does|did|can|could|will|would|should|have|has|had"
    r"|tell|list|name|describe|remind|show|give|summari[sz]e|recap|explain|recall|find|quote|repeat)\b",
    re.IGNORECASE,
)


def is_question(text: str) -> bool:
    """A line typed to the agent that asks rather than tells ("Where do I live?", "Tell me about Pixel." vs "I moved to Porto.")."""
    stripped = text.strip()
    # A line with no words tells nothing to keep: it is asked, and gets "No information available."
    return stripped.endswith(("?", "？", "؟")) or stripped.startswith("¿") or bool(_ASKS.match(stripped)) or not any(c.isalnum() for c in stripped)


def validate_namespace(name: object) -> str:
    """Namespaces name files and collections: a documented character set keeps any two names apart."""
    if not isinstance(name, str) or not NAMESPACE.fullmatch(name):
        raise InputError(f"The namespace {name!r} is not valid: use 1 to 128 letters, digits, '.', '_', ':', '@' or '-', starting with a letter or digit.")
    return name


def _create_private(path: str) -> None:
    """Create the database file readable by its owner only; SQLite gives its -wal and -shm files the same mode."""
    if path == ":memory:" or path.startswith("file:") or os.path.exists(path):
        return
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))


def validate_turn(turn: Turn) -> None:
    """Refuse what cannot be stored verbatim and searched: raise InputError naming the turn."""
    if not isinstance(turn.text, str) or not isinstance(turn.speaker, str) or not turn.id:
        raise InputError(f"Turn {turn.id!r} needs an id, a speaker and a text string.")
    if not turn.text.strip() and not (turn.caption or "").strip():
        raise InputError(f"Turn {turn.id!r} is empty; give it some text or drop it.")
    if len(turn.text) > MAX_TURN_CHARS:
        raise InputError(f"Turn {turn.id!r} has {len(turn.text):,} characters, over the limit of {MAX_TURN_CHARS:,}; split it into smaller turns.")
    for field in (turn.text, turn.speaker, turn.id, turn.caption or ""):
        try:
            field.encode("utf-8")
        except UnicodeEncodeError:
            raise InputError(f"Turn {turn.id!r} contains characters that are not valid Unicode (lone surrogates); decode the source as UTF-8.") from None
