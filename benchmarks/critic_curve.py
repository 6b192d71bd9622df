"""Adaptive against fixed k at equal mean evidence, and the critic's other two decisions (abstain, confidence word).

What it measures (LoCoMo dev, categories 1-4, leave-one-conversation-out)
    The rounds collected by benchmarks/critic_rounds.py are replayed with the held-out critics of
    benchmarks/critic_practice.py (run it first): stop at the first round whose P(holds) reaches the
    threshold, else answer after the last. Per threshold: mean evidence turns, evidence recall, and the
    reader's F1 from the evidence it stopped at — beside fixed top-k (the first k of the question's own
    ranking; the reader reads the best 8, so its F1 is flat beyond k = 8), an oracle critic (stops exactly
    when the evidence holds the gold turns), and the graph's rounds against paging deeper at equal depth.
    The shipped operating point is each fold's own threshold (chosen on its practice questions for a mean
    of 10 turns). Then, at that operating point: abstention (the reader's own, or P(right) below a
    threshold) on categories 1-4 against adversarial questions (category 5), and the share of answers
    right under each confidence word.

Run
    python -m hyperloom.benchmarks.critic_curve ../shared/datasets/locomo/locomo_dev.json [--plots DIR]
"""

from __future__ import annotations

import argparse
import pickle
from collections import defaultdict
from pathlib import Path

import numpy as np

from hyperloom.agent.critic import DEEP, NO_ANSWER, Evidence, features
from hyperloom.agent.practice import evidence_of, replay
from hyperloom.benchmarks.critic_rounds import CACHE, dataset
from hyperloom.config import Config
from hyperloom.evals.metrics import locomo_f1

FIXED_KS = (5, 6, 7, 8, 10, 12, 15, 20)
THRESHOLDS = np.round(np.arange(0.30, 0.99, 0.02), 2)


def _recall(gold, ids) -> float:
    gold = set(gold)
    return len(gold & set(ids)) / len(gold)


def fixed(data: dict) -> tuple[dict[int, float], dict[int, float]]:
    recall, f1 = defaultdict(list), defaultdict(list)
    for entry in data.values():
        signals = entry["real"]["signals"]
        for r in entry["real"]["records"]:
            if r["code"] in (1, 2, 3, 4) and r["gold"] and r["answer"] is not None:
                for k in FIXED_KS:
                    recall[k].append(_recall(r["gold"], [h["turn_id"] for h in r["ranking"][:k]]))
                    f1[k].append(locomo_f1(signals[r["key"], f"k{min(k, 8)}"].text, r["answer"], r["code"]))
    return {k: float(np.mean(v)) for k, v in recall.items()}, {k: float(np.mean(v)) for k, v in f1.items()}


def sweep(rows, p: np.ndarray, max_rounds: int) -> tuple[list, list]:
    recall = [(t, *replay(rows, p, t, max_rounds)) for t in THRESHOLDS]
    f1 = [(t, *replay(rows, p, t, max_rounds, "f1")) for t in THRESHOLDS]
    return [(a, b) for _, a, b in recall], [(a, b) for _, a, b in f1]


def operating_point(rows, p: np.ndarray, critics: dict, variant: str, max_rounds: int = 3) -> dict:
    """Each held-out conversation stopped at its own fold's threshold; pooled."""
    groups = rows.array("group")
    turns, recall, f1, n = 0.0, 0.0, 0.0, 0
    for held, fold in critics.items():
        part = rows.where(groups == held)
        t = fold[variant].threshold
        count = len(set(part.key))
        a, b = replay(part, p[groups == held], t, max_rounds)
        _, c = replay(part, p[groups == held], t, max_rounds, "f1")
        turns, recall, f1, n = turns + a * count, recall + b * count, f1 + c * count, n + count
    return {"turns": turns / n, "recall": recall / n, "f1": f1 / n}


