"""`HyperloomStore`: LangGraph's `BaseStore` over hyperloom, so a LangGraph agent's long-term memory is verbatim,
hybrid-searched, namespace-sealed and forgotten everywhere. The layout is in `langgraph_keys`.

>>> store = HyperloomStore("./mem")
>>> store.put(("memories", "alice"), "home", {"text": "Alice moved to Porto in March."})
>>> store.get(("memories", "alice"), "home").value
{'text': 'Alice moved to Porto in March.'}
>>> [item.key for item in store.search(("memories",), query="where does alice live")]
['home']
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from langgraph.store.base import BaseStore, GetOp, InvalidNamespaceError, Item, ListNamespacesOp, Op, PutOp, Result, SearchItem, SearchOp, validate_op_namespace

from hyperloom import Agent
from hyperloom.errors import InputError
from hyperloom.integrations import langgraph_keys as keys
from hyperloom.integrations.namespaces import Namespaces
from hyperloom.memory.log import Session, Turn

SPEAKER = "memory"  # who "says" an item's text: LangGraph values have no speaker


class HyperloomStore(BaseStore):
    """A LangGraph store in a hyperloom data directory (`home`: the configured one if None).

    `fields`: the value paths search indexes when a `put` gives no `index=` (None: every string in the
    value). `prefix` starts every hyperloom namespace this store makes, keeping them apart from chats.
    Search scores are hyperloom's fused hybrid scores (higher is better), not cosine similarities.
    """

    def __init__(self, home: str | Path | None = None, *, fields: list[str] | None = None, prefix: str = "lg", namespaces: Namespaces | None = None, **settings: Any):
        keys.hyperloom_name(prefix, ("x",))  # an invalid prefix fails here, not at the first put
        self.prefix, self.fields = prefix, fields
        self._owned = namespaces is None
        self.namespaces = namespaces or Namespaces.open(home, prefix, **{"model": "none", **settings})

    def close(self) -> None:
        if self._owned:
            self.namespaces.close()

    def __enter__(self) -> "HyperloomStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Reads see the store as it was before the batch; then its puts apply, the last one per item winning
        (as in LangGraph's own stores)."""
        ops = list(ops)
        for op in ops:
            validate_op_namespace(op)
        results = [None if isinstance(op, PutOp) else self._read(op) for op in ops]
        puts = {(op.namespace, op.key): op for op in ops if isinstance(op, PutOp)}
        for op in puts.values():
            self._put(op)
        return results

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        return await asyncio.to_thread(self.batch, list(ops))

    def _read(self, op: Op) -> Result:
        if isinstance(op, GetOp):
            return self._get(op.namespace, op.key)
        if isinstance(op, SearchOp):
            return self._search(op)
        if isinstance(op, ListNamespacesOp):
            return self._list(op)
        raise ValueError(f"Unknown operation type: {type(op).__name__}.")

    # -- items ------------------------------------------------------------------------------------

    def _get(self, namespace: tuple[str, ...], key: str) -> Item | None:
        name = self._name(namespace)
        if not self.namespaces.exists(name):
            return None
        with self.namespaces.use(name) as agent:
            return _item(agent, namespace, key, _created(agent))

    def _put(self, op: PutOp) -> None:
        if not op.namespace:
            raise InvalidNamespaceError("Namespace cannot be empty.")
        name = self._name(op.namespace)
        with self.namespaces.use(name) as agent:
            created = _created(agent).get(op.key)
            _forget(agent, op.key)
            if op.value is not None:
                self._remember(agent, op, created)

    def _remember(self, agent: Agent, op: PutOp, created: str | None) -> None:
        """The value turn and (if it has any) the text turn, in one transaction, each quoting the other.
        Through `agent.store.remember`, the write path `Agent.remember` takes, since only it links turns."""
        now = datetime.now(timezone.utc).isoformat()
        value = dict(op.value)
        turns = [Turn(op.key + keys.VALUE, keys.dumps(value), SPEAKER, op.key, "assistant", now)]
        text = "" if op.index is False else keys.indexed_text(value, self.fields if op.index is None else op.index)
        if text:
            turns.append(Turn(op.key + keys.TEXT, text, SPEAKER, op.key, "user", now))
        ids = [t.id for t in turns]
        agent.store.remember(turns, agent.namespace, [Session(op.key, created or now)], quotes=list(zip(ids, reversed(ids))) if text else [])

    # -- search and namespaces --------------------------------------------------------------------

    def _search(self, op: SearchOp) -> list[SearchItem]:
        found: list[SearchItem] = []
        texts: dict[tuple, str] = {}  # (namespace, key) -> the indexed text of a ranked item
        ranking = 0  # namespaces whose hybrid search ranked something
        for namespace, name in self._under(op.namespace_prefix):
            with self.namespaces.use(name) as agent:
                if op.query:
                    ranked = _ranked(agent, namespace, op, texts)
                    ranking += any(item.score is not None for item in ranked)
                    found += ranked
                else:
                    found += _listed(agent, namespace, op)
        if op.query and ranking > 1:
            self._rescore(op.query, found, texts)
        if op.query:
            found.sort(key=lambda item: (item.score is None, -(item.score or 0.0)))  # unranked (nothing indexed) last
        else:
            found.sort(key=lambda item: (item.created_at, item.key))
        return found[op.offset : op.offset + op.limit]

    def _rescore(self, query: str, found: list[SearchItem], texts: dict[tuple, str]) -> None:
        """Each namespace's fused scores are normalised within it (its best hit scores about the same however
        weak), so hits from several namespaces are ordered by one measure instead: the cosine of the query's
        vector and the item's indexed text."""
        ranked = [item for item in found if item.score is not None]
        vectors = np.asarray(self.namespaces.root.store.embedder.embed_batch([query] + [texts[(i.namespace, i.key)] for i in ranked]), dtype=np.float64)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True).clip(1e-12)
        for item, score in zip(ranked, vectors[1:] @ vectors[0]):
            item.score = float(score)

    def _list(self, op: ListNamespacesOp) -> list[tuple[str, ...]]:
        names = {ns for ns, _ in self._under(()) if keys.namespace_matches(op.match_conditions, ns)}
        if op.max_depth is not None:
            names = {ns[: op.max_depth] for ns in names}
        return sorted(names)[op.offset : op.offset + op.limit]

    def _under(self, prefix: tuple[str, ...]) -> list[tuple[tuple[str, ...], str]]:
        """(tuple, hyperloom name) of this store's namespaces under `prefix` that hold an item."""
        found = []
        for name in self.namespaces.root.namespaces():
            namespace = keys.langgraph_namespace(self.prefix, name)
            if namespace is not None and namespace[: len(prefix)] == prefix and self.namespaces.agent(name).sessions():
                found.append((namespace, name))
        return found

    def _name(self, namespace: tuple[str, ...]) -> str:
        return keys.hyperloom_name(self.prefix, namespace)


