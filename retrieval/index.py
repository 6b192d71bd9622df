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
import zlib
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from hyperloom.errors import BackendUnavailable, IndexDamaged, StorageError


class VectorIndex(ABC):
    """Cosine-similarity index of unit vectors labelled by int ids."""

    @abstractmethod
    def add(self, ids: Sequence[int], vectors: np.ndarray) -> None: ...

    @abstractmethod
    def query(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The k nearest ids with cosine similarity, best first."""

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

    def refresh(self) -> bool:
        """Catch up with what another process saved; True when anything may have changed or gone, not only
        been added (the caller then rebuilds what it derived from the index). Backends that share one copy: True."""
        return True

    def load(self) -> None:
        """Read what `save` wrote; a no-op for backends that persist on write."""

    def drop(self) -> None:
        """Remove the index and its files entirely."""

    def __len__(self) -> int:
        return len(self.ids())


JOURNAL_MAGIC = b"hyperloom-journal-1\n"
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
    naming the snapshot's checksum file, then fixed-size records of label, vector and
    crc32), so remembering one turn writes kilobytes, not the whole index. A delete, a
    journal past a tenth of the index, or no snapshot yet makes the next `save` a
    snapshot, which removes the journal first: a forgotten vector is in no file once
    `save` returns. `load` replays the journal records that belong to the snapshot it
    read, up to the first record a crash cut short.

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
        self._snapshot_due = True  # a delete (or nothing on disk yet): the next save rewrites every file
        self._journaled = 0  # records in the journal file that belong to the snapshot on disk
        self._loaded_sum = b""  # the checksum file of the snapshot this index holds (read or written)
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

    def delete(self, ids: Sequence[int]) -> None:
        with self._lock:
            gone = sorted({int(i) for i in ids} & self._live)
            if not gone:
                return
            # mark_deleted alone keeps the vector, in memory and in every later save
            # (invariant 4): overwrite it first, in place (same label, same slot).
            self._index.add_items(_blank(gone, self.dim), np.asarray(gone, dtype=np.int64))
            for i in gone:
                self._index.mark_deleted(i)
            self._live.difference_update(gone)
            self._snapshot_due = True  # the old vector is in the snapshot or the journal: both are rewritten

    def ids(self) -> set[int]:
        return set(self._live)

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
                    if self._snapshot_due or not self._sum_path.exists() or self._journaled + len(self._pending) > max(JOURNAL_MIN, len(self._live) // 10):
                        self._journal_path.unlink(missing_ok=True)  # first: a crash mid-snapshot must not leave it behind
                        self._write_files()
                        self._journaled, self._loaded_sum = 0, self._sum_path.read_bytes()
                    elif self._pending:
                        self._append_journal()
                    self._pending, self._snapshot_due = [], False
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
            summary = {"format": 1, "dim": self.dim, "hnsw": _digest(hnsw), "ids": _digest(ids)}
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
        """The vectors added since the last save, appended as checked records and fsynced."""
        labels = sorted(set(self._pending) & self._live)
        records = np.zeros(len(labels), dtype=self._record)
        records["label"] = labels
        records["vector"] = self._index.get_items(labels) if labels else np.zeros((0, self.dim))
        for r in records:
            r["crc"] = zlib.crc32(r["label"].tobytes() + r["vector"].tobytes())
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
            os.fsync(fd)
            self._journaled = (whole + records.nbytes - len(header)) // self._record.itemsize
        finally:
            os.close(fd)

    def refresh(self) -> bool:
        """Catch up with another process's saves: only the journal's new records while the snapshot is the one
        this index was read from (False: only additions), else the whole files again (True: a snapshot that
        changed may have dropped or replaced vectors)."""
        if self.path is None or not self._sum_path.exists():
            return True
        with self._lock, _file_lock(self.path.parent, exclusive=False):
            if self._pending or self._snapshot_due or self._sum_path.read_bytes() != self._loaded_sum:
                self.load()
                return True
            self._replay_journal(skip=self._journaled)
            return False

    def _replay_journal(self, skip: int = 0) -> None:
        """Add the journal's records that belong to the snapshot just loaded (past the first `skip`), up to the first damaged one."""
        try:
            raw = self._journal_path.read_bytes()
        except FileNotFoundError:
            return
        header = self._journal_header()
        if not raw.startswith(header):
            return  # written for another snapshot (a crash between the two): its vectors come back from the log
        body = raw[len(header) :]
        records = np.frombuffer(body[: len(body) - len(body) % self._record.itemsize], dtype=self._record)[skip:]
        good = 0
        for r in records:
            if zlib.crc32(r["label"].tobytes() + r["vector"].tobytes()) != r["crc"]:
                break
            good += 1
        if good:
            records = records[:good]
            needed = self._index.element_count + good
            if needed > self._index.get_max_elements():
                self._index.resize_index(max(needed, 2 * self._index.get_max_elements()))
            self._index.add_items(np.array(records["vector"]), np.array(records["label"]))
            self._live.update(int(i) for i in records["label"])
        self._journaled = skip + good

    def _journal_header(self) -> bytes:
        return JOURNAL_MAGIC + hashlib.sha256(self._sum_path.read_bytes()).digest()

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
            self._index, self._live = index, live & set(index.get_ids_list())
            self._loaded_sum = self._sum_path.read_bytes()
            self._replay_journal()
            self._pending, self._snapshot_due = [], False

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
                actual = _digest(path)
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
            self._pending, self._snapshot_due = [], True
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


class ChromaIndex(VectorIndex):
    """A Chroma collection per namespace: embedded (`PersistentClient`) or a `chroma run` server (`HttpClient`)."""

    def __init__(self, namespace: str, *, path: Path | None = None, url: str | None = None):
        self._client = chroma_client(path=path, url=url)
        self._name = "hl-" + safe_name(namespace)
        self._url = url
        self._open()

    def _open(self) -> None:
        self._collection = self._call(self._client.get_or_create_collection, self._name, metadata={"hnsw:space": "cosine"})

    def add(self, ids: Sequence[int], vectors: np.ndarray) -> None:
        if len(ids) == 0:
            return
        self._call(self._collection.upsert, ids=[str(i) for i in ids], embeddings=np.asarray(vectors, dtype=np.float32).tolist())

    def query(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        k = min(k, len(self))
        if k == 0:
            return []
        result = self._call(self._collection.query, query_embeddings=[np.asarray(vector, dtype=np.float32).tolist()], n_results=k, include=["distances"])
        return [(int(i), 1.0 - float(d)) for i, d in zip(result["ids"][0], result["distances"][0])]

    def delete(self, ids: Sequence[int]) -> None:
        if len(ids):
            self._call(self._collection.delete, ids=[str(i) for i in ids])

    def ids(self) -> set[int]:
        return {int(i) for i in self._call(self._collection.get, include=[])["ids"]}

    def get(self, ids: Sequence[int]) -> np.ndarray:
        if len(ids) == 0:
            return np.zeros((0, 0), dtype=np.float32)
        result = self._call(self._collection.get, ids=[str(i) for i in ids], include=["embeddings"])
        by_id = dict(zip(result["ids"], result["embeddings"]))
        return np.asarray([by_id[str(i)] for i in ids], dtype=np.float32)

    def __len__(self) -> int:
        return self._call(self._collection.count)

    def drop(self) -> None:
        self._call(self._client.delete_collection, self._name)
        self._open()  # an empty collection, so the index stays usable

    def _call(self, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            raise _unavailable(self._url, exc) from None


def chroma_client(*, path: Path | None, url: str | None):
    import chromadb
    from chromadb.config import Settings

    settings = Settings(anonymized_telemetry=False)
    try:
        if url:
            match = re.fullmatch(r"(https?)://([^:/]+)(?::(\d+))?/?", url)
            if not match:
                raise StorageError(f"Chroma URL {url!r} is not of the form http://host:port; fix `chroma_url`.")
            scheme, host, port = match.groups()
            return chromadb.HttpClient(host=host, port=int(port or 8000), ssl=scheme == "https", settings=settings)
        return chromadb.PersistentClient(path=str(path), settings=settings)
    except StorageError:
        raise
    except Exception as exc:
        raise _unavailable(url, exc) from None


def _unavailable(url: str | None, exc: Exception) -> BackendUnavailable:
    where = f"the Chroma server at {url}" if url else "the embedded Chroma store"
    return BackendUnavailable(f"Cannot use {where} ({type(exc).__name__}: {str(exc)[:120]}); start it with `chroma run` or set vector_backend=hnsw.")
