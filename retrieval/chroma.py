"""ChromaIndex: the `VectorIndex` contract on a Chroma collection per namespace, embedded or a `chroma run` server.

Chroma holds only ids and vectors: no document text, no metadata (the log is where text lives).

What a forgotten vector leaves in Chroma's files (chromadb 1.5, its Rust core; measured with a grep of the
persist directory, tests/test_forget_servers.py):
- the HNSW segment's `data_level0.bin`: a delete only marks the label deleted, its vector stays, and the file
  is rewritten only when `sync_threshold` log records have been applied since the last save. So a delete
  first overwrites the vector (an upsert of a random one, applied in place) and collections save after every
  write (`hnsw:sync_threshold` 2, its minimum): the file no longer holds it once the delete returns.
- `chroma.sqlite3`: the write-ahead log (`embeddings_queue`) keeps each record until the segments saved it,
  then deletes it; Chroma's SQLite does not overwrite deleted rows, so their bytes stay in free pages until
  it is vacuumed. Embedded, this process owns the file and vacuums it after a delete; a server's file is
  the operator's (`chroma vacuum`, README) and otherwise keeps them until new writes reuse the pages.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Collection, Sequence
from pathlib import Path

import numpy as np

from hyperloom.errors import BackendUnavailable, StorageError
from hyperloom.retrieval.index import VectorIndex, safe_name

SAVE_EVERY = 2  # log records between HNSW saves: Chroma's minimum, so a forget reaches the file at once
BATCH = 1000  # ids per request when overwriting (a request must stay under the server's batch limit)


class ChromaIndex(VectorIndex):
    """A Chroma collection per namespace: embedded (`PersistentClient`) or a `chroma run` server (`HttpClient`)."""

    def __init__(self, namespace: str, *, path: Path | None = None, url: str | None = None):
        self._client = chroma_client(path=path, url=url)
        self._name = "hl-" + safe_name(namespace)
        self._url = url
        self._file = None if url else Path(path) / "chroma.sqlite3"  # embedded: ours to vacuum
        self._open()

    def _open(self) -> None:
        metadata = {"hnsw:space": "cosine", "hnsw:sync_threshold": SAVE_EVERY, "hnsw:batch_size": SAVE_EVERY}
        self._collection = self._call(self._client.get_or_create_collection, self._name, metadata=metadata)
        if (self._collection.configuration_json or {}).get("hnsw", {}).get("sync_threshold") != SAVE_EVERY:
            # A collection an older hyperloom created saves every 1,000 records: from now on, after every write.
            self._call(self._collection.modify, configuration={"hnsw": {"sync_threshold": SAVE_EVERY, "batch_size": SAVE_EVERY}})

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

    def query_among(self, vector: np.ndarray, k: int, ids: Collection[int]) -> list[tuple[int, float]]:
        """One request, the server ranking only `ids`: the exact scan asked for every id of the namespace and
        then for all of `ids`' vectors on every search naming a speaker."""
        if not ids or k < 1:
            return []
        asked = [str(i) for i in ids]
        try:
            result = self._collection.query(query_embeddings=[np.asarray(vector, dtype=np.float32).tolist()], ids=asked, n_results=min(k, len(asked)), include=["distances"])
        except Exception:  # noqa: BLE001 — Chroma refuses the whole query when one id is gone (forgotten since): scan exactly
            return super().query_among(vector, k, ids)
        return [(int(i), 1.0 - float(d)) for i, d in zip(result["ids"][0], result["distances"][0])]

    def delete(self, ids: Sequence[int]) -> None:
        """Overwrite, then delete: a deleted label's vector would stay in the HNSW file (see the module's note)."""
        for start in range(0, len(ids), BATCH):
            held = self._call(self._collection.get, ids=[str(i) for i in ids[start : start + BATCH]], include=["embeddings"])
            if held["ids"]:  # only what is there: an upsert of an absent id would add it
                self._call(self._collection.upsert, ids=held["ids"], embeddings=_noise(len(held["ids"]), len(held["embeddings"][0])).tolist())
                self._call(self._collection.delete, ids=held["ids"])
        self._vacuum()

    def _vacuum(self) -> None:
        """Embedded: rewrite chroma.sqlite3 so the deleted log records leave its free pages (a few MB at 20k turns)."""
        if self._file is None:
            return
        try:
            db = sqlite3.connect(self._file, timeout=30, isolation_level=None)
            try:
                db.execute("VACUUM")
            finally:
                db.close()
        except sqlite3.Error as exc:
            raise _unavailable(None, exc) from None

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
        """Every vector overwritten first: Chroma leaves a deleted collection's HNSW files where they are."""
        self.delete(sorted(self.ids()))
        self._call(self._client.delete_collection, self._name)
        self._vacuum()
        self._open()  # an empty collection, so the index stays usable

    def _call(self, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            raise _unavailable(self._url, exc) from None


def _noise(n: int, dim: int) -> np.ndarray:
    """Random unit vectors (fresh entropy): what a forgotten vector is overwritten with."""
    noise = np.random.default_rng().normal(size=(n, dim)).astype(np.float32)
    return noise / np.linalg.norm(noise, axis=1, keepdims=True)


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
