"""QA mode with the agent: each question answered by `Agent.ask` over the unit's store, and what the answer shows.

Per question the record keeps the prediction and its scores, the citations (and
whether every quote is verbatim in the log), the critic's probability per round,
the adaptive evidence set and its recall against the gold evidence, per-stage
timings and usage. Each question runs in its own session, so no question sees
another's exchange: results do not depend on order, workers or --resume.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from hyperloom.config import Config
from hyperloom.evals.datasets import Question, Unit
from hyperloom.evals.metrics import evidence_recall
from hyperloom.retrieval.embed import Embedder
from hyperloom.memory.temporal import parse_anchor


def make_agent(config: Config, unit: Unit, critic: object | None, embedder: Embedder | None = None):
    """An agent over the unit's namespace; `critic=None` is the agent's own default (the shipped critic)."""
    from hyperloom import Agent

    return Agent.open(config=config, namespace=unit.name, critic=critic, embedder=embedder)


def critic_info(agent) -> dict:
    """Which critic answered: written into the unit's ingest record and, from there, the report."""
    critic = agent.critic
    trained = getattr(critic, "trained_on", None)
    return {"kind": type(critic).__name__, "threshold": getattr(critic, "threshold", None), "trained_on": list(trained) if trained is not None else None}


def question_now(question: Question, unit: Unit) -> str | None:
    """When a question is asked: the data set's date if it has one, else the time of the unit's latest turn
    ("last week" in LoCoMo is relative to the conversation, not to today)."""
    if question.date:
        return question.date
    times = [(parse_anchor(t.created_at), t.created_at) for t in unit.conversation.turns if t.created_at]
    times = [(when, raw) for when, raw in times if when is not None]
    if not times:
        return None
    latest = max(when.replace(tzinfo=None) for when, _ in times)
    return latest.isoformat(timespec="seconds")


def ask_agent(agent, question: Question, now: str | None) -> dict:
    """One question through the agent: prediction, citations, rounds, evidence, timings and usage."""
    agent.new_session(f"eval/{question.key}")  # a fresh thread: no history from earlier questions
    started = time.perf_counter()
    answer = agent.ask(question.text, now=now)
    elapsed = (time.perf_counter() - started) * 1000
    rounds = answer.trace.rounds
    evidence = [h.turn_id for h in answer.evidence]
    last = rounds[-1] if rounds else None
    first = [turn_id for turn_id, _ in rounds[0].hits] if rounds else []
    gold = list(question.evidence)
    return {
        "prediction": answer.text,
        "answer_ms": elapsed,
        "citations": [[c.turn_id, c.start, c.end] for c in answer.citations],
        "quotes_verified": verified(agent, answer.citations),
        "rounds": len(rounds),
        "probabilities": [round(r.probability, 4) for r in rounds],
        # The reading critic's verdict on each round (None until Round carries it; agent/critic.py Verdict.record)
        "p_right": [getattr(r, "p_right", None) for r in rounds],
        "p_holds": [getattr(r, "p_holds", None) if getattr(r, "p_holds", None) is not None else _holds(agent, r) for r in rounds],
        "confidence": getattr(answer, "confidence", None) or getattr(last, "confidence", None),
        "critic_abstains": getattr(last, "abstain", None),
        "round_kinds": [r.kind for r in rounds],
        "round_hits": [[turn_id for turn_id, _ in r.hits] for r in rounds],
        "evidence": evidence,
        "evidence_turns": len(evidence),
        "adaptive_recall": adaptive_recall(evidence, gold),
        "first_round_recall": adaptive_recall(first, gold),
        "critic_label": critic_label(first, gold),
        "stages_ms": {stage: round(ms, 3) for stage, ms in answer.trace.timings.items()},
        "usage": {"calls": answer.usage.calls, "prompt_tokens": answer.usage.prompt_tokens, "completion_tokens": answer.usage.completion_tokens, "dollars": answer.usage.cost},
        "model": answer.model,
        "notice": answer.notice,
        **fixed_reading(agent, question),
    }


FIXED_K = 10  # adaptive retrieval is compared with the reader reading a fixed top-10 (issue 16)


def fixed_reading(agent, question: Question) -> dict:
    """With the reader answering: its answer from a fixed top-10 of the question's ranking, to set beside the adaptive one."""
    if agent.config.model != "reader":
        return {}
    from hyperloom.agent.reader import read

    try:
        reading = read(question.text, agent.search(question.text, FIXED_K))
    except Exception:  # noqa: BLE001 — the reader's own failure is reported by its answers; this comparison is left out
        return {}
    from hyperloom.evals.qa import score_answer

    return {"fixed_prediction": reading.text, "fixed_k": FIXED_K, "fixed_f1": score_answer(question, reading.text)["f1"]}


def _holds(agent, round_) -> float | None:
    """P(holds) of a round: the stopping probability itself when the critic stops on it (the reading critic does)."""
    return round_.probability if getattr(agent.critic, "stop_on", None) == "holds" else None


def verified(agent, citations: Sequence) -> bool:
    """Whether every citation is a verbatim span of the turn it names, read back from the log."""
    for c in citations:
        try:
            if agent.turn(c.turn_id).text[c.start : c.end] != c.quote:
                return False
        except Exception:  # noqa: BLE001 — a citation of a turn the log does not hold is not verified
            return False
    return True


def adaptive_recall(found: Sequence[str], gold: Sequence[str]) -> float | None:
    """LoCoMo's evidence recall over a whole evidence set (no cut-off); None without gold evidence."""
    return evidence_recall(list(found), list(gold), len(found)) if gold else None


def critic_label(first_round: Sequence[str], gold: Sequence[str]) -> bool | None:
    """The critic's target: the first round's evidence holds every gold evidence turn (None without gold evidence)."""
    return set(gold) <= set(first_round) if gold else None
