"""Agent latency benchmark: `ask` end to end without an LLM, and time to first token with the local model.

What it measures
    The largest conversation of a LoCoMo file (or `--conversation`) is remembered in a
    fresh data directory; then its questions (categories 1-4) are asked through
    `Agent.ask` with `model="none"` (extractive, the shipped critic deciding the
    rounds) and, for the first `--local` of them, streamed with the embedded local
    model (`local/smollm2`, loaded and warmed before timing). Reported: p50/p95 of
    `ask` wall time, mean rounds, and for the local model the time from the call to
    the first streamed chunk (retrieval, critic and prefill included) and to the end.

Run
    python -m hyperloom.benchmarks.agent_latency ../shared/datasets/locomo/locomo_dev.json [--questions 100] [--local 20]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from hyperloom.agent.api import Agent
from hyperloom.config import Config
from hyperloom.evals.datasets import locomo
from hyperloom.memory.store import MemoryStore


def _p(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--conversation", default=None)
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--local", type=int, default=20)
    parser.add_argument("--model", default="none", help="who answers the timed `ask` calls: none (extractive) or reader")
    args = parser.parse_args()
    units = locomo.load(args.file).units
    unit = next(u for u in units if u.name == args.conversation) if args.conversation else max(units, key=lambda u: len(u.conversation.turns))
    asked = [q for q in unit.questions if q.code in (1, 2, 3, 4)][: args.questions]
    now = max(t.created_at for t in unit.conversation.turns if t.created_at)
    with tempfile.TemporaryDirectory() as home:
        config = Config(home=Path(home), namespace=unit.name, model=args.model)
        store = MemoryStore(config)
        store.remember(unit.conversation.turns, unit.name, unit.conversation.sessions)
        store.consolidate(unit.name)
        agent = Agent(config, store=store)
        agent.ask("warm up", now=now)
        seconds, cpu, rounds, stages = [], [], [], {}
        for q in asked:
            started, busy = time.perf_counter(), time.process_time()
            answer = agent.ask(q.text, now=now)
            seconds.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - busy) * 1000)  # every thread of this process: on a shared machine, what an idle one would take
            rounds.append(answer.rounds)
            for stage, ms in answer.trace.timings.items():
                stages.setdefault(stage, []).append(ms)
        print(f"{unit.name}: {len(unit.conversation.turns)} turns, {len(asked)} questions")
        print(f"ask (model {args.model}, {type(agent.critic).__name__}): p50 {_p(seconds, 50):.1f} ms, p95 {_p(seconds, 95):.1f} ms, mean rounds {np.mean(rounds):.2f}")
        print(f"ask CPU time: p50 {_p(cpu, 50):.1f} ms, p95 {_p(cpu, 95):.1f} ms")
        print("stages p50 / p95 ms: " + ", ".join(f"{s} {_p(v, 50):.1f} / {_p(v, 95):.1f}" for s, v in stages.items()))
        if args.local:
            agent.use_model("local/smollm2")
            agent.warm_up()
            agent.ask("warm up", now=now)
            first, total = [], []
            for q in asked[: args.local]:
                started = time.perf_counter()
                stream = agent.stream(q.text, remember=False, now=now)
                seen = None
                for _ in stream:
                    seen = seen or time.perf_counter() - started
                total.append(time.perf_counter() - started)
                first.append(seen if seen is not None else total[-1])
            print(f"local/smollm2: first token p50 {_p(first, 50):.2f} s, p95 {_p(first, 95):.2f} s; whole answer p50 {_p(total, 50):.2f} s, p95 {_p(total, 95):.2f} s ({len(first)} questions)")
        agent.close()


if __name__ == "__main__":
    main()
