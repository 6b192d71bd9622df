"""Vector indexes: one contract (`add`, `query`, `delete`, `save`/`load`, `__len__`), hnswlib and Chroma behind it.

One index instance holds one namespace, so a query can only ever see its own
namespace's vectors. Labels are turn-log `seq` numbers (never reused).
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hyperloom.errors import BackendUnavailable, StorageError


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

    def load(self) -> None:
        """Read what `save` wrote; a no-op for backends that persist on write."""

    def drop(self) -> None:
        """Remove the index and its files entirely."""

    def __len__(self) -> int:
        return len(self.ids())


def safe_name(namespace: str) -> str:
    """A file/collection name for any namespace: readable slug + hash (no collisions)."""
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", namespace)[:40].strip("-") or "ns"
    return f"{slug}-{hashlib.sha1(namespace.encode()).hexdigest()[:10]}"


class HnswIndex(VectorIndex):
    """hnswlib, cosine space; grows by doubling; deletes with mark_deleted; files next to the log."""

    def __init__(self, path: Path | None, dim: int, *, m: int = 16, ef_construction: int = 200, ef_search: int = 64):
        self.path = Path(path) if path else None
        self.dim, self.m, self.ef_construction, self.ef_search = dim, m, ef_construction, ef_search
        self._live: set[int] = set()
        self._lock = threading.RLock()
        self._index = self._new(1024)
        if self.path and self.path.exists():
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
            for i in ids:
                if int(i) in self._live:
                    self._index.mark_deleted(int(i))
                    self._live.discard(int(i))

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
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Write both files beside the targets, then rename: a reader never sees half a file.
            tmp_index, tmp_ids = self.path.with_suffix(".tmp"), self._ids_path.with_suffix(".tmp.npy")
            self._index.save_index(str(tmp_index))
            np.save(tmp_ids, np.fromiter(sorted(self._live), dtype=np.int64))
            os.replace(tmp_ids, self._ids_path)
            os.replace(tmp_index, self.path)

    def load(self) -> None:
        import hnswlib

        with self._lock:
            try:
                index = hnswlib.Index(space="cosine", dim=self.dim)
                index.load_index(str(self.path), allow_replace_deleted=False)
                live = set(np.load(self._ids_path).tolist()) if self._ids_path.exists() else set(index.get_ids_list())
            except (RuntimeError, ValueError, OSError) as exc:
                raise StorageError(f"The vector index {self.path} is unreadable ({exc}); run `hyperloom reindex` to rebuild it from the log.") from None
            index.set_ef(self.ef_search)
            self._index, self._live = index, live & set(index.get_ids_list())

    def drop(self) -> None:
        with self._lock:
            self._index, self._live = self._new(1024), set()
            for p in (self.path, self._ids_path):
                if p is not None and p.exists():
                    p.unlink()

    @property
    def _ids_path(self) -> Path | None:
        return self.path.with_suffix(".ids.npy") if self.path else None


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
