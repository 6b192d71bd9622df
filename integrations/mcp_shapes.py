"""What the MCP tools return: small pydantic models, so every tool publishes an output schema a client can read."""

from __future__ import annotations

from collections import Counter
from urllib.parse import quote

from pydantic import BaseModel, Field

from hyperloom.agent.state import Answer
from hyperloom.memory.log import Session, Turn
from hyperloom.retrieval.search import Hit


def turn_uri(turn_id: str, namespace: str | None = None) -> str:
    """`hyperloom://turn/{id}`, the resource holding a turn's verbatim text (`?namespace=` on a --multi server)."""
    uri = f"hyperloom://turn/{quote(turn_id, safe='')}"
    return uri + (f"?namespace={quote(namespace, safe='')}" if namespace else "")


class Span(BaseModel):
    start: int = Field(description="Character offset in the turn's text where the span starts.")
    end: int = Field(description="Character offset where it ends: text[start:end] is the span.")
    text: str = Field(description="The span, verbatim.")


class SearchHit(BaseModel):
    turn_id: str = Field(description="The turn's id: pass it to `turn` or `forget`, or open `uri`.")
    uri: str = Field(description="The turn as an MCP resource.")
    speaker: str
    time: str | None = Field(description="When it was said (ISO), if known.")
    session: str
    score: float = Field(description="Fused hybrid score (dense + BM25 + structure); higher is better.")
    text: str = Field(description="The whole turn, verbatim.")
    spans: list[Span] = Field(description="The sentences of the turn that match the query, with their offsets.")


class SearchResult(BaseModel):
    hits: list[SearchHit] = Field(description="Best first; empty when nothing matches.")


class Citation(BaseModel):
    turn_id: str
    uri: str
    start: int
    end: int
    quote: str = Field(description="Exactly the text of the turn from start to end.")
    speaker: str
    time: str | None


class CriticRound(BaseModel):
    kind: str = Field(description="initial, local (around the evidence's entities) or global (the question's missing words).")
    queries: list[str]
    probability: float = Field(description="The critic's probability that the evidence so far is enough to answer.")
    turn_ids: list[str] = Field(description="The turns this round added, best first.")


class AskResult(BaseModel):
    answer: str = Field(description="The short answer, or 'No information available.'")
    citations: list[Citation] = Field(description="The verbatim quotes the answer rests on.")
    rounds: list[CriticRound] = Field(description="Each retrieval round and what the sufficiency critic made of it.")
    model: str = Field(description="Who answered: none (extractive), reader, local/smollm2 or a litellm model.")
    notice: str | None = Field(None, description="Set when quotes were repaired or removed, or the answer fell back to extractive.")


class Remembered(BaseModel):
    turn_id: str
    uri: str
    session: str
    time: str | None


class Forgotten(BaseModel):
    forgotten: int = Field(description="How many turns were removed (answers that quoted them included).")


class SessionInfo(BaseModel):
    id: str
    started_at: str | None
    title: str | None
    turns: int


class SessionsResult(BaseModel):
    sessions: list[SessionInfo]


class TurnResult(BaseModel):
    turn_id: str
    uri: str
    text: str = Field(description="The turn exactly as it was remembered.")
    speaker: str
    session: str
    time: str | None
    role: str = Field(description="user for remembered turns; question and assistant turns are never evidence.")


class NamespacesResult(BaseModel):
    namespaces: list[str]


def search_result(hits: list[Hit], namespace: str | None) -> SearchResult:
    return SearchResult(hits=[SearchHit(turn_id=h.turn_id, uri=turn_uri(h.turn_id, namespace), speaker=h.speaker, time=h.time, session=h.session, score=round(h.score, 4), text=h.text, spans=[Span(start=s.start, end=s.end, text=s.text) for s in h.spans]) for h in hits])


def ask_result(answer: Answer, namespace: str | None) -> AskResult:
    citations = [Citation(turn_id=c.turn_id, uri=turn_uri(c.turn_id, namespace), start=c.start, end=c.end, quote=c.quote, speaker=c.speaker, time=c.time) for c in answer.citations]
    rounds = [CriticRound(kind=r.kind, queries=list(r.queries), probability=round(r.probability, 4), turn_ids=[t for t, _ in r.hits]) for r in answer.trace.rounds]
    return AskResult(answer=answer.text, citations=citations, rounds=rounds, model=answer.model, notice=answer.notice)


def turn_result(turn: Turn, namespace: str | None) -> TurnResult:
    return TurnResult(turn_id=turn.id, uri=turn_uri(turn.id, namespace), text=turn.text, speaker=turn.speaker, session=turn.session, time=turn.created_at, role=turn.role)


def remembered(turn: Turn, namespace: str | None) -> Remembered:
    return Remembered(turn_id=turn.id, uri=turn_uri(turn.id, namespace), session=turn.session, time=turn.created_at)


def sessions_result(sessions: list[Session], turns: list[Turn]) -> SessionsResult:
    counts = Counter(t.session for t in turns)
    return SessionsResult(sessions=[SessionInfo(id=s.id, started_at=s.started_at, title=s.title, turns=counts[s.id]) for s in sessions])
