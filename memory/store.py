"""MemoryStore: the one write path (remember, forget, correct, reindex, consolidate) fanning out from the log to every derived store.

Several processes may share a data directory. Every write of a namespace runs
under that namespace's lock (a lock file), and ends with its index files saved
and the log's change counter noted; before any operation, a process whose noted
counter is behind the log's reloads the files and reconciles them with the log
(`sync`): an explicit step, never a side effect of a getter.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from hyperloom.config import Config
from hyperloom.errors import IndexDamaged, InputError, StorageError
from hyperloom.memory import classes
from hyperloom.memory.collection import LEVELS, Collection, documents
from hyperloom.memory.extract import entities, extract_many
from hyperloom.memory.formats import Conversation, load_conversations
from hyperloom.memory.hierarchy import DIMENSIONS, Fact, Hierarchy
from hyperloom.memory.hypergraph import Hypergraph
from hyperloom.memory.log import Session, Turn, TurnLog, is_evidence, validate_namespace
from hyperloom.memory.modes import mode_for
from hyperloom.memory.view import MemoryView
from hyperloom.retrieval.embed import Embedder, make_embedder
from hyperloom.retrieval.index import ChromaIndex, HnswIndex, VectorIndex, safe_name
from hyperloom.retrieval.lexical import BM25
from hyperloom.retrieval.search import Filters, Hit, check_query
from hyperloom.retrieval.spans import sentences


INDEX_BATCH = 2000  # turns derived and embedded together (memory/store.py `_index_in_batches`)


class MemoryStore:
    """The turn log plus, per namespace, the hierarchy, the hypergraph, and vector + BM25 indexes of each level."""

    def __init__(self, config: Config, *, embedder: Embedder | None = None):
        self.config = config
        _ensure_private_dir(config.home)
        self.log = TurnLog(config.log_target)
        self.hierarchy = Hierarchy(self.log)
        self.hypergraph = Hypergraph(self.log)
        self.embedder = embedder or make_embedder(config.embedder)
        self.notices: list[str] = self.log.db.forgetting_unmet()  # things a front end should show the user (e.g. a rebuilt index)
        self._collections: dict[tuple[str, str], Collection] = {}  # (namespace, level) -> its vectors and BM25, opened lazily
        self._spoken: dict[tuple[str, str], dict[int, int]] = {}  # (namespace, speaker) -> fact id -> turn seq
        self._dimensions: dict[str, np.ndarray] | None = None
        self._seen: dict[str, int] = {}  # namespace -> the log's change counter this process's indexes reflect
        self._locks = self.log.namespace_locks(config.home / "locks")
        self.mode = mode_for(config.memory)  # flat or structured, decided once

    def close(self) -> None:
        """Close the log and let go of every index held in memory (hundreds of MB at 20k turns), so a closed
        store costs nothing while another is opened."""
        self.log.close()
        self._collections.clear()
        self._spoken.clear()
        self._seen.clear()

    def __enter__(self) -> "MemoryStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def structured(self) -> bool:
        """Whether this store builds and searches the hierarchy and hypergraph (flat: turns only, cheaper writes)."""
        return self.mode.structured

    # -- writing ---------------------------------------------------------------

    def remember(self, turns: Iterable[Turn], namespace: str, sessions: Iterable[Session] = (), quotes: Iterable[tuple[str, str]] = ()) -> list[Turn]:
        """Commit turns to the log (all or none), then derive facts, points and index entries from the evidence among them.

        `quotes`: (answer turn id, quoted turn id) pairs, so forgetting a quoted turn forgets the answer too.
        """
        with self._writing(namespace):
            stored = self.log.append_many(turns, namespace, sessions, quotes)
            self._index_in_batches(namespace, [t for t in stored if is_evidence(t)])  # questions to the agent and its answers are logged only
        return stored

    def ingest(self, path: Path, namespace: str) -> list[Conversation]:
        """Load a conversation file whole (validated before any write) into `namespace`, then consolidate."""
        validate_namespace(namespace)
        return self.add_conversations(load_conversations(path), namespace)

    def add_conversations(self, conversations: list[Conversation], namespace: str) -> list[Conversation]:
        """Remember loaded conversations in one transaction (several: session ids prefixed by each one's name), then consolidate."""
        many = len(conversations) > 1
        turns, sessions = [], []
        for c in conversations:
            prefix = f"{c.name}/" if many else ""
            sessions += [Session(prefix + s.id, s.started_at, s.title) for s in c.sessions]
            turns += [Turn(prefix + t.id, t.text, t.speaker, prefix + t.session, t.role, t.created_at, t.caption) for t in c.turns]
        with self._writing(namespace):
            stored = self.remember(turns, namespace, sessions)
            self.mode.consolidate(self, namespace, sessions={t.session for t in stored})  # only the scene segments written to
        return conversations

    def _derive(self, turns: list[Turn], namespace: str) -> list[Fact]:
        """Facts (L1) and memory points for new turns, in one transaction."""
        known = frozenset(self.hypergraph.entity_names(namespace)) | frozenset(t.speaker for t in turns)
        # Names seen mid-sentence anywhere in the batch count at a sentence start too ("Clara made jam").
        known |= {e.name for t in turns for a, b in sentences(t.text) for e in entities(t.text[a:b], known)}
        facts = []
        extracted = extract_many(turns, known)  # one spaCy pass over the batch (memory/classes.py)
        self.notices += [n for n in classes.fallback_notice if n not in self.notices]
        with self.log.transaction():
            for turn, found in zip(turns, extracted):
                for fact, sentence in zip(self.hierarchy.add_facts(namespace, turn, found.sentences), found.sentences):
                    self.hypergraph.insert(namespace, sentence.entities, fact.text, [fact.id], fact.time, fact.position, sentence.classes)
                    facts.append(fact)
        return facts

    def consolidate(self, namespace: str, *, sessions: Iterable[str] | None = None) -> None:
        """Scenes, persona and reflection from the facts; aliases and merges in the hypergraph; scene indexes.

        No `sessions`: everything is rebuilt. `sessions` (the sessions a write touched; may be empty):
        only the scene segments holding them, or known to have changed, are clustered again.
        """
        with self._writing(namespace):
            self._consolidate(namespace, sessions=sessions)

    def _consolidate(self, namespace: str, *, sessions: Iterable[str] | None = None) -> None:
        """Scenes, persona and reflection from the facts; aliases and merges in the hypergraph; scene indexes.

        `sessions=None` rebuilds every scene. Given the sessions a write touched (the turns it
        remembered, forgot or corrected; an empty set is enough, since new facts and facts forgotten
        through `Hierarchy.forget_turns` mark their own segments), only the scene segments holding
        them are clustered again, with the same result as a full rebuild; the other scenes keep their
        ids, and the scene indexes change by the scenes made and removed.
        """
        facts_index = self.vectors(namespace, "facts")

        def fetch(ids):
            try:
                return dict(zip(ids, facts_index.get(ids)))
            except Exception:  # ids without a vector (a crash before they were saved): those facts wait for reconciliation
                live = facts_index.ids()
                ids = [i for i in ids if i in live]
                return dict(zip(ids, facts_index.get(ids)))

        dimensions = self._dimension_vectors()
        with self.log.transaction():
            done = self.hierarchy.consolidate(namespace, fetch, dimensions, sessions=sessions)
            self.hypergraph.consolidate(namespace, done.scene_of, self.log.speakers(namespace), whole=done.full)
        scenes = self.collection(namespace, "scenes")
        if done.full:
            scenes.drop()
        else:
            scenes.delete(done.removed)
            held, table = scenes.ids(), {s[0] for s in self.hierarchy.scenes(namespace)}
            scenes.delete(sorted(held - table))  # repair an index a crash left behind the table
            done.centroids.update(self.hierarchy.scene_centroids(namespace, sorted(table - held - done.centroids.keys()), fetch))
        rows = self._items(namespace, "scenes", list(done.centroids))  # scenes are indexed by their facts' centroid, not embedded
        scenes.add(rows, np.stack([done.centroids[r[0]] for r in rows]) if rows else None)

    def forget(self, namespace: str, *, turn: str | None = None, session: str | None = None, entity: str | None = None) -> int:
        """Remove a turn, a session, every turn mentioning an entity, or (none given) the whole namespace, everywhere.

        An unknown turn, session, entity or namespace is an `InputError`, never a silent 0.
        """
        with self._writing(namespace, removes=True):
            if entity is not None:
                return self._forget_entity(namespace, entity)
            if turn is None and session is None:
                return self._forget_namespace(namespace)
            if turn is not None:
                self._turn(namespace, turn)
            elif session not in {s.id for s in self.log.sessions(namespace)}:
                raise InputError(f"There is no session {session!r} in namespace {namespace!r}; list them with /sessions or the inspector.")
            return self._cascade(namespace, self.log.forget(namespace, turn=turn, session=session))

    def _cascade(self, namespace: str, seqs: list[int]) -> int:
        """Remove the derived traces of turns already deleted from the log, then re-consolidate once."""
        with self.log.transaction():
            fact_ids = self.hierarchy.forget_turns(namespace, seqs)
            self.hypergraph.forget_facts(namespace, fact_ids)
        self._delete(namespace, "turns", seqs)
        self._delete(namespace, "facts", fact_ids)
        self.mode.consolidate(self, namespace, sessions=set())  # summaries must not keep forgotten words; forgotten facts mark their segments
        return len(seqs)

    def correct(self, namespace: str, turn_id: str, start: int, end: int, text: str) -> Turn:
        """Replace `turn.text[start:end]` with `text` in the log, then re-derive that turn everywhere.

        The log stays the truth: a correction is an edit of what was said, so a
        reindex reproduces it, and the old words leave no trace in any store.
        """
        with self._writing(namespace, removes=True):
            old = self._turn(namespace, turn_id)
            if not 0 <= start <= end <= len(old.text):
                raise InputError(f"The span {start}:{end} is outside turn {turn_id!r} ({len(old.text)} characters); pick a span of its text.")
            turn = self.log.replace_text(namespace, turn_id, old.text[:start] + text + old.text[end:])
            with self.log.transaction():
                fact_ids = self.hierarchy.forget_turns(namespace, [turn.seq])
                self.hypergraph.forget_facts(namespace, fact_ids)
            self._delete(namespace, "turns", [turn.seq])
            self._delete(namespace, "facts", fact_ids)
            if is_evidence(turn):
                self.mode.index(self, namespace, [turn])
                self.mode.consolidate(self, namespace, sessions={turn.session})
        return turn

    def _turn(self, namespace: str, turn_id: str) -> Turn:
        try:
            return self.log.turn(turn_id, namespace)
        except KeyError:
            raise InputError(f"There is no turn {turn_id!r} in namespace {namespace!r}; list them with `hyperloom search` or the inspector.") from None

    def _forget_entity(self, namespace: str, name: str) -> int:
        turn_ids = self.mode.entity_turns(self, namespace, name)
        return self._cascade(namespace, [seq for t in turn_ids for seq in self.log.forget(namespace, turn=t)])

    def _forget_namespace(self, namespace: str) -> int:
        if namespace not in self.log.namespaces():
            raise InputError(f"There is no namespace {namespace!r} here; the ones that exist are: {', '.join(self.log.namespaces()) or 'none'}.")
        seqs = self.log.forget(namespace)
        self._clear_derived(namespace)
        return len(seqs)

    def _clear_derived(self, namespace: str) -> None:
        """Empty every derived store of the namespace: structure tables, caches, indexes and their files."""
        with self.log.transaction():
            self.hierarchy.forget_namespace(namespace)
            self.hypergraph.forget_namespace(namespace)
        self._forget_spoken(namespace)
        for level in LEVELS:
            self.collection(namespace, level).drop()

    def reindex(self, namespace: str) -> int:
        """Rebuild every derived store of the namespace (indexes, facts, hypergraph, scenes) from the log alone,
        whatever state the index files are in."""
        validate_namespace(namespace)
        with self._locks.hold(namespace):
            for level in LEVELS:  # not opened from their files: those may be what is damaged
                self._collections[(namespace, level)] = self._open(namespace, level, load=False)
            self._clear_derived(namespace)
            turns = self.log.turns(namespace, evidence=True)
            self._index_in_batches(namespace, turns)
            self.mode.consolidate(self, namespace)
            self.log.bump(namespace)  # every other process's view of the indexes is now out of date
            self._written(namespace)
            return len(turns)

    def _index_in_batches(self, namespace: str, turns: list[Turn]) -> None:
        """Derive and index turns a batch at a time: the facts and vectors of a 100k-turn file at once took
        2.2 GB before the indexes held a vector; a batch is larger than any LoCoMo or LongMemEval conversation."""
        for k in range(0, len(turns), INDEX_BATCH):
            self.mode.index(self, namespace, turns[k : k + INDEX_BATCH])

    def _index_turns_and_facts(self, namespace: str, turns: list[Turn], facts: list[Fact]) -> None:
        """Embed turns, and only the facts that say more than their turn's vector does.

        A fact that is its turn's only sentence, or a short one ("Wow!"), reuses the
        turn's vector: embedding is most of the cost of remembering.
        """
        turn_vectors = self._index(namespace, "turns", turns)
        row = {t.seq: i for i, t in enumerate(turns)}
        per_turn: dict[int, int] = {}
        for f in facts:
            per_turn[f.turn_seq] = per_turn.get(f.turn_seq, 0) + 1
        reuse = {f.id: turn_vectors[row[f.turn_seq]] for f in facts if f.turn_seq in row and (per_turn[f.turn_seq] == 1 or len(f.text.split()) < 5)}
        self._index(namespace, "facts", facts, reuse)

    def _index(self, namespace: str, level: str, items: list, known: dict[int, np.ndarray] | None = None) -> np.ndarray:
        """Embed (except ids in `known`) and add to the level's collection; returns the vectors."""
        if not items:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        vectors = self._embed(level, items, known or {})
        self._forget_spoken(namespace)
        self.collection(namespace, level).add(items, vectors)
        return vectors

    def _embed(self, level: str, items: list, known: dict[int, np.ndarray] | None = None) -> np.ndarray:
        ids, texts, _ = documents(level, items)
        known = known or {}
        todo = [j for j, i in enumerate(ids) if i not in known]
        fresh = dict(zip(todo, self.embedder.embed_many([texts[j] for j in todo], self.config.embed_batch_size)))
        return np.stack([known[i] if i in known else fresh[j] for j, i in enumerate(ids)])

    def _delete(self, namespace: str, level: str, ids: list[int]) -> None:
        self._forget_spoken(namespace)
        self.collection(namespace, level).delete(ids)

    def spoken(self, namespace: str, speaker: str) -> dict[int, int]:
        """fact id -> turn seq of everything one speaker said (cached until the namespace changes)."""
        key = (namespace, speaker)
        if key not in self._spoken:
            self._spoken[key] = dict(self.hierarchy.spoken_by(namespace, speaker))
        return self._spoken[key]

    def _forget_spoken(self, namespace: str) -> None:
        for key in [k for k in self._spoken if k[0] == namespace]:
            del self._spoken[key]

    def _dimension_vectors(self) -> dict[str, np.ndarray]:
        """The persona dimensions' descriptions, embedded once per store (they never change)."""
        if self._dimensions is None:
            names = list(DIMENSIONS)
            self._dimensions = dict(zip(names, self.embedder.embed_many([DIMENSIONS[n] for n in names])))
        return self._dimensions

    # -- sharing the directory: locks, the change counter, reconciliation -----------

    def _writing(self, namespace: str, *, removes: bool = False):
        """The namespace's lock, with this process's view brought up to the log first and saved after;
        `removes`: the write deletes or overwrites text, so the log's WAL is emptied afterwards."""
        validate_namespace(namespace)
        return _Write(self, namespace, removes)

    def sync(self, namespace: str) -> None:
        """Bring this process's indexes of the namespace up to the log: reload what another process saved,
        then index what is missing and drop what is gone (after a crash, only what differs)."""
        if self._seen.get(namespace) == self.log.version(namespace):
            return
        with self._locks.hold(namespace):
            version = self.log.version(namespace)
            if self._seen.get(namespace) == version:
                return
            self._forget_spoken(namespace)
            first = namespace not in self._seen  # this process's first look: a crash may have left anything behind
            for (ns, _), collection in list(self._collections.items()):
                if ns == namespace:
                    collection.refresh()  # what another process saved: only what it added or deleted, where the files allow
            if (first or self._sizes_differ(namespace)) and self._reconcile(namespace):
                self.save(namespace)
            self._seen[namespace] = version

    def _sizes_differ(self, namespace: str) -> bool:
        """Whether any open index holds another number of entries than its table: a writer that crashed
        between the log and its index files (reconciling reads every turn, so it is not done every time)."""
        sizes = {"turns": self.log.count(namespace, evidence=True)} | self.hierarchy.sizes(namespace)
        return any(len(c) != sizes[level] for (ns, level), c in self._collections.items() if ns == namespace and level in self.mode.levels)

    def _written(self, namespace: str) -> None:
        """End of a write: files saved for the other processes, and this process's view marked current."""
        self.save(namespace)
        self._seen[namespace] = self.log.version(namespace)

    def _reconcile(self, namespace: str) -> bool:
        """Make each level's index hold exactly the log's evidence and the tables derived from it; True if anything changed."""
        turns = set(self.log.seqs(namespace, evidence=True))
        stale = self._align(namespace, "turns", turns)
        bare, more = self.mode.behind(self, namespace, turns)
        stale += more
        if stale or bare:
            self.notices.append(f"The memory of namespace {namespace!r} was behind its turn log ({bare} turns without facts, {stale} index entries out of date); rebuilt it from the turn log.")
        return bool(stale or bare)

    def _align(self, namespace: str, level: str, ids: set[int]) -> int:
        """Make the level's collection hold exactly these ids, embedding what it lacks; how many changed."""
        self._forget_spoken(namespace)
        return self.collection(namespace, level).align(ids, lambda missing: self._embed(level, missing))

    def save(self, namespace: str | None = None) -> None:
        for (ns, _), collection in list(self._collections.items()):
            if namespace is None or ns == namespace:
                collection.save()

    # -- derived stores, opened lazily -------------------------------------------

    def collection(self, namespace: str, level: str = "turns") -> Collection:
        """The level's vectors and BM25 as this process holds them (call `sync` first to see other processes' writes)."""
        key = (namespace, level)
        if key not in self._collections:
            self._collections[key] = self._open(namespace, level)
        return self._collections[key]

    def vectors(self, namespace: str, level: str = "turns") -> VectorIndex:
        return self.collection(namespace, level).vectors

    def bm25(self, namespace: str, level: str = "turns") -> BM25:
        return self.collection(namespace, level).bm25

    def _items(self, namespace: str, level: str, ids: list[int]) -> list:
        """What a level indexes with these ids, in conversation order."""
        if level == "turns":
            return self.log.turns(namespace, ids, evidence=True)
        if level == "facts":
            return [f for _, f in sorted(self.hierarchy.facts_by_id(ids, namespace).items())]
        return self.hierarchy.scenes(namespace, ids)

    def _ids(self, namespace: str, level: str) -> list[int]:
        """The ids of every item a level indexes, in conversation order."""
        if level == "turns":
            return self.log.seqs(namespace, evidence=True)
        if level == "facts":
            return self.hierarchy.fact_ids(namespace)
        return [s[0] for s in self.hierarchy.scenes(namespace)]

    def _open(self, namespace: str, level: str, *, load: bool = True) -> Collection:
        return Collection(level, self._open_vectors(namespace, level, load=load), lambda ids: self._items(namespace, level, ids), lambda: self._ids(namespace, level))

    def _open_vectors(self, namespace: str, level: str, *, load: bool = True) -> VectorIndex:
        c = self.config
        key = namespace if level == "turns" else f"{namespace}\x1f{level}"  # validated names hold no \x1f: keys never collide
        if c.vector_backend == "chroma":
            return ChromaIndex(self.log.vector_key(key), path=c.home / "chroma", url=c.chroma_url)
        path = c.home / "vectors" / f"{safe_name(key)}.hnsw"
        options = {"m": c.hnsw_m, "ef_construction": c.hnsw_ef_construction, "ef_search": c.hnsw_ef_search}
        try:
            return HnswIndex(path, self.embedder.dim, load=load, **options)
        except IndexDamaged as exc:
            self.notices.append(f"{exc} Rebuilt it from the turn log.")
            return HnswIndex(path, self.embedder.dim, load=False, **options)  # saving overwrites the damaged files

    # -- reading ---------------------------------------------------------------

    def view(self, namespace: str) -> MemoryView:
        """What retrieval may read of one namespace: read-only, bound to it (call under its lock, after `sync`)."""
        return MemoryView(self, validate_namespace(namespace))

    def warm_up(self, namespace: str) -> None:
        """Open and reconcile the namespace's indexes and build its BM25 now, not at the first search."""
        with self._locks.hold(namespace):
            self.sync(namespace)
            for level in self.mode.levels:
                self.bm25(namespace, level)

    def counts(self, namespace: str) -> tuple[int, int, int, int]:
        """(turns, facts, scenes, entities) of a namespace, counted in SQL."""
        sizes = self.hierarchy.sizes(namespace)
        return self.log.count(namespace), sizes["facts"], sizes["scenes"], len(self.hypergraph.entity_names(namespace))

    def search(self, query: str, k: int = 10, namespace: str | None = None, filters: Filters | None = None, *, candidates: int | None = None) -> list[Hit]:
        """The k best turns; `candidates` (per level searched) trades recall for speed, e.g. for sub-queries.

        Runs under the namespace's lock, so another process's forget can never leave it half-seen.
        """
        namespace = validate_namespace(namespace or self.config.namespace)
        check_query(query, k)
        with self._locks.hold(namespace):
            self.sync(namespace)
            return self.mode.search(self, query, k, namespace, filters, candidates)


class _Write:
    """`with store._writing(ns):` — the namespace's lock; synced on entry, saved on a clean exit (re-entrant)."""

    def __init__(self, store: MemoryStore, namespace: str, removes: bool):
        self.store, self.namespace, self.removes = store, namespace, removes
        self._held = store._locks.hold(namespace)

    def __enter__(self) -> None:
        self._held.__enter__()
        try:
            self.store.sync(self.namespace)
        except BaseException:
            self._held.__exit__(None, None, None)
            raise

    def __exit__(self, kind, exc, tb) -> None:
        try:
            if kind is None:
                self.store._written(self.namespace)
                if self.removes:
                    self.store.log.purge()  # forgotten rows leave the WAL too (a checkpoint costs an fsync: not after every remember)
                    with self.store.log.lock:  # PostgreSQL: rewrite the tables that held the rows, drop the WAL that did (db.py)
                        self.store.notices.extend(self.store.log.db.purge())
        finally:
            self._held.__exit__(kind, exc, tb)


def _ensure_private_dir(home: Path) -> None:
    """The data directory exists, is writable, and when created here is the owner's alone (0700)."""
    try:
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"Cannot create the data directory {home} ({exc.strerror}); choose another with --home or HYPERLOOM_HOME.") from None
    if not home.is_dir():
        raise StorageError(f"The data directory {home} is not a directory; choose another with --home or HYPERLOOM_HOME.")
    if not os.access(home, os.W_OK | os.X_OK):
        raise StorageError(f"The data directory {home} is not writable; fix its permissions or choose another with --home or HYPERLOOM_HOME.")
