"""Critic benchmark: does a critic fitted by self-practice know when the evidence is there?

What it measures
    For each LoCoMo conversation in turn, a critic is fitted on practice questions
    (`hyperloom.agent.practice`) written from the *other* conversations, then
    judges the first round of every real question (categories 1-4) of the held-out
    conversation. AUROC is pooled over all held-out questions; the label is "the
    first round's evidence holds every gold evidence turn" (issue 4).
    Every question runs through the agent's real graph with a critic that never
    accepts, so each round's evidence is known; the adaptive table then replays the
    stopping rule (stop at the first round whose probability reaches the threshold)
    and reports the mean evidence turns and evidence recall at each threshold,
    for max_rounds 2 and 3, beside fixed top-k retrieval of the same structured memory.

Run
    python -m hyperloom.benchmarks.critic_practice ../shared/datasets/locomo/locomo_dev.json [--questions 100] [--seed 0] [--first-k 7] [--more-k 5]
"""

from __future__ import annotations

import argparse
import random
import tempfile
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from hyperloom.agent.api import Agent
from hyperloom.agent.critic import features
from hyperloom.agent.practice import Rounds, _Recorder, fit, questions
from hyperloom.config import Config
from hyperloom.evals.datasets import locomo
from hyperloom.retrieval.embed import OnnxMiniLM


def collect(path: Path, per_conversation: int, seed: int, rounds: dict | None = None) -> dict:
    """Per conversation: practice rounds, and for each real question its rounds' evidence and fixed top-20."""
    data, rng, embedder = {}, random.Random(seed), OnnxMiniLM()
    for unit in locomo.load(path).units:
        with tempfile.TemporaryDirectory() as home:
            config = Config(home=Path(home), namespace=unit.name, model="none", **(rounds or {}))
            from hyperloom.memory.store import MemoryStore

            store = MemoryStore(config, embedder=embedder)
            store.remember(unit.conversation.turns, unit.name, unit.conversation.sessions)
            store.consolidate(unit.name)
            recorder = _Recorder()
            agent = Agent(config, store=store, critic=recorder)
            now = max((t.created_at for t in unit.conversation.turns if t.created_at), default=None)

            def rounds_of(question: str) -> list:
                recorder.seen.clear()
                agent.ask(question, now=now)
                return list(recorder.seen)

            practice = Rounds()
            for p in questions(unit.conversation, per_conversation, rng):
                for seen in rounds_of(p.question):
                    practice.X.append(features(seen))
                    practice.y.append(int(set(p.gold) <= {h.turn_id for h in seen.hits}))
            real = []
            for q in unit.questions:
                if q.excluded is None and q.evidence and q.code in (1, 2, 3, 4):
                    fixed = [h.turn_id for h in store.search(q.text, 20, namespace=unit.name)]
                    real.append((rounds_of(q.text), set(q.evidence), fixed))
            agent.close()
        data[unit.name] = (practice, real)
        print(f"{unit.name}: {len(practice.y)} practice rounds, {len(real)} questions", flush=True)
    return data


FIXED_KS = (6, 8, 10, 12, 16, 20)


def _recall(gold: set[str], ids) -> float:
    return len(gold & set(ids)) / len(gold)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--first-k", type=int, default=Config.model_fields["first_k"].default, help="turns of the first round")
    parser.add_argument("--more-k", type=int, default=Config.model_fields["more_k"].default, help="turns each later round may add")
    args = parser.parse_args()
    data = collect(args.file, args.questions, args.seed, {"first_k": args.first_k, "more_k": args.more_k})
    scores, labels, replay, fixed = [], [], [], []
    for name, (_, real) in data.items():
        others = Rounds()
        for other, (practice, _) in data.items():
            if other != name:
                others.X += practice.X
                others.y += practice.y
        critic = fit(others, [o for o in data if o != name])
        for seen, gold, top in real:
            ps = [critic.probability(e) for e in seen]
            scores.append(ps[0])
            labels.append(int(gold <= {h.turn_id for h in seen[0].hits}))
            replay.append((ps, [[h.turn_id for h in e.hits] for e in seen], gold))
            fixed.append([_recall(gold, top[:k]) for k in FIXED_KS])
    print(f"\nheld-out AUROC {roc_auc_score(labels, scores):.3f} over {len(labels)} questions ({np.mean(labels):.1%} sufficient after round 1)")
    print("fixed top-k evidence recall: " + ", ".join(f"@{k} {r:.3f}" for k, r in zip(FIXED_KS, np.mean(fixed, axis=0))))
    for rounds in range(2, max(len(ps) for ps, _, _ in replay) + 1):
        print(f"\nmax_rounds {rounds}\nthreshold  mean turns  evidence recall  mean rounds")
        for threshold in np.arange(0.25, 0.81, 0.05):
            stops = [next((i for i, p in enumerate(ps[:rounds]) if p >= threshold), min(len(ps), rounds) - 1) for ps, _, _ in replay]
            turns = [len(evidence[i]) for (_, evidence, _), i in zip(replay, stops)]
            recall = [_recall(gold, evidence[i]) for (_, evidence, gold), i in zip(replay, stops)]
            print(f"{threshold:9.2f}  {np.mean(turns):10.2f}  {np.mean(recall):15.3f}  {np.mean(stops) + 1:11.2f}")


if __name__ == "__main__":
    main()
