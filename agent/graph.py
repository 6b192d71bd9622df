"""The agent's StateGraph: rewrite → retrieve → critic ⟲ → pack → answer → verify → memorize (a line that
tells rather than asks: note → memorize).

Nodes are plain functions of (state, runtime); the per-run `Context` (store, model,
critic) comes through LangGraph's runtime context, so the state stays JSON.
`build()` returns the uncompiled graph; `Agent` compiles it without a
checkpointer: what a run needs of earlier ones is the session's last lines,
read back from the log, so the log stays the one place a turn's text lives.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import datetime
from functools import wraps

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from hyperloom.agent import llm
from hyperloom.agent.cite import check_citations, cite, notice
from hyperloom.agent.conflicts import with_history
from hyperloom.agent.critic import Evidence
from hyperloom.agent.extractive import answer_type
from hyperloom.agent.rewrite import ASSISTANT, rewrite as rewrite_question
from hyperloom.agent.rounds import next_queries, ranking, search_round
from hyperloom.agent.state import Context, State, citation_from_dict, hit_from_dict, hit_to_dict
from hyperloom.memory.log import QUESTION, Session, Turn, is_question
from hyperloom.memory.temporal import parse_anchor
from hyperloom.agent.question import keeps_replaced
from hyperloom.retrieval.pack import pack as pack_evidence

HISTORY = 8  # lines of the session read back for pronoun resolution
NO_ANSWER = "No information available."
NOTED = "Noted."
NOT_KEPT = "That is not a question, and asking keeps nothing: to have it remembered, say it in a chat or remember it."

Node = Callable[[State, Runtime[Context]], dict]


def _timed(stage: str) -> Callable[[Node], Node]:
    """Adds the node's wall time to state['timings'][stage] (summed over critic rounds)."""

    def wrap(node: Node) -> Node:
        @wraps(node)
        def run(state: State, runtime: Runtime[Context]) -> dict:
            started = time.perf_counter()
            update = node(state, runtime)
            # rewrite (or note) starts a run: timings of the thread's previous question do not carry over
            timings = {} if stage in ("rewrite", "note") else dict(state.get("timings") or {})
            timings[stage] = timings.get(stage, 0.0) + (time.perf_counter() - started) * 1000
            return {**update, "timings": timings}

        return run

    return wrap


@_timed("rewrite")
def rewrite(state: State, runtime: Runtime[Context]) -> dict:
    ctx = runtime.context
    speakers = ctx.store.log.speakers(ctx.namespace)
    queries = rewrite_question(state["question"], speaker=ctx.speaker, speakers=speakers, history=state.get("history") or [], now=_now(ctx))
    # A compound question is answered part by part; "who teaches him?" means whom the whole question named.
    parts = [rewrite_question(p, speaker=ctx.speaker, speakers=speakers, history=[f"{ctx.speaker}: {queries[0]}"], now=_now(ctx))[0] for p in queries[1:]]
    return {**_fresh(), "query": queries[0], "queries": queries, "parts": parts or [queries[0]], "answer_type": answer_type(queries[0])}


def _fresh() -> dict:
    """What a run starts from: nothing of the thread's previous question carries over."""
    return {"kind": "initial", "evidence": [], "shape": [], "rounds": [], "notices": [], "timings": {}, "text": "", "citations": [], "draft_citations": [], "fallback": None, "confidence": None}


def asks(state: State) -> str:
    return "rewrite" if is_question(state["question"]) else "note"


@_timed("note")
def note(state: State, runtime: Runtime[Context]) -> dict:
    """A line that tells rather than asks ("I moved to Porto.") is not searched for: memorize keeps it as
    evidence for later questions, and the agent says it took note. Without remembering, nothing is kept."""
    return {**_fresh(), "query": state["question"], "queries": [state["question"]], "parts": [state["question"]], "answer_type": "", "text": NOTED if runtime.context.remember else NOT_KEPT}


@_timed("retrieve")
def retrieve(state: State, runtime: Runtime[Context]) -> dict:
    ctx = runtime.context
    evidence = [hit_from_dict(d) for d in state["evidence"]]
    number = len(state["rounds"]) + 1
    k = ctx.k if number == 1 else ctx.k_more
    started = time.perf_counter()
    if number == 1:  # the question's ranking, deep enough for every round the critic may ask for
        ctx.ranking = ranking(ctx.store, ctx.namespace, state["queries"][0], ctx.k + (ctx.max_rounds - 1) * ctx.k_more)
    new, shape = search_round(ctx.store, ctx.namespace, state["queries"], {h.turn_id for h in evidence}, k, number, ctx.ranking)
    merged = sorted(evidence + new, key=lambda h: -h.score)
    record = {"queries": state["queries"], "kind": state["kind"], "hits": [(h.turn_id, round(h.score, 4)) for h in new], "probability": None, "ms": (time.perf_counter() - started) * 1000}
    # The critic reads the score shape of the question's own first ranking, in every round.
    return {"evidence": [hit_to_dict(h) for h in merged], "rounds": [*state["rounds"], record], **({"shape": shape} if number == 1 else {})}


