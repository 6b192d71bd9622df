"""`hyperloom migrate`: copy a SQLite data directory (log, structure, vectors) into PostgreSQL and a Chroma
server, then check that the copy counts the same rows and answers a sample of searches the same way.

No checkpoints to copy: the conversation state is read back from the log (agent/api.py), so the log is all of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from hyperloom.config import Config
from hyperloom.errors import InputError, StorageError
from hyperloom.memory.store import LEVELS, MemoryStore

# Parents before children (foreign keys); tables the code adds later are copied after these.
ORDER = ("namespaces", "sessions", "turns", "quotes", "changes", "facts", "scenes", "reflections", "scene_speakers",
         "stale_scenes", "entities", "aliases", "points", "point_entities", "point_facts")
SKIP = {"schema_version", "memory_id", "sqlite_sequence"}  # each database keeps its own


@dataclass
class Migration:
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows copied (and counted again in the target)
    vectors: int = 0
    searches: int = 0
    same_best: int = 0  # searches whose best turn before is among the five best after


def sqlite_home(source: str) -> Path:
    """`sqlite:PATH`: a data directory, or its hyperloom.db."""
    if not source.startswith("sqlite:"):
        raise InputError(f"--from {source!r} is not of the form sqlite:PATH; name the data directory (or its hyperloom.db).")
    path = Path(source.removeprefix("sqlite:")).expanduser()
    home = path.parent if path.name == "hyperloom.db" else path
    if not (home / "hyperloom.db").is_file():
        raise InputError(f"There is no hyperloom.db in {home}; name a hyperloom data directory.")
    return home


def migrate(source: Config, target: Config, *, samples: int = 5, embedder=None) -> Migration:
    """Copy everything of `source` (store = sqlite) into `target` (store = postgres, empty), then verify."""
    with MemoryStore(source, embedder=embedder) as old, MemoryStore(target, embedder=embedder or old.embedder) as new:
        if new.log.namespaces() or new.log.count():
            raise InputError(f"The PostgreSQL database {new.log.path} already holds a memory; migrate into an empty database.")
        done = Migration()
        _copy_tables(old, new, done)
        for namespace in old.log.namespaces():
            old.sync(namespace)
            done.vectors += sum(_copy_vectors(old, new, namespace, level) for level in LEVELS)
            _compare_searches(old, new, namespace, samples, done)
        _check_counts(old, new, done)
        return done


def _tables(store: MemoryStore) -> list[str]:
    names = {r[0] for r in store.log.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")} - SKIP
    return [t for t in ORDER if t in names] + sorted(names - set(ORDER))


def _copy_tables(old: MemoryStore, new: MemoryStore, done: Migration) -> None:
    """Every row, in one transaction: a failure leaves the target as empty as it was."""
    with new.log.transaction() as db:
        for table in _tables(old):
            cur = old.log.db.execute(f"SELECT * FROM {table} ORDER BY rowid")  # sessions are listed in insertion order
            columns = ", ".join(f'"{d[0]}"' for d in cur.description)
            rows = cur.fetchall()
            db.executemany(f"INSERT INTO {table}({columns}) VALUES ({', '.join('?' * len(cur.description))})", rows)
            done.rows[table] = len(rows)
        # Identity columns go on from the copied ids: seqs and ids are never reused (vector labels).
        for table, column in db.execute("SELECT table_name, column_name FROM information_schema.columns WHERE is_identity = 'YES' AND table_schema = current_schema() AND column_name <> 'rowid'").fetchall():
            db.execute(f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), coalesce((SELECT max({column}) FROM {table}), 0) + 1, false)")


def _copy_vectors(old: MemoryStore, new: MemoryStore, namespace: str, level: str) -> int:
    ids = sorted(old.vectors(namespace, level).ids())
    for k in range(0, len(ids), 1000):
        chunk = ids[k : k + 1000]
        new.vectors(namespace, level).add(chunk, old.vectors(namespace, level).get(chunk))
    return len(ids)


def _compare_searches(old: MemoryStore, new: MemoryStore, namespace: str, samples: int, done: Migration) -> None:
    """Search with the words of a few turns spread over the conversation: both memories should find the same best turn."""
    turns = old.log.turns(namespace, evidence=True)
    for turn in turns[:: max(1, len(turns) // samples)][:samples]:
        query = (turn.text or turn.caption or "")[:200].strip()
        if not query:
            continue
        a, b = old.search(query, 5, namespace), new.search(query, 5, namespace)
        done.searches += 1
        done.same_best += bool(a and b and a[0].turn_id in {h.turn_id for h in b})  # both indexes are approximate


def _check_counts(old: MemoryStore, new: MemoryStore, done: Migration) -> None:
    for table, n in done.rows.items():
        (copied,) = new.log.db.execute(f"SELECT count(*) FROM {table}").fetchone()
        if copied != n:
            raise StorageError(f"The copy of table {table} holds {copied} rows, not {n}; the migration did not complete, drop the target database and run it again.")
    if done.searches and done.same_best < done.searches:
        raise StorageError(f"Only {done.same_best} of {done.searches} sample searches kept their best turn among the five best after migrating; check the Chroma server and run `hyperloom reindex --all`.")
