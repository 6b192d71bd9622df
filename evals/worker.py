"""Runs one unit: a fresh temporary store, the unit's turns ingested, then each question searched (and answered).

The same function runs in the main process (--workers 1) and in pool processes,
so both give the same records; only timings differ.
"""

from __future__ import annotations

import resource
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hyperloom.agent.api import Agent
from hyperloom.config import Config
from hyperloom.evals.datasets import Question, Unit
from hyperloom.evals.qa import Answerer, score_answer
from hyperloom.evals.retrieval import score_hits, search_depth
from hyperloom.memory.log import Turn
from hyperloom.retrieval.embed import Embedder, OnnxMiniLM, make_embedder

Emit = Callable[[dict], None]


@dataclass(frozen=True)
class WorkSettings:
    """Everything a worker process needs; picklable."""

    dataset: str
    mode: str
    ks: tuple[int, ...]
    config: dict  # Config fields except `home`, which is a fresh temporary directory per unit
    threads: int | None = None  # onnxruntime threads per process (None: its default)
    judge: str | None = None
    judge_cache: str | None = None
    judge_kwargs: dict | None = None
    answerer: Answerer | None = None  # QA mode: a custom answer function (agent, question) -> text instead of the agent's own
    critic: object | None = None  # QA mode with the agent: None is the agent's default (the shipped critic)

    @property
    def agent(self) -> bool:
        """QA mode answers with the agent unless a custom answer function is given."""
        return self.mode == "qa" and self.answerer is None


_embedders: dict[tuple[str, int | None], Embedder] = {}
_judges: dict = {}


def embedder_for(settings: WorkSettings) -> Embedder:
    """One embedder per process, loaded and warmed once: model load is neither ingest nor search time."""
    key = (settings.config.get("embedder", "local/minilm"), settings.threads)
    if key not in _embedders:
        name = key[0]
        embedder = OnnxMiniLM(threads=settings.threads) if name == "local/minilm" else make_embedder(name)
        embedder.embed("warm up")
        _embedders[key] = embedder
    return _embedders[key]


def judge_for(settings: WorkSettings):
    if settings.judge is None:
        return None
    key = (settings.judge, settings.judge_cache, repr(sorted((settings.judge_kwargs or {}).items())))  # one judge per model, cache and options
    if key not in _judges:
        from hyperloom.evals.judge import Judge

        cache = Path(settings.judge_cache) if settings.judge_cache else None
        _judges[key] = Judge(settings.judge, cache, **(settings.judge_kwargs or {}))
    return _judges[key]


def run_unit(unit: Unit, settings: WorkSettings, emit: Emit) -> None:
    """Emit one `ingest` record, then one `question` record per question, each as soon as it is done."""
    embedder = embedder_for(settings)
    with tempfile.TemporaryDirectory(prefix="hyperloom-eval-") as home:
        from hyperloom.evals.agent_qa import critic_info, make_agent

        config = Config(**settings.config, home=Path(home))
        with make_agent(config, unit, settings.critic, embedder) as agent:
            record = ingest(agent, unit)
            if settings.agent:
                record["critic"] = critic_info(agent)
            emit(record)
            turns = {t.id: t for t in unit.conversation.turns}
            for question in unit.questions:
                emit(ask(agent, question, turns, settings, unit))


def ingest(agent: Agent, unit: Unit) -> dict:
    started = time.perf_counter()
    agent.ingest(unit.conversation)
    agent.warm_up(model=False)  # the BM25 index is built lazily otherwise, and the first search would pay for it
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {"kind": "ingest", "unit": unit.name, "turns": len(unit.conversation.turns), "seconds": seconds, "peak_rss_mb": round(peak_mb, 1)}


def ask(agent: Agent, question: Question, turns: dict[str, Turn], settings: WorkSettings, unit: Unit | None = None) -> dict:
    record: dict = {"kind": "question", "key": question.key, "unit": question.unit, "category": question.category, "excluded": question.excluded}
    if question.excluded is None:
        started = time.perf_counter()
        hits = agent.search(question.text, search_depth(settings.ks))
        record["latency_ms"] = (time.perf_counter() - started) * 1000
        record["ranked"] = [h.turn_id for h in hits[: max(settings.ks)]]
        record["retrieval"] = score_hits(question, hits, turns, settings.ks)
        if question.category == "temporal" and question.answer and agent.config.memory == "structured":
            record["date_found"] = date_found(agent, question, hits[:10])
    if settings.mode == "qa":
        record.update(answer(agent, question, settings, unit))
    return record


def date_found(agent: Agent, question: Question, hits: list) -> bool:
    """Whether the gold date is among the resolved dates of the top-10 evidence's facts (issue 3's temporal measure)."""
    gold = _plain(str(question.answer))
    ids = {h.turn_id for h in hits}
    labels = {_plain(label) for f in agent.facts() if f.turn_id in ids for label in f.dates}
    return any(label and label in gold for label in labels)


def _plain(text: str) -> str:
    return " ".join("".join(c for c in text.lower() if c.isalnum() or c.isspace()).split())


def answer(agent: Agent, question: Question, settings: WorkSettings, unit: Unit | None = None) -> dict:
    """The answer (by the agent, or by a custom answer function), its scores and, with --judge, the verdicts."""
    if settings.agent:
        from hyperloom.evals.agent_qa import ask_agent, question_now

        out = ask_agent(agent, question, question_now(question, unit) if unit else question.date)
        prediction = out["prediction"]
    elif settings.answerer is not None:
        started = time.perf_counter()
        prediction = settings.answerer(agent, question)
        out = {"prediction": prediction, "answer_ms": (time.perf_counter() - started) * 1000}
    else:
        raise RuntimeError("QA mode needs the agent or an answer function")
    out.update(gold=question.answer, qa=score_answer(question, prediction))
    judge = judge_for(settings)
    if judge is not None:
        out["judge"] = judge.grade(settings.dataset, question, prediction)
    return out
