"""Vector indexes: one contract (`add`, `query`, `delete`, `save`/`load`, `__len__`), hnswlib and Chroma behind it.

One index instance holds one namespace, so a query can only ever see its own
namespace's vectors. Labels are turn-log `seq` numbers (never reused).
"""

from __future__ import annotations

import errno
import fcntl
import glob
import hashlib
import json
import os
import re
import tempfile
import threading
import uuid
import zlib
from abc import ABC, abstractmethod
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from hyperloom.errors import IndexDamaged, StorageError
from hyperloom.retrieval.hnsw_files import chunk_digests, labels_and_marks, rehash, scrub


class VectorIndex(ABC):
    """Cosine-similarity index of unit vectors labelled by int ids."""

    @abstractmethod
    def add(self, ids: Sequence[int], vectors: np.ndarray) -> None: ...

    @abstractmethod
    def query(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The k nearest ids with cosine similarity, best first."""

    def query_among(self, vector: np.ndarray, k: int, ids: Collection[int]) -> list[tuple[int, float]]:
        """The k nearest of `ids` alone, with cosine similarity, best first (here: exact, from their vectors)."""
        live = self.ids()
        ids = [i for i in ids if i in live]
        if not ids:
            return []
        sims = self.get(ids) @ np.asarray(vector, dtype=np.float32)
        top = np.argsort(-sims, kind="stable")[:k]
        return [(ids[j], float(sims[j])) for j in top]

    @abstractmethod
    def delete(self, ids: Sequence[int]) -> None: ...

    @abstractmethod
    def ids(self) -> set[int]:
        """Every live id."""

    @abstractmethod
    def get(self, ids: Sequence[int]) -> np.ndarray:
        """The stored vectors of `ids`, in that order."""

    def save(self) -> None:
        """Persist; a no-op for backends that persist on write."""

    def refresh(self) -> set[int] | None:
        """Catch up with what another process saved: the labels it deleted or replaced (empty when it only
        added), or None when anything may have changed (the caller then rebuilds what it derived from the
        index). Backends that share one copy: None."""
        return None

    def load(self) -> None:
        """Read what `save` wrote; a no-op for backends that persist on write."""

    def drop(self) -> None:
        """Remove the index and its files entirely."""

    def __len__(self) -> int:
        return len(self.ids())


JOURNAL_MAGIC = b"hyperloom-journal-2\n"  # then the snapshot's id; -1 had the checksum file's sha256, and no tombstones
JOURNAL_MIN = 1024  # records a journal may hold before a snapshot, however small the index


def safe_name(namespace: str) -> str:
    """A file/collection name for any namespace: readable slug + hash (no collisions)."""
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", namespace)[:40].strip("-") or "ns"
    return f"{slug}-{hashlib.sha1(namespace.encode()).hexdigest()[:10]}"


class HnswIndex(VectorIndex):
    """hnswlib, cosine space; grows by doubling; files next to the log.

    Files, for `path` = `<dir>/<name>.hnsw`: the hnswlib index itself, `<name>.ids.npy`
    (the live ids) and `<name>.sum` (JSON: dim, size and sha256 of both), all 0600 in a
    0700 directory, and one `<dir>/.hnsw.lock` shared by every index of the directory.
    `save` writes all three under an exclusive lock, the checksum file last; `load`
    verifies them under a shared lock before hnswlib reads a byte, since a damaged
    neighbour table crashes hnswlib (a segfault, not an exception).

    Between snapshots, vectors added since are appended to `<name>.journal` (a header
    naming the snapshot, then fixed-size records of label, vector and crc32), so
    remembering one turn writes kilobytes, not the whole index. A delete appends a
    tombstone (label -1-id, no vector) and overwrites the forgotten vector where it lies,
    in the snapshot and in the journal (`hnsw_files.scrub`), re-hashing only the checksum
    chunks it touched: a forgotten vector is in no file once `save` returns, at the cost
    of the vectors forgotten, not of the index's size. A journal past a tenth of the
    index, or no snapshot yet, makes the next `save` a snapshot, which removes the
    journal first. `load` replays the journal records that belong to the snapshot it
    read, in order, up to the first record a crash cut short.

    Contract for the store: `HnswIndex(path, dim)` loads existing files and raises
    `IndexDamaged` (a `StorageError`) when they are missing a part, cut short, changed,
    or of another dimension. The caller then builds `HnswIndex(path, dim, load=False)`,
    an empty index at the same path, calls `drop()` (or `discard_files()`) and adds every
    vector again from the log; its next `save` replaces the damaged files.
    """

    def __init__(self, path: Path | None, dim: int, *, m: int = 16, ef_construction: int = 200, ef_search: int = 64, load: bool = True):
        self.path = Path(path) if path else None
        self.dim, self.m, self.ef_construction, self.ef_search = dim, m, ef_construction, ef_search
        self._live: set[int] = set()
        self._lock = threading.RLock()
        self._index = self._new(1024)
        self._pending: list[int] = []  # labels added since the files last saw this index
        self._scrub: set[int] = set()  # labels deleted since the files last saw this index
        self._snapshot_due = True  # nothing on disk yet (or dropped): the next save rewrites every file
        self._journaled = 0  # records in the journal file that belong to the snapshot on disk
        self._snapshot = ""  # the id of the snapshot this index holds (read or written)
        self._rows: tuple[str, np.ndarray] | None = None  # (snapshot id, its file's labels in record order): where a forget scrubs
        if load and self.path and any(p.exists() for p in self._files):
            self.load()

    def _new(self, capacity: int):
        import hnswlib

        index = hnswlib.Index(space="cosine", dim=self.dim)
        index.init_index(max_elements=capacity, ef_construction=self.ef_construction, M=self.m)
        index.set_ef(self.ef_search)
        return index

    def add(self, ids: Sequence[int], vectors: np.ndarray) -> None:
        if len(ids) == 0:
            return
        with self._lock:
            needed = self._index.element_count + len(ids)
            if needed > self._index.get_max_elements():
                self._index.resize_index(max(needed, 2 * self._index.get_max_elements()))
            self._index.add_items(np.asarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64))
            self._live.update(int(i) for i in ids)
            self._pending.extend(int(i) for i in ids)

    def query(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        with self._lock:
            k = min(k, len(self._live))
            if k == 0:
                return []
            self._index.set_ef(max(self.ef_search, k))
            labels, distances = self._index.knn_query(np.asarray(vector, dtype=np.float32).reshape(1, -1), k=k)
        return [(int(i), 1.0 - float(d)) for i, d in zip(labels[0], distances[0])]

    def query_among(self, vector: np.ndarray, k: int, ids: Collection[int]) -> list[tuple[int, float]]:
        """The graph searched with a filter, so no copy of the vectors is kept for it: a speaker's facts
        at 100k turns were a 360 MB copy as an exact scan's matrix."""
        allowed = ids if isinstance(ids, (set, frozenset, dict)) else set(ids)
        with self._lock:
            k = min(k, len(self._live.intersection(allowed)))
            if k == 0:
                return []
            self._index.set_ef(max(self.ef_search, 4 * k))  # a filtered search sees fewer candidates: look wider
            try:
                labels, distances = self._index.knn_query(np.asarray(vector, dtype=np.float32).reshape(1, -1), k=k, filter=allowed.__contains__)
            except RuntimeError:  # fewer than k reachable through the filter: the exact scan finds them
                return super().query_among(vector, k, list(allowed))
        return [(int(i), 1.0 - float(d)) for i, d in zip(labels[0], distances[0])]

    def delete(self, ids: Sequence[int]) -> None:
        with self._lock:
            self._scrub.update(self._drop(ids))  # the old vector is in the snapshot or the journal: `save` overwrites it there

    def _drop(self, ids: Sequence[int]) -> list[int]:
        """Delete from memory only; the labels that were live."""
        with self._lock:
            gone = sorted({int(i) for i in ids} & self._live)
            if not gone:
                return gone
            # mark_deleted alone keeps the vector, in memory and in every later save
            # (invariant 4): overwrite it first, in place (same label, same slot).
            self._index.add_items(_blank(gone, self.dim), np.asarray(gone, dtype=np.int64))
            for i in gone:
                self._index.mark_deleted(i)
            self._live.difference_update(gone)
            return gone

    def ids(self) -> set[int]:
        return set(self._live)

    def __len__(self) -> int:
        return len(self._live)  # not a copy of the ids: every search asks

    def get(self, ids: Sequence[int]) -> np.ndarray:
        if len(ids) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            return np.asarray(self._index.get_items(list(ids)), dtype=np.float32)

    def save(self) -> None:
        if self.path is None:
            return
        with self._lock:
            try:
                _private_dir(self.path.parent)
                with _file_lock(self.path.parent, exclusive=True):
                    changes = len(self._pending) + len(self._scrub)
                    if self._snapshot_due or not self._sum_path.exists() or self._journaled + changes > max(JOURNAL_MIN, len(self._live) // 10):
                        self._journal_path.unlink(missing_ok=True)  # first: a crash mid-snapshot must not leave it behind
                        self._rows = None
                        self._write_files()
                        self._journaled, self._snapshot = 0, _summary(self._sum_path)["snapshot"]
                        self._rows = (self._snapshot, labels_and_marks(self.path)[0])
                    elif changes:
                        self._append_journal()
                        if self._scrub:
                            self._scrub_files()
                    self._pending, self._scrub, self._snapshot_due = [], set(), False
            except OSError as exc:
                raise StorageError(f"Cannot write the vector index {self.path} ({exc.strerror or exc}); free some space or fix the permissions of {self.path.parent}.") from None

    def _write_files(self) -> None:
        """Every file to a unique temp, fsynced, then renamed over its target, the checksum file last.

        A crash between two renames leaves new and old files under an old checksum
        file: a mismatch `load` reports, never a silently mixed index.
        """
        self._remove_temps()  # under the exclusive lock, any temp is a crashed save's (and may hold forgotten vectors)
        temps: list[Path] = []
        try:
            hnsw = _temp_for(self.path, temps)
            self._index.save_index(str(hnsw))
            _check_written(hnsw, self._index)
            ids = _temp_for(self._ids_path, temps)
            with open(ids, "wb") as f:
                np.save(f, np.fromiter(sorted(self._live), dtype=np.int64))
            summary = {"format": 2, "snapshot": uuid.uuid4().hex, "dim": self.dim, "hnsw": chunk_digests(hnsw), "ids": chunk_digests(ids)}
            checksum = _temp_for(self._sum_path, temps)
            checksum.write_text(json.dumps(summary))
            for temp in temps:
                _fsync(temp)
            for temp, target in zip(temps, self._files):
                os.replace(temp, target)
            _fsync(self.path.parent)  # the renames themselves
        except BaseException:
            for temp in temps:
                temp.unlink(missing_ok=True)
            raise

    def _append_journal(self) -> None:
        """The vectors added since the last save and tombstones of those deleted, appended as checked records."""
        labels = sorted(set(self._pending) & self._live)
        gone = sorted(self._scrub)
        records = np.zeros(len(labels) + len(gone), dtype=self._record)
        records["label"] = labels + [-1 - i for i in gone]
        if labels:
            records["vector"][: len(labels)] = self._index.get_items(labels)
        _seal(records)
        header = self._journal_header()
        fd = os.open(self._journal_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            os.fchmod(fd, 0o600)
            size = os.fstat(fd).st_size
            if size < len(header) or os.pread(fd, len(header), 0) != header:  # none yet, or another snapshot's
                os.ftruncate(fd, 0)
                os.pwrite(fd, header, 0)
                size = len(header)
            whole = size - (size - len(header)) % self._record.itemsize  # a record a crash cut short is dropped
            os.pwrite(fd, records.tobytes(), whole)
            os.ftruncate(fd, whole + records.nbytes)
            # No fsync: the journal is derived from the log, which is durable. A kill -9 loses nothing from
            # the page cache; a power cut may cut records short (crc32) or drop them, and the store's next
            # open reconciles the index with the log. (An fsync was half the cost of remembering one turn.)
            self._journaled = (whole + records.nbytes - len(header)) // self._record.itemsize
        finally:
            os.close(fd)

    def _scrub_files(self) -> None:
        """Overwrite the deleted labels' vectors in the journal and the snapshot, in place, then their checksum chunks."""
        gone = self._scrub
        journal = self._journal_path
        header = len(self._journal_header())
        raw = np.fromfile(journal, dtype=np.uint8)[header:]
        records = raw[: len(raw) - len(raw) % self._record.itemsize].view(self._record)
        hit = np.nonzero(np.isin(records["label"], np.fromiter(gone, dtype=np.int64, count=len(gone))))[0]
        if len(hit):
            fixed = records[hit].copy()
            fixed["label"], fixed["vector"] = -1 - fixed["label"], 0.0
            _seal(fixed)
            fd = os.open(journal, os.O_RDWR)
            try:
                for row, record in zip(hit, fixed):
                    os.pwrite(fd, record.tobytes(), header + int(row) * self._record.itemsize)
                os.fsync(fd)
            finally:
                os.close(fd)
        labels = sorted(gone)
        summary = _summary(self._sum_path)
        # The rows kept are those of the snapshot on disk only if no other process wrote one since (a reindex
        # elsewhere): else the file is read again, never patched by another file's record order.
        rows = self._rows[1] if self._rows and self._rows[0] == summary["snapshot"] else None
        touched = scrub(self.path, set(labels), _blank(labels, self.dim), rows)
        if touched:
            summary["hnsw"] = rehash(self.path, summary["hnsw"], touched)
            temps: list[Path] = []
            try:
                checksum = _temp_for(self._sum_path, temps)
                checksum.write_text(json.dumps(summary))
                _fsync(checksum)
                os.replace(checksum, self._sum_path)
                _fsync(self.path.parent)
            except BaseException:
                checksum.unlink(missing_ok=True)
                raise

    def refresh(self) -> set[int] | None:
        """Catch up with another process's saves: only the journal's new records while the snapshot is the one
        this index was read from (the labels their tombstones deleted or replaced), else the whole files
        again (None)."""
        if self.path is None or not self._sum_path.exists():
            return None
        with self._lock, _file_lock(self.path.parent, exclusive=False):
            if self._pending or self._scrub or self._snapshot_due or _summary(self._sum_path).get("snapshot") != self._snapshot:
                self.load()
                return None
            return self._replay_journal(skip=self._journaled)

    def _replay_journal(self, skip: int = 0) -> set[int]:
        """Apply the journal's records that belong to the snapshot just loaded (past the first `skip`), up to the
        first damaged one; the labels of the tombstones among them."""
        try:
            raw = self._journal_path.read_bytes()
        except FileNotFoundError:
            return set()
        header = self._journal_header()
        if not raw.startswith(header):
            return set()  # written for another snapshot (a crash between the two): its vectors come back from the log
        body = raw[len(header) :]
        records = np.frombuffer(body[: len(body) - len(body) % self._record.itemsize], dtype=self._record)[skip:]
        good = 0
        for r in records:
            if zlib.crc32(r["label"].tobytes() + r["vector"].tobytes()) != r["crc"]:
                break
            good += 1
        records, tombstones = records[:good], set()
        while len(records):  # in order: runs of additions, then the deletions after them
            added = records["label"] >= 0
            change = np.nonzero(added != added[0])[0]
            part, records = np.split(records, [int(change[0]) if len(change) else len(records)])
            if added[0]:
                self._add_replayed(part)
            else:
                labels = [-1 - int(i) for i in part["label"]]
                tombstones.update(labels)
                self._drop(labels)
        self._journaled = skip + good
        return tombstones

    def _add_replayed(self, records: np.ndarray) -> None:
        needed = self._index.element_count + len(records)
        if needed > self._index.get_max_elements():
            self._index.resize_index(max(needed, 2 * self._index.get_max_elements()))
        self._index.add_items(np.array(records["vector"]), np.array(records["label"]))
        self._live.update(int(i) for i in records["label"])

    def _journal_header(self) -> bytes:
        return JOURNAL_MAGIC + _summary(self._sum_path)["snapshot"].encode()

    @property
    def _record(self) -> np.dtype:
        return np.dtype([("label", "<i8"), ("vector", "<f4", (self.dim,)), ("crc", "<u4")])

    @property
    def _journal_path(self) -> Path | None:
        return self.path.with_suffix(".journal") if self.path else None

    def load(self) -> None:
        import hnswlib

        if self.path is None:
            return
        with self._lock, _file_lock(self.path.parent, exclusive=False):
            live = self._verified_ids()
            index = hnswlib.Index(space="cosine", dim=self.dim)
            try:
                index.load_index(str(self.path), allow_replace_deleted=False)
            except (RuntimeError, ValueError, OSError, MemoryError) as exc:
                raise self._damaged(self.path, f"hnswlib cannot read it: {exc}") from None
            index.set_ef(self.ef_search)
            labels, marked = labels_and_marks(self.path)
            self._index, self._live = index, (live & set(index.get_ids_list())) - set(labels[marked].tolist())
            self._snapshot = _summary(self._sum_path)["snapshot"]
            self._rows = (self._snapshot, labels)
            self._replay_journal()
            self._pending, self._scrub, self._snapshot_due = [], set(), False

    def _verified_ids(self) -> set[int]:
        """The live ids, once both files match the checksum file; IndexDamaged otherwise."""
        try:
            summary = json.loads(self._sum_path.read_text())
            expected = {"hnsw": dict(summary["hnsw"]), "ids": dict(summary["ids"])}
            dim = summary["dim"]
        except FileNotFoundError:
            raise self._damaged(self._sum_path, "the checksum file is missing") from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise self._damaged(self._sum_path, f"the checksum file is unreadable: {exc}") from None
        if dim != self.dim:
            raise self._damaged(self.path, f"it holds {dim}-dimensional vectors, not {self.dim}-dimensional ones")
        for role, path in (("hnsw", self.path), ("ids", self._ids_path)):
            try:
                actual = chunk_digests(path) if "chunk" in expected[role] else _digest(path)
            except OSError as exc:
                raise self._damaged(path, f"it cannot be read: {exc.strerror or exc}") from None
            if actual["size"] != expected[role].get("size"):
                raise self._damaged(path, f"it is {actual['size']} bytes, not the {expected[role].get('size')} its checksum file records")
            if actual["sha256"] != expected[role].get("sha256"):
                raise self._damaged(path, "its bytes do not match its checksum file")
        try:
            ids = np.load(self._ids_path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise self._damaged(self._ids_path, f"it is not a list of ids: {exc}") from None
        if ids.ndim != 1 or ids.dtype != np.int64:
            raise self._damaged(self._ids_path, "it is not a list of ids")
        return set(ids.tolist())

    def _damaged(self, path: Path, why: str) -> IndexDamaged:
        return IndexDamaged(f"The vector index file {path} is damaged ({why}); it must be rebuilt from the log (`hyperloom reindex`).")

    def drop(self) -> None:
        with self._lock:
            self._index, self._live = self._new(1024), set()
            self._pending, self._scrub, self._snapshot_due = [], set(), True
            self.discard_files()

    def discard_files(self) -> None:
        """Delete this index's files (damaged or not) without reading them; the in-memory index is kept."""
        if self.path is None or not self.path.parent.exists():
            return
        with self._lock, _file_lock(self.path.parent, exclusive=True):
            # The checksum file first: whatever a crash leaves behind then fails verification.
            for p in (self._sum_path, self._journal_path, self.path, self._ids_path):
                p.unlink(missing_ok=True)
            self._remove_temps()

    def _remove_temps(self) -> None:
        for p in self._files:
            for temp in p.parent.glob(f"{glob.escape(p.name)}.*.tmp"):
                temp.unlink(missing_ok=True)

    @property
    def _ids_path(self) -> Path | None:
        return self.path.with_suffix(".ids.npy") if self.path else None

    @property
    def _sum_path(self) -> Path | None:
        return self.path.with_suffix(".sum") if self.path else None

    @property
    def _files(self) -> tuple[Path, Path, Path]:
        """The index's files in the order `save` renames them: the checksum file last."""
        return (self.path, self._ids_path, self._sum_path)


def _blank(labels: Sequence[int], dim: int) -> np.ndarray:
    """Unit vectors that carry nothing of what they replace: drawn from the label alone.

    One per label, not one shared vector: many identical points would pile up in one
    corner of the graph, linked mostly to each other.
    """
    rows = np.stack([np.random.default_rng(abs(label)).standard_normal(dim) for label in labels]).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def _private_dir(path: Path) -> None:
    """Create missing directories 0700 (invariant 10); mkdir's mode alone is cut by the umask."""
    missing = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=0o700)
        except FileExistsError:  # another process made it (and sets its mode)
            continue
        os.chmod(directory, 0o700)


def _temp_for(target: Path, temps: list[Path]) -> Path:
    """A new, unique, 0600 file beside `target` (appended to `temps`): concurrent saves never share a name."""
    fd, name = tempfile.mkstemp(prefix=f"{target.name}.", suffix=".tmp", dir=target.parent)
    temps.append(Path(name))
    try:
        os.fchmod(fd, 0o600)  # explicit, whatever the umask
    finally:
        os.close(fd)
    return Path(name)


def _check_written(path: Path, index) -> None:
    """hnswlib ignores write errors (a full disk): a file shorter than its level-0 layout would be checksummed as good."""
    links0 = 2 * index.M * 4 + 4  # neighbour count + up to 2M neighbour ids (uint32)
    least = 96 + index.element_count * (links0 + 4 * index.dim + 8 + 4)  # header; per element: links, vector, label, upper-level size
    if path.stat().st_size < least:
        raise OSError(errno.ENOSPC, f"hnswlib wrote {path.stat().st_size} of at least {least} bytes")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _summary(path: Path) -> dict:
    """The checksum file; a format-1 one (before snapshot ids) is known by the sha256 of its bytes."""
    raw = path.read_bytes()
    summary = json.loads(raw)
    summary.setdefault("snapshot", hashlib.sha256(raw).hexdigest())
    return summary


def _seal(records: np.ndarray) -> None:
    """Each journal record's crc32, over its label and vector."""
    for r in records:
        r["crc"] = zlib.crc32(r["label"].tobytes() + r["vector"].tobytes())


def _digest(path: Path) -> dict:
    sha, size = hashlib.sha256(), 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            sha.update(chunk)
            size += len(chunk)
    return {"size": size, "sha256": sha.hexdigest()}


@contextmanager
def _file_lock(directory: Path, *, exclusive: bool) -> Iterator[None]:
    """flock on `<directory>/.hnsw.lock`: saves exclude each other and loads, so no one reads a half-renamed set.

    One lock per directory, not per index, so forgetting a namespace leaves no file
    named after it. A directory that cannot hold the lock file cannot be written
    either, so a reader there goes on unlocked.
    """
    try:
        fd = os.open(directory / ".hnsw.lock", os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        if exclusive:
            raise
        fd = None
    if fd is None:
        yield
        return
    try:
        os.fchmod(fd, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)  # releases the lock


def __getattr__(name: str):
    """ChromaIndex and chroma_client live in retrieval/chroma.py; still importable from here (imported lazily:
    chromadb is slow to import, and chroma.py imports this module)."""
    if name in ("ChromaIndex", "chroma_client"):
        from hyperloom.retrieval import chroma

        return getattr(chroma, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
