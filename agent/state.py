"""What one run of the graph carries: the LangGraph state (plain JSON),
the per-run context (the store, the model, the critic), and the `Answer` a run returns."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, TypedDict

from hyperloom.agent.llm import Ledger
from hyperloom.retrieval.search import Hit
from hyperloom.retrieval.spans import Span

if TYPE_CHECKING:
    from hyperloom.agent.answerers import Answerer
    from hyperloom.agent.critic import Critic
    from hyperloom.memory.store import MemoryStore

STAGES = ("rewrite", "retrieve", "critic", "pack", "answer", "verify", "memorize")


@dataclass(frozen=True, slots=True)
class Citation:
    """A verbatim quote: `agent.turn(turn_id).text[start:end] == quote` (DESIGN.md invariant 2)."""

    turn_id: str
    start: int
    end: int
    quote: str
    speaker: str = ""
    time: str | None = None
    session: str = ""


@dataclass(frozen=True, slots=True)
class Round:
    """One retrieve → critic round: what was searched, what came back, and what the critic thought."""

    queries: list[str]
    hits: list[tuple[str, float]]  # (turn id, fused score), best first, new to this round
    probability: float  # the critic's P(the evidence so far is sufficient)
    kind: str = "initial"  # initial | local | global: where this round's sub-queries came from
    ms: float = 0.0
    # The reading critic's verdict (agent/critic.py Verdict.record); None where the critic did not judge it:
    p_holds: float | None = None  # P(the evidence so far holds the answer's turns), every round
    p_right: float | None = None  # P(the reader's answer from it is right): only the round the agent answers from
    answer: str | None = None  # that answer, as the critic read it
    abstain: bool | None = None  # the critic said no answer is better
    confidence: str | None = None  # "sure" | "likely" | "unsure"

    @classmethod
    def from_record(cls, r: dict) -> "Round":
        """A round as the graph's state keeps it (plain JSON)."""
        probability = r["probability"] if r.get("probability") is not None else 1.0
        said = {k: r.get(k) for k in ("p_holds", "p_right", "answer", "abstain", "confidence")}
        return cls(r["queries"], [tuple(h) for h in r["hits"]], probability, r["kind"], r.get("ms", 0.0), **said)


@dataclass(frozen=True, slots=True)
class Trace:
    rounds: list[Round]
    timings: dict[str, float]  # milliseconds per graph stage (summed over rounds)
    question: str = ""  # as rewritten for retrieval
    notices: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class AnswerUsage:
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0  # US dollars, litellm's accounting; 0 for local models


@dataclass(frozen=True, slots=True)
class Answer:
    """What every run returns. `notice` says when the answer fell back to extractive mode, or quotes were repaired."""

    text: str
    citations: list[Citation]
    rounds: int
    trace: Trace
    usage: AnswerUsage
    latency: float  # seconds, end to end
    model: str = ""
    evidence: list[Hit] = field(default_factory=list)
    notice: str | None = None
    fallback: str | None = None  # why the model's answer was replaced by an extractive one (ModelError.reason)
    confidence: str | None = None  # the critic's word for this answer ("sure", "likely", "unsure"); None when no critic read it
    verdict: bool = False  # `text` is the reader's own "Yes" / "No" / "Likely yes" / "Likely no", judged from `citations`; not a quote


class State(TypedDict, total=False):
    """The graph's state. Hits travel as dicts (`hit_to_dict`): the state is plain JSON."""

    question: str
    history: list[str]  # recent exchanges of this session, "speaker: text", oldest first
    query: str  # the question as rewritten for retrieval
    answer_type: str
    queries: list[str]  # this round's sub-queries
    kind: str  # where this round's sub-queries came from
    evidence: list[dict]  # every hit so far, best first
    shape: list[float]  # fused scores of the question's best hits in round 1 (what the critic reads)
    rounds: list[dict]
    sufficient: bool
    context: str  # the packed evidence, as the model reads it
    packed: list[dict]
    superseded: list[str]  # packed turns whose fact a later one replaced (history notes)
    parts: list[str]  # the question's parts, each answered on its own (one part: the question itself)
    text: str
    reading: dict  # the reader's confidence in its answer: score, margin, answer type, abstained
    confidence: str | None  # the critic's word, when the answer given is the reading it judged
    draft_citations: list[dict]
    citations: list[dict]
    notices: list[str]
    timings: dict[str, float]
    fallback: str | None


@dataclass
class Context:
    """Per-run, non-serialisable things the nodes need (LangGraph's runtime context)."""

    store: MemoryStore
    namespace: str
    session: str
    speaker: str
    model: str
    critic: Critic
    answerer: Answerer
    remember: bool = True
    max_rounds: int = 3
    k: int = 7  # turns the first round retrieves (Config.first_k)
    k_more: int = 5  # turns each later round may add (Config.more_k)
    budget: int = 1500  # tokens of packed evidence
    ledger: Ledger = field(default_factory=Ledger)
    llm_options: dict[str, Any] = field(default_factory=dict)
    now: str | None = None  # ISO time of the question; "now" when None
    started: float = field(default_factory=time.perf_counter)
    ranking: list[Hit] = field(default_factory=list)  # the question's own ranking, searched once per run


def hit_to_dict(hit: Hit) -> dict:
    return asdict(hit)


def hit_from_dict(data: dict) -> Hit:
    spans = [Span(**s) for s in data.get("spans", ())]
    return Hit(**{**data, "spans": spans})


def citation_from_dict(data: dict) -> Citation:
    return Citation(**data)