def rounds_vs_paging(data: dict) -> list[tuple[int, float, float]]:
    out = []
    records = [r for e in data.values() for r in e["real"]["records"] if r["code"] in (1, 2, 3, 4) and r["gold"] and r["answer"] is not None]
    for n in (1, 2, 3):
        depth = len(evidence_of(records[0], n))
        rounds = np.mean([_recall(r["gold"], [h.turn_id for h in evidence_of(r, n)]) for r in records])
        paging = np.mean([_recall(r["gold"], [h["turn_id"] for h in r["ranking"][: len(evidence_of(r, n))]]) for r in records])
        out.append((depth, float(rounds), float(paging)))
    return out


def decisions(data: dict, critics: dict, variant: str, max_rounds: int = 3) -> dict:
    """At each fold's operating point: the answer, the stop round's P(right), and the reader's abstention, per question (1-5)."""
    out = []
    for held, entry in data.items():
        critic = critics[held][variant]
        signals = entry["real"]["signals"]
        for r in entry["real"]["records"]:
            if r["code"] == 5 or (r["gold"] and r["answer"] is not None):
                before, scores, chosen = [], [h["score"] for h in r["ranking"][:DEEP]], None
                for n in range(1, min(len(r["rounds"]), max_rounds) + 1):
                    s = signals[r["key"], n]
                    x = features(Evidence(r["query"], evidence_of(r, n), scores, n, tuple(before)), s)[None, :]
                    before.append(s.text)
                    chosen = (s, float(critic.right.probability(x)[0]), float(critic.holds.probability(x)[0]))
                    if critic.holds.probability(x)[0] >= critic.threshold:
                        break
                s, p_right, p_holds = chosen
                out.append({"code": r["code"], "answer": r["answer"], "text": s.text, "reader_abstained": s.abstained, "p_right": p_right, "p_holds": p_holds,
                            "topic_else": s.topic_else, "confidence": critic.confidence.word(0.0 if s.abstained else p_right)})
    return out


def abstention(rows: list[dict]) -> list[tuple[str, float, float, float]]:
    """(rule, F1 on categories 1-4, F1 on adversarial questions, share abstained)."""
    def score(abstain) -> tuple[float, float, float]:
        main = [locomo_f1(NO_ANSWER if abstain(r) else r["text"], r["answer"], r["code"]) for r in rows if r["code"] != 5]
        adv = [locomo_f1(NO_ANSWER if abstain(r) else r["text"], None, 5) for r in rows if r["code"] == 5]
        return float(np.mean(main)), float(np.mean(adv)), float(np.mean([abstain(r) for r in rows]))

    out = [("the reader's own", *score(lambda r: r["reader_abstained"])), ("reader, or another's story", *score(lambda r: r["reader_abstained"] or r["topic_else"]))]
    for t in (0.02, 0.04, 0.06, 0.08, 0.1, 0.15, 0.2):
        out.append((f"reader, or P(right) < {t}", *score(lambda r, t=t: r["reader_abstained"] or r["p_right"] < t)))
    for t in (0.04, 0.06, 0.08, 0.1, 0.15):
        for h in (0.5, 0.6, 0.7, 0.8):
            out.append((f"+ another's story, or P(right) < {t} and P(holds) < {h}", *score(lambda r, t=t, h=h: r["reader_abstained"] or r["topic_else"] or r["p_right"] < t and r["p_holds"] < h)))
    return out