@_timed("critic")
def critic(state: State, runtime: Runtime[Context]) -> dict:
    from hyperloom.agent.critic import judge

    ctx = runtime.context
    started = time.perf_counter()
    hits = [hit_from_dict(d) for d in state["evidence"]]
    rounds = [dict(r) for r in state["rounds"]]
    # The critic judges the score shape of the question's own ranking (as deep as it was searched) and the
    # evidence's coverage of the question every round, and reads the reader's answer on the round it stops at.
    earlier = tuple(r.get("answer", "") for r in rounds[:-1])
    last = len(rounds) >= ctx.max_rounds or not hits
    seen = Evidence(state["query"], hits, [h.score for h in ctx.ranking] or state["shape"], len(rounds), earlier, ctx.now, last, _as_read(ctx, state["question"], hits))
    verdict = judge(ctx.critic, seen)
    rounds[-1].update(verdict.record())  # probability, p_holds; on the last round also p_right, answer, abstain, confidence
    rounds[-1]["ms"] += (time.perf_counter() - started) * 1000
    if verdict.stop or last:
        said = getattr(ctx.critic, "notice", None)  # a fixed-k critic standing in for weights that could not be read
        return {"rounds": rounds, "sufficient": True, **({"notices": [*(state.get("notices") or []), said]} if said else {})}
    kind, queries = next_queries(ctx.store, ctx.namespace, state["query"], hits, ctx.store.log.speakers(ctx.namespace))
    return {"rounds": rounds, "sufficient": False, "kind": kind, "queries": queries}


def _as_read(ctx: Context, question: str, hits: list) -> list | None:
    """The evidence as the reader answers from it (answerers.Reader): a replaced fact is no answer about now.
    None when that is all of it."""
    if keeps_replaced(question):
        return None
    replaced = superseded(ctx.store, ctx.namespace, hits)
    return [h for h in hits if h.turn_id not in replaced] if replaced else None


def superseded(store, namespace: str, hits: list) -> set[str]:
    """Turns of the hits whose fact a later one replaced (agent/conflicts.py notes)."""
    _, notes = with_history(store, namespace, hits)
    return {t for t, note in notes.items() if note.endswith("superseded")}


@_timed("pack")
def pack(state: State, runtime: Runtime[Context]) -> dict:
    ctx = runtime.context
    hits, notes = with_history(ctx.store, ctx.namespace, [hit_from_dict(d) for d in state["evidence"]])
    packed = pack_evidence(hits, ctx.budget, notes=notes)
    superseded = sorted(t for t, note in notes.items() if note.endswith("superseded"))
    return {"context": packed.text, "packed": [hit_to_dict(h) for h in packed.hits], "superseded": superseded}


@_timed("answer")
def answer(state: State, runtime: Runtime[Context]) -> dict:
    ctx = runtime.context
    return ctx.answerer.answer(state, ctx, runtime.stream_writer)


@_timed("verify")
def verify(state: State, runtime: Runtime[Context]) -> dict:
    """Every quote checked against the log itself, not against the copy the model was shown."""
    ctx = runtime.context
    turns = {}
    # The evidence shown, and any turn a no-LLM answerer quoted beside it (a scene's fact, for "what did we talk about").
    for turn_id in dict.fromkeys([d["turn_id"] for d in state["packed"]] + [c["turn_id"] for c in state["draft_citations"]]):
        try:
            turns[turn_id] = ctx.store.log.turn(turn_id, ctx.namespace)
        except KeyError:  # forgotten while the answer was being written
            continue
    notices = list(state.get("notices") or [])
    if state["draft_citations"] or state["text"] == NO_ANSWER:
        citations = [cite(turns[c["turn_id"]], c["start"], c["end"]) for c in state["draft_citations"] if c["turn_id"] in turns and turns[c["turn_id"]].text[c["start"] : c["end"]] == c["quote"]]
        return {"citations": [_as_dict(c) for c in citations], "notices": notices}
    checked = check_citations(state["text"], list(turns.values()))
    if said := notice(checked):
        notices.append(said)
    return {"text": checked.text or NO_ANSWER, "citations": [_as_dict(c) for c in checked.citations], "notices": notices}


def _as_dict(citation) -> dict:
    return {f: getattr(citation, f) for f in citation.__slots__}


@_timed("memorize")
def memorize(state: State, runtime: Runtime[Context]) -> dict:
    """Log the exchange. The question is kept as a question (never evidence), the answer as the assistant's
    (never evidence either), and the answer is linked to the turns it quoted, so forgetting one forgets it."""
    ctx = runtime.context
    if ctx.remember:
        when = _now(ctx).isoformat(timespec="seconds")
        question, said = state["question"], state["text"]
        asked = Turn(f"{ctx.session}:{uuid.uuid4().hex[:10]}", question, ctx.speaker, ctx.session, QUESTION if is_question(question) else "user", when)
        answered = Turn(f"{ctx.session}:{uuid.uuid4().hex[:10]}", said, ASSISTANT, ctx.session, "assistant", when)
        quotes = [(answered.id, c["turn_id"]) for c in state.get("citations") or []]
        ctx.store.remember([asked, answered], ctx.namespace, [Session(ctx.session, when)], quotes=quotes)
    return {}


def _now(ctx: Context) -> datetime:
    return (parse_anchor(ctx.now) if ctx.now else None) or datetime.now().astimezone().replace(microsecond=0)


def route(state: State) -> str:
    return "pack" if state.get("sufficient") else "retrieve"


def build() -> StateGraph:
    """The uncompiled graph (`Agent` compiles it, with no checkpointer)."""
    graph = StateGraph(State, context_schema=Context)
    for node in (note, rewrite, retrieve, critic, pack, answer, verify, memorize):
        graph.add_node(node.__name__, node)
    graph.add_conditional_edges(START, asks, {"rewrite": "rewrite", "note": "note"})
    graph.add_edge("note", "memorize")
    graph.add_edge("rewrite", "retrieve")
    graph.add_edge("retrieve", "critic")
    graph.add_conditional_edges("critic", route, {"retrieve": "retrieve", "pack": "pack"})
    graph.add_edge("pack", "answer")
    graph.add_edge("answer", "verify")
    graph.add_edge("verify", "memorize")
    graph.add_edge("memorize", END)
    return graph

