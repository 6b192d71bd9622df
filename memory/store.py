"""MemoryStore: the one write path (remember, forget, reindex) fanning out from the log to every derived store."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from pathlib import Path

from hyperloom.config import Config
from hyperloom.errors import StorageError
from hyperloom.memory.formats import Conversation, load_conversations
from hyperloom.memory.log import Session, Turn, TurnLog
from hyperloom.retrieval.embed import Embedder, make_embedder
from hyperloom.retrieval.index import ChromaIndex, HnswIndex, VectorIndex, safe_name
from hyperloom.retrieval.lexical import BM25
from hyperloom.retrieval.search import Filters, Hit, document_text, hybrid_search


class MemoryStore:
    """The turn log plus, per namespace, a vector index and a BM25 index derived from it."""

    def __init__(self, config: Config, *, embedder: Embedder | None = None):
        self.config = config
        _ensure_writable(config.home)
        self.log = TurnLog(config.db_path)
        self.embedder = embedder or make_embedder(config.embedder)
        self._vectors: dict[str, VectorIndex] = {}
        self._bm25: dict[str, BM25] = {}
        self._lock = threading.RLock()

    def close(self) -> None:
        self.save()
        self.log.close()

    def __enter__(self) -> "MemoryStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing ---------------------------------------------------------------

    def remember(self, turns: Iterable[Turn], namespace: str, sessions: Iterable[Session] = ()) -> list[Turn]:
        """Commit turns to the log (all or none), then index them. Indexes catch up on open after a crash."""
        self.vectors(namespace)  # open (and reconcile) before the log grows, so new turns are embedded once
        stored = self.log.append_many(turns, namespace, sessions)
        self._index(stored, namespace)
        return stored

    def ingest(self, path: Path, namespace: str) -> list[Conversation]:
        """Load a conversation file whole (validated before any write) into `namespace`."""
        conversations = load_conversations(path)
        many = len(conversations) > 1
        turns, sessions = [], []
        for c in conversations:
            prefix = f"{c.name}/" if many else ""
            sessions += [Session(prefix + s.id, s.started_at, s.title) for s in c.sessions]
            turns += [Turn(prefix + t.id, t.text, t.speaker, prefix + t.session, t.role, t.created_at, t.caption) for t in c.turns]
        self.remember(turns, namespace, sessions)
        self.save()
        return conversations

    def forget(self, namespace: str, *, turn: str | None = None, session: str | None = None) -> int:
        """Remove a turn, a session or (neither given) a whole namespace from the log and every index."""
        seqs = self.log.forget(namespace, turn=turn, session=session)
        with self._lock:
            if turn is None and session is None:
                self.vectors(namespace).drop()
                self._vectors.pop(namespace, None)
                self._bm25.pop(namespace, None)
            else:
                self.vectors(namespace).delete(seqs)
                self.bm25(namespace).delete(seqs)
                self.vectors(namespace).save()
        return len(seqs)

    def reindex(self, namespace: str) -> int:
        """Rebuild the namespace's vectors and BM25 from the log alone."""
        with self._lock:
            index = self._open_vectors(namespace)
            index.drop()
            self._vectors[namespace] = index
            self._bm25.pop(namespace, None)
            turns = self.log.turns(namespace)
            self._index(turns, namespace)
            self.save()
            return len(turns)

    def save(self) -> None:
        with self._lock:
            for index in self._vectors.values():
                index.save()

    def _index(self, turns: list[Turn], namespace: str) -> None:
        if not turns:
            return
        texts = [document_text(t) for t in turns]
        seqs = [t.seq for t in turns]
        vectors = self.embedder.embed_many(texts, self.config.embed_batch_size)
        with self._lock:
            self.vectors(namespace).add(seqs, vectors)
            if namespace in self._bm25:  # an unbuilt BM25 reads the log when first needed
                self._bm25[namespace].add(seqs, texts, [t.session for t in turns])

    # -- derived stores, opened lazily and reconciled with the log ---------------

    def vectors(self, namespace: str) -> VectorIndex:
        with self._lock:
            if namespace not in self._vectors:
                self._vectors[namespace] = index = self._open_vectors(namespace)
                self._reconcile(index, namespace)
            return self._vectors[namespace]

    def bm25(self, namespace: str) -> BM25:
        with self._lock:
            if namespace not in self._bm25:
                index = BM25()
                turns = self.log.turns(namespace)
                index.add([t.seq for t in turns], [document_text(t) for t in turns], [t.session for t in turns])
                self._bm25[namespace] = index
            return self._bm25[namespace]

    def _open_vectors(self, namespace: str) -> VectorIndex:
        c = self.config
        if c.vector_backend == "chroma":
            return ChromaIndex(namespace, path=c.home / "chroma", url=c.chroma_url)
        path = c.home / "vectors" / f"{safe_name(namespace)}.hnsw"
        return HnswIndex(path, self.embedder.dim, m=c.hnsw_m, ef_construction=c.hnsw_ef_construction, ef_search=c.hnsw_ef_search)

    def _reconcile(self, index: VectorIndex, namespace: str) -> None:
        """Make the index hold exactly the log's turns: add what a crash left out, drop what was forgotten."""
        in_log = {t.seq: t for t in self.log.turns(namespace)}
        in_index = index.ids()
        index.delete(sorted(in_index - in_log.keys()))
        missing = [in_log[s] for s in sorted(in_log.keys() - in_index)]
        if missing:
            texts = [document_text(t) for t in missing]
            index.add([t.seq for t in missing], self.embedder.embed_many(texts, self.config.embed_batch_size))

    # -- reading ---------------------------------------------------------------

    def search(self, query: str, k: int = 10, namespace: str | None = None, filters: Filters | None = None) -> list[Hit]:
        namespace = namespace or self.config.namespace
        return hybrid_search(
            query,
            k,
            namespace=namespace,
            embedder=self.embedder,
            vectors=self.vectors(namespace),
            bm25=self.bm25(namespace),
            fetch=lambda seqs: self.log.turns(namespace, seqs),
            speakers=self.log.speakers(namespace),
            filters=filters,
            dense_weight=self.config.dense_weight,
        )


def _ensure_writable(home: Path) -> None:
    try:
        home.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"Cannot create the data directory {home} ({exc.strerror}); choose another with --home or HYPERLOOM_HOME.") from None
    if not os.access(home, os.W_OK | os.X_OK):
        raise StorageError(f"The data directory {home} is not writable; fix its permissions or choose another with --home or HYPERLOOM_HOME.")