def confidence_table(rows: list[dict]) -> dict[str, tuple[int, float]]:
    out = {}
    for word in ("sure", "likely", "unsure"):
        picked = [locomo_f1(r["text"], r["answer"], r["code"]) >= 0.5 for r in rows if r["code"] != 5 and r["confidence"] == word]
        out[word] = (len(picked), float(np.mean(picked)) if picked else float("nan"))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--questions", type=int, default=150)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--first-k", type=int, default=Config.model_fields["first_k"].default)
    parser.add_argument("--more-k", type=int, default=Config.model_fields["more_k"].default)
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument("--variant", default="practice", help="which held-out critic to replay (practice | practice, real calibration | real)")
    parser.add_argument("--plots", type=Path, default=None, help="where to write adaptive_recall.png and adaptive_f1.png")
    args = parser.parse_args()
    data = dataset(args.file, args.first_k, args.more_k, args.questions, args.seed, args.cache)
    saved = pickle.loads((args.cache / f"loco-k{args.first_k}-m{args.more_k}.pickle").read_bytes())
    rows, probs, critics = saved["rows"], saved["probs"], saved["critics"]
    p = probs[args.variant]["holds"]
    fixed_recall, fixed_f1 = fixed(data)
    print("fixed top-k (k: evidence recall / reader F1): " + ", ".join(f"{k}: {fixed_recall[k]:.3f} / {fixed_f1[k]:.3f}" for k in FIXED_KS))
    oracle = rows.array("holds").astype(float)
    curves_recall, curves_f1 = {}, {}
    for max_rounds in (2, 3):
        curves_recall[f"adaptive, {max_rounds} rounds"], curves_f1[f"adaptive, {max_rounds} rounds"] = sweep(rows, p, max_rounds)
        o_turns, o_recall = replay(rows, oracle, 0.5, max_rounds)
        _, o_f1 = replay(rows, oracle, 0.5, max_rounds, "f1")
        print(f"oracle critic, {max_rounds} rounds: {o_turns:.2f} turns, recall {o_recall:.3f}, F1 {o_f1:.3f}")
    print(f"\n{'max rounds':>10} {'threshold':>9} {'mean turns':>10} {'recall':>7} {'F1':>6}")
    for max_rounds in (2, 3):
        for t in THRESHOLDS[::3]:
            turns, recall = replay(rows, p, t, max_rounds)
            _, f1 = replay(rows, p, t, max_rounds, "f1")
            print(f"{max_rounds:>10} {t:>9.2f} {turns:>10.2f} {recall:>7.3f} {f1:>6.3f}")
    point = operating_point(rows, p, critics, args.variant)
    best = max(((a, b) for a, b in curves_recall["adaptive, 3 rounds"] + curves_recall["adaptive, 2 rounds"] if a <= 10.0), key=lambda x: x[1], default=(float("nan"), float("nan")))
    print(f"\nshipped operating point (each fold's threshold): {point['turns']:.2f} turns, recall {point['recall']:.3f}, F1 {point['f1']:.3f} "
          f"(fixed top-10: recall {fixed_recall[10]:.3f}, F1 {fixed_f1[10]:.3f}); best adaptive recall at <= 10 turns: {best[1]:.3f} at {best[0]:.2f}")
    print("\nthe graph's rounds against paging deeper into the question's ranking (evidence recall at equal depth):")
    for depth, a, b in rounds_vs_paging(data):
        print(f"  {depth} turns: rounds {a:.3f}, paging {b:.3f}")
    chosen = decisions(data, critics, args.variant)
    print("\nabstention at the operating point (F1 1-4, adversarial F1, share of questions abstained):")
    for rule, main_f1, adv, share in abstention(chosen):
        print(f"  {rule:<56} {main_f1:.4f}  {adv:.3f}  {share:.3f}")
    print("\nconfidence words (answers to categories 1-4: how many, share right):")
    for word, (n, share) in confidence_table(chosen).items():
        print(f"  {word:<7} {n:>4}  {share:.3f}")
    if args.plots:
        from hyperloom.evals.plots import adaptive_curve

        args.plots.mkdir(parents=True, exist_ok=True)
        o3 = replay(rows, oracle, 0.5, 3)
        print("curves ->", adaptive_curve({k: fixed_recall[k] for k in FIXED_KS}, curves_recall, args.plots / "adaptive_recall.png", "evidence recall", {"shipped threshold": (point["turns"], point["recall"]), "oracle critic": o3}),
              adaptive_curve({k: fixed_f1[k] for k in FIXED_KS}, curves_f1, args.plots / "adaptive_f1.png", "reader F1 (1-4)", {"shipped threshold": (point["turns"], point["f1"])}))


if __name__ == "__main__":
    main()