def _created(agent: Agent) -> dict[str, str | None]:
    """Key → when the item was first put (its session's start), for every item of the namespace."""
    return {s.id: s.started_at for s in agent.sessions()}


def _item(agent: Agent, namespace: tuple[str, ...], key: str, created: dict[str, str | None], score: float | None = None, kind: type = Item) -> Any:
    try:
        turn = agent.turn(key + keys.VALUE)
    except InputError:
        return None  # never put, deleted, or forgotten from outside the store
    args = {"namespace": namespace, "key": key, "value": keys.loads(turn.text), "created_at": created.get(key) or turn.created_at, "updated_at": turn.created_at}
    return kind(**args, score=score) if kind is SearchItem else kind(**args)


def _forget(agent: Agent, key: str) -> None:
    try:
        agent.forget(session=key)
    except InputError:
        pass  # nothing is stored under that key: deleting it is a no-op, as in every BaseStore


def _listed(agent: Agent, namespace: tuple[str, ...], op: SearchOp, *, unindexed_only: bool = False) -> list[SearchItem]:
    """Every item of the namespace the filter admits, oldest first (`unindexed_only`: those search cannot rank)."""
    turns, created = agent.turns(), _created(agent)
    indexed = {t.session for t in turns if t.id.endswith(keys.TEXT)} if unindexed_only else set()
    keys_ = [t.session for t in turns if t.id.endswith(keys.VALUE) and t.role == "assistant" and t.session not in indexed]
    items = (_item(agent, namespace, key, created, kind=SearchItem) for key in keys_)
    return [item for item in items if item is not None and keys.matches(op.filter, item.value)]


def _ranked(agent: Agent, namespace: tuple[str, ...], op: SearchOp, texts: dict[tuple, str]) -> list[SearchItem]:
    """Hybrid search over the items' text, deep enough that the filter and the offset still leave `limit`; when
    that is not enough, the items with nothing indexed follow unranked, as LangGraph's in-memory store does."""
    created = _created(agent)
    depth = len(created) if op.filter else op.offset + op.limit
    hits = [h for h in agent.search(op.query, max(depth, 1)) if h.turn_id.endswith(keys.TEXT)]
    ranked = [_item(agent, namespace, h.session, created, h.score, SearchItem) for h in hits]
    ranked = [item for item in ranked if item is not None and keys.matches(op.filter, item.value)]
    texts.update({(namespace, h.session): h.text for h in hits})
    if len(ranked) >= op.offset + op.limit:
        return ranked
    return ranked + _listed(agent, namespace, op, unindexed_only=True)
