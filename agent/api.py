"""`Agent`: the library API every front end uses (the terminal UI, the evaluation harness, your code).

>>> from hyperloom import Agent
>>> agent = Agent.open(home, namespace="alice", model="none")
>>> _ = agent.remember("I moved to Porto last week.", speaker="alice", time="2024-03-12T10:00:00")
>>> answer = agent.ask("Where did alice move?")
>>> c = answer.citations[0]
>>> agent.turn(c.turn_id).text[c.start:c.end] == c.quote
True
>>> agent.close()

Every method has an async twin (`achat`, `aask`, `astream`, ...) that runs the same
code in a worker thread, so the two can never disagree.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from hyperloom.agent import llm
from hyperloom.agent.answerers import Answerer, LocalQuoter, answerer_for
from hyperloom.agent.critic import Critic, LLMCritic, default_critic
from hyperloom.agent.state import Answer, AnswerUsage, Citation, Context, Round, Trace, citation_from_dict, hit_from_dict
from hyperloom.config import Config
from hyperloom.errors import InputError
from hyperloom.memory.formats import Conversation
from hyperloom.memory.hierarchy import Fact
from hyperloom.memory.hypergraph import Point
from hyperloom.memory.log import Session, Turn, validate_namespace
from hyperloom.memory.store import MemoryStore
from hyperloom.memory.temporal import parse_anchor
from hyperloom.retrieval.embed import Embedder
from hyperloom.retrieval.search import Filters, Hit

_DONE = object()


@dataclass(frozen=True, slots=True)
class MemoryStats:
    turns: int
    facts: int
    scenes: int
    entities: int


class Stream:
    """Text chunks of an answer as they are written; `.answer` holds the verified `Answer` once iteration ends.

    The streamed text is the model's draft: `answer.text` is final (quotes that failed
    verification are repaired or removed there).
    """

    def __init__(self, chunks: Iterator[str]):
        self._chunks = chunks
        self.answer: Answer | None = None

    def __iter__(self) -> Iterator[str]:
        return self._chunks

    def close(self) -> None:
        """Abandon the answer: the run stops at the next chunk and nothing of it is remembered."""
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()


class Agent:
    """A memory agent over one data directory and namespace. Open it with `Agent.open`; close it (or use `with`)."""

    def __init__(self, config: Config, *, store: MemoryStore | None = None, session: str | None = None, speaker: str = "user", critic: Critic | None = None, embedder: Embedder | None = None):
        self.config = config
        self.namespace = validate_namespace(config.namespace)
        self.store = store or MemoryStore(config, embedder=embedder)
        self.session = session or _new_session_id()
        self.speaker = speaker
        self._critic = critic
        self._answerer: Answerer | None = None
        self._graph = None
        self._graph_lock = threading.Lock()
        self.last_answer: Answer | None = None
        self._told: set[str] = set()  # standing notices (a fallback critic or answerer) already taken by a front end

    @classmethod
    def open(cls, home: str | Path | None = None, namespace: str | None = None, *, model: str | None = None, session: str | None = None, speaker: str = "user", config: Config | None = None, critic: Critic | None = None, embedder: Embedder | None = None, **settings: Any) -> "Agent":
        """An agent on the embedded defaults unless told otherwise; `settings` are `Config` fields.
        `embedder` replaces the configured one (e.g. one already loaded, shared by several agents)."""
        overrides = {"home": Path(home) if home is not None else None, "namespace": namespace, "model": model, **settings}
        if config is not None:
            config = config.model_copy(update={k: v for k, v in overrides.items() if v is not None})
        else:
            config = Config.load(**overrides)
        _check_model(config.model, config.api_base)
        return cls(config, session=session, speaker=speaker, critic=critic, embedder=embedder)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> "Agent":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- answering --------------------------------------------------------------------------------

    def chat(self, question: str, *, speaker: str | None = None) -> Answer:
        """Answer, and remember both the question and the answer as turns of the current session."""
        return self._run(question, remember=True, speaker=speaker)

    def ask(self, question: str, *, speaker: str | None = None, now: str | None = None) -> Answer:
        """Answer without remembering the exchange. `now` (ISO) is when the question is asked, for "last week"."""
        return self._run(question, remember=False, speaker=speaker, now=now)

    def stream(self, question: str, *, remember: bool = True, speaker: str | None = None, now: str | None = None) -> Stream:
        """`for chunk in agent.stream(q)`: the answer as it is written; then `stream.answer`."""
        holder = Stream(iter(()))
        holder._chunks = self._chunks(question, remember, speaker, now, holder)
        return holder

    def _run(self, question: str, *, remember: bool, speaker: str | None, now: str | None = None) -> Answer:
        holder = Stream(iter(()))
        for _ in self._chunks(question, remember, speaker, now, holder):
            pass
        assert holder.answer is not None
        return holder.answer

    def _chunks(self, question: str, remember: bool, speaker: str | None, now: str | None, holder: Stream) -> Iterator[str]:
        if not isinstance(question, str) or not question.strip():
            raise InputError("The question is empty; ask something.")
        ctx = self._context(remember, speaker, now)
        final: dict = {}
        # No checkpointer: the only state a run needs from earlier ones is the session's recent lines, and the
        # log holds those. So forgetting a turn forgets it from the conversation state too, with nothing to purge.
        start = {"question": question, "history": self._history()}
        events = self._compiled().stream(start, context=ctx, stream_mode=["custom", "values"])
        try:
            for mode, payload in events:
                if mode == "custom":
                    yield payload
                else:
                    final = payload
        finally:
            events.close()  # stopped early (Stream.close, an exception): end LangGraph's run, not just our loop
        holder.answer = self.last_answer = _answer(final, ctx)

    def _context(self, remember: bool, speaker: str | None, now: str | None) -> Context:
        return Context(self.store, self.namespace, self.session, speaker or self.speaker, self.config.model, self.critic, self.answerer, remember=remember, max_rounds=self.config.max_rounds, k=self.config.first_k, k_more=self.config.more_k, llm_options=self._llm_options(), now=now)

    def _llm_options(self) -> dict:
        options = {"timeout": self.config.llm_timeout}
        return options | ({"api_base": self.config.api_base} if self.config.api_base else {})

    @property
    def answerer(self) -> Answerer:
        """Who answers, chosen once from the model name: the reader (no LLM), the local model, or a litellm model."""
        if self._answerer is None:
            self._answerer = answerer_for(self.config.model, reader_weights=self.config.reader_weights)
        return self._answerer

    @property
    def critic(self) -> Critic:
        """The reading critic (`critic_weights`, else the one shipped), or an LLM critic when a capable API model answers.
        Unreadable weights mean fixed-k retrieval with a notice, never a failed question."""
        if self._critic is None:
            capable = self.answerer.writes_freely
            self._critic = LLMCritic(self.config.model, self._llm_options()) if capable else default_critic(self.config.critic_weights)
        return self._critic

    def _history(self) -> list[str]:
        """The current session's last lines, "speaker: text", oldest first (what pronouns refer back to)."""
        from hyperloom.agent.graph import HISTORY

        return [f"{t.speaker}: {t.text}" for t in self.store.log.session_tail(self.namespace, self.session, HISTORY)]

    def _compiled(self):
        with self._graph_lock:
            if self._graph is None:
                from hyperloom.agent.graph import build

                self._graph = build().compile()
            return self._graph

    # -- memory -----------------------------------------------------------------------------------

    def remember(self, text: str, speaker: str | None = None, *, session: str | None = None, time: str | None = None, role: str = "user") -> Turn:
        """Store one turn (committed before this returns) and everything derived from it."""
        session = session or self.session
        when = _when(time)
        turn = Turn(f"{session}:{uuid.uuid4().hex[:10]}", text, speaker or self.speaker, session, role, when)
        return self.store.remember([turn], self.namespace, [Session(session, when)])[0]

    def ingest(self, source: str | Path | Conversation) -> list[Conversation]:
        """Load a conversation file (LoCoMo or hyperloom JSON), validated before any write, or an already
        loaded `Conversation`, into this namespace; then consolidate its structure."""
        if isinstance(source, Conversation):
            return self.store.add_conversations([source], self.namespace)
        return self.store.ingest(Path(source), self.namespace)

    def reindex(self) -> int:
        """Rebuild every derived store of this namespace from the turn log, whatever the index files hold."""
        return self.store.reindex(self.namespace)

    def namespaces(self) -> list[str]:
        """Every namespace of this data directory."""
        return self.store.log.namespaces()

    def search(self, query: str, k: int = 10, *, speaker: str | None = None, session: str | None = None, since: str | None = None, until: str | None = None) -> list[Hit]:
        """The k best turns for `query` (hybrid HNSW + BM25, with structure), each with its verbatim spans.
        `since`/`until` are dates (ISO, or any complete written date); an unreadable one is an `InputError`."""
        since, until = _date_bound("since", since), _date_bound("until", until)
        filters = Filters(speaker, session, since, until) if any((speaker, session, since, until)) else None
        return self.store.search(query, k, self.namespace, filters)

    def forget(self, *, turn: str | None = None, session: str | None = None, entity: str | None = None, namespace: bool = False) -> int:
        """Forget one turn, a session, every turn mentioning an entity, or (`namespace=True`) everything here.

        Returns the number of turns forgotten. The agent's answers that quoted a
        forgotten turn are forgotten with it (they repeat its words).
        """
        if not (turn or session or entity or namespace):
            raise InputError("Say what to forget: turn=, session=, entity=, or namespace=True for everything in this namespace.")
        return self.store.forget(self.namespace, turn=turn, session=session, entity=entity)

    def correct(self, fact_id: int, text: str) -> Turn:
        """Replace what a fact says, in the turn it came from; the corrected turn is re-derived everywhere."""
        fact = self.fact(fact_id)
        return self.store.correct(self.namespace, fact.turn_id, fact.start, fact.end, text)

    # -- reading memory ---------------------------------------------------------------------------

    def turn(self, turn_id: str) -> Turn:
        return self.store._turn(self.namespace, turn_id)

    def turns(self, session: str | None = None) -> list[Turn]:
        turns = self.store.log.turns(self.namespace)
        return [t for t in turns if session is None or t.session == session]

    def sessions(self) -> list[Session]:
        return self.store.log.sessions(self.namespace)

    def speakers(self) -> list[str]:
        return self.store.log.speakers(self.namespace)

    def facts(self) -> list[Fact]:
        return self.store.hierarchy.facts(self.namespace)

    def fact(self, fact_id: int) -> Fact:
        """One fact of this namespace (a fact of another namespace is not found, whatever its id)."""
        facts = self.store.hierarchy.facts_by_id([fact_id]) if isinstance(fact_id, int) else {}
        # Turn seqs are unique across namespaces (turn ids are not): the fact's own turn must be here.
        if fact_id not in facts or not self.store.log.turns(self.namespace, [facts[fact_id].turn_seq]):
            raise InputError(f"There is no fact {fact_id!r} in namespace {self.namespace!r}.")
        return facts[fact_id]

    def scenes(self) -> list[tuple[int, str, str | None, str | None]]:
        """(id, summary, first time, last time) of every scene."""
        return self.store.hierarchy.scenes(self.namespace)

    def scene_facts(self, scene: int) -> list[Fact]:
        """The facts of one scene of this namespace (a scene of another namespace is not found)."""
        if scene not in {s[0] for s in self.scenes()}:
            raise InputError(f"There is no scene {scene!r} in namespace {self.namespace!r}.")
        ids = self.store.hierarchy.scene_facts(scene)
        return list(self.store.hierarchy.facts_by_id(ids).values())

    def persona(self, speaker: str) -> dict[str, list[tuple[int, float]]]:
        """Per dimension (basic info, interests, ...), the supporting scenes with their scores."""
        return self.store.hierarchy.persona(self.namespace, speaker)

    def entities(self) -> dict[str, str]:
        """Entity name → kind."""
        return self.store.hypergraph.entity_names(self.namespace)

    def aliases(self) -> dict[str, str]:
        """Alias (lower case) → entity name."""
        return self.store.hypergraph.aliases(self.namespace)

    def points(self, entity: str | None = None) -> list[Point]:
        """Memory points (hyperedges), or those within two hops of `entity`."""
        if entity is None:
            return self.store.hypergraph.points(self.namespace)
        return [self.store.hypergraph.point(p) for p in sorted(self.store.hypergraph.neighbourhood(self.namespace, [entity]))]

    def take_notices(self) -> list[str]:
        """What the memory repaired since the last call (a damaged index rebuilt from the log, ...), and what the
        answering side stands in for (unreadable critic or reader weights, once each), for a front end to show once."""
        said, self.store.notices[:] = list(self.store.notices), []
        standing = [getattr(part, "notice", None) for part in (self._critic, self._answerer) if part is not None]
        fresh = [n for n in dict.fromkeys(standing) if n and n not in self._told]
        self._told.update(fresh)
        return said + fresh

    def stats(self) -> MemoryStats:
        """Counts only (no rows are loaded): cheap enough for a status line after every change."""
        return MemoryStats(*self.store.counts(self.namespace))

    def warm_up(self, *, model: bool = True) -> None:
        """Open the indexes, compile the graph and (unless `model=False`) load the answering model now,
        so the first question does not wait for them."""
        self.store.warm_up(self.namespace)
        self._compiled()
        self.answerer
        if model and isinstance(self.answerer, LocalQuoter):
            from hyperloom.agent import local

            local.load(self.config.model)

    def export(self, path: str | Path) -> int:
        """Write this namespace as a hyperloom JSON conversation (readable by `ingest`); returns the turns written."""
        turns = self.turns()
        sessions = [{"id": s.id, "started_at": s.started_at, "title": s.title, "turns": [{"id": t.id, "speaker": t.speaker, "text": t.text, "role": t.role, "time": t.created_at} for t in turns if t.session == s.id]} for s in self.sessions()]
        target = Path(path)
        try:
            tmp = target.with_name(target.name + ".tmp")
            tmp.write_text(json.dumps({"name": self.namespace, "sessions": sessions}, indent=1, ensure_ascii=False))
            tmp.replace(target)
        except OSError as exc:
            raise InputError(f"Cannot write {target} ({exc.strerror}); choose a writable path.") from None
        return len(turns)

    # -- switching --------------------------------------------------------------------------------

    def new_session(self, session: str | None = None) -> str:
        self.session = session or _new_session_id()
        return self.session

    def use_model(self, model: str) -> None:
        """Answer with another model from now on (checked first: an unknown name or a missing key changes nothing)."""
        _check_model(model, self.config.api_base)
        self.config = self.config.model_copy(update={"model": model})
        self._critic = self._answerer = None
        self._told.clear()

    def use_namespace(self, namespace: str) -> None:
        validate_namespace(namespace)
        self.config = self.config.model_copy(update={"namespace": namespace})
        self.namespace = namespace
        self.session = _new_session_id()

    # -- async twins: the same code, in a worker thread -------------------------------------------

    async def achat(self, question: str, **kw: Any) -> Answer:
        return await asyncio.to_thread(self.chat, question, **kw)

    async def aask(self, question: str, **kw: Any) -> Answer:
        return await asyncio.to_thread(self.ask, question, **kw)

    async def aremember(self, text: str, speaker: str | None = None, **kw: Any) -> Turn:
        return await asyncio.to_thread(self.remember, text, speaker, **kw)

    async def asearch(self, query: str, k: int = 10, **kw: Any) -> list[Hit]:
        return await asyncio.to_thread(self.search, query, k, **kw)

    async def aingest(self, path: str | Path) -> list[Conversation]:
        return await asyncio.to_thread(self.ingest, path)

    async def aforget(self, **kw: Any) -> int:
        return await asyncio.to_thread(self.forget, **kw)

    async def astream(self, question: str, **kw: Any) -> AsyncIterator[str]:
        """`async for chunk in agent.astream(q)`; the sync stream runs in a thread and hands chunks over."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()
        stream = self.stream(question, **kw)

        def pump() -> None:
            try:
                for chunk in stream:
                    loop.call_soon_threadsafe(queue.put_nowait, chunk)
                loop.call_soon_threadsafe(queue.put_nowait, _DONE)
            except BaseException as exc:  # noqa: BLE001 — re-raised in the caller's task
                loop.call_soon_threadsafe(queue.put_nowait, exc)

        worker = loop.run_in_executor(None, pump)
        while (item := await queue.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield item
        await worker
        self.last_answer = stream.answer


def _answer(final: dict, ctx: Context) -> Answer:
    rounds = [Round.from_record(r) for r in final.get("rounds", [])]
    notices = list(final.get("notices") or [])
    trace = Trace(rounds, dict(final.get("timings") or {}), final.get("query", ""), notices)
    usage = ctx.ledger.usage
    spent = AnswerUsage(len(ctx.ledger.calls), usage.prompt_tokens, usage.completion_tokens, ctx.ledger.cost)
    citations: list[Citation] = [citation_from_dict(c) for c in final.get("citations", [])]
    evidence = [hit_from_dict(d) for d in final.get("evidence", [])]
    return Answer(final.get("text", ""), citations, len(rounds), trace, spent, time.perf_counter() - ctx.started, ctx.model, evidence, " ".join(notices) or None, final.get("fallback"), final.get("confidence"),
                  bool((final.get("reading") or {}).get("verdict")))


def _check_model(model: str, api_base: str | None) -> None:
    """An unknown model name or a missing API key fails at open, not at the first question."""
    llm.check_model(model, api_base=api_base)


def _when(time: str | None) -> str:
    """The turn's time as ISO: now when not given; an unreadable one is refused, never stored as it came."""
    if time is None:
        return datetime.now().astimezone().isoformat(timespec="seconds")
    parsed = parse_anchor(time) if isinstance(time, str) else None
    if parsed is None:
        raise InputError(f"The time {time!r} is not a date I can read; give an ISO time such as 2024-03-12T10:00:00.")
    return parsed.isoformat(timespec="seconds")


def _date_bound(name: str, value: str | None) -> str | None:
    if value is None:
        return None
    parsed = parse_anchor(value) if isinstance(value, str) else None
    if parsed is None:
        raise InputError(f"--{name} {value!r} is not a date I can read; give an ISO date such as 2024-03-12.")
    # Filters compare ISO strings by prefix ("until 2024-03-12" keeps that whole day): an ISO bound stays as given.
    return value if re.match(r"\d{4}-\d{2}", value) else parsed.date().isoformat()


def _new_session_id() -> str:
    return f"chat-{datetime.now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:4]}"
