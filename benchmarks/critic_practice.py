"""Critic benchmark: does a critic fitted by self-practice know when the reader's answer is right, and when the evidence is there?

What it measures (LoCoMo dev, every figure leave-one-conversation-out)
    For each conversation in turn, critics are fitted on the *other* conversations and judge every
    round (up to 3) of the held-out conversation's real questions (categories 1-4):
    - practice: both heads fitted on practice questions (agent/practice.py), Platt's scaling fitted
      on the practice rounds (each conversation scored by heads fitted on the others) — the shipped way;
    - practice, real calibration: the same heads, Platt's scaling fitted on the real questions of the
      other conversations;
    - real: both heads fitted on the other conversations' real questions (the comparison the issue asks for).
    Labels, SIM-RAG's way: `right` — the reader's answer from that round's evidence has LoCoMo F1 ≥ 0.5;
    `holds` — that round's evidence holds every gold evidence turn. Reported: AUROC (all rounds, and the
    first round alone), expected calibration error (10 bins) and a reliability diagram, and how close the
    practice questions are to the real ones (length, wh-word mix, lexical overlap with their source turns).
    The held-out probabilities are saved for benchmarks/critic_curve.py.

Run
    python -m hyperloom.benchmarks.critic_practice ../shared/datasets/locomo/locomo_dev.json [--out agent/critic.json] [--plots DIR]
"""

from __future__ import annotations

import argparse
import pickle
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from hyperloom.agent.practice import Rows, fit, shape
from hyperloom.benchmarks.critic_rounds import CACHE, dataset, load_units, pooled
from hyperloom.config import Config
from hyperloom.evals.report import calibration

VARIANTS = ("practice", "practice, real calibration", "real", "practice + real")


def loco(data: dict[str, dict]) -> tuple[Rows, dict[str, dict[str, np.ndarray]], dict[str, dict]]:
    """Held-out probabilities of every real round, per variant and label, and each fold's critics."""
    real = pooled(data, "real")
    groups = real.array("group")
    probs = {v: {"right": np.zeros(len(groups)), "holds": np.zeros(len(groups))} for v in VARIANTS}
    critics = {}
    for held in data:
        others = [n for n in data if n != held]
        practice = Rows()
        real_others = Rows()
        for n in others:
            practice = practice + data[n]["practice"]["rows"]
            real_others = real_others + data[n]["real"]["rows"]
        fold = {"practice": fit(practice, others), "practice, real calibration": fit(practice, others, calibrate=real_others), "real": fit(real_others, others),
                "practice + real": fit(practice + real_others, others, calibrate=real_others)}
        X = data[held]["real"]["rows"].array("X")
        for v, critic in fold.items():
            probs[v]["right"][groups == held] = critic.right.probability(X)
            probs[v]["holds"][groups == held] = critic.holds.probability(X)
        critics[held] = fold
    return real, probs, critics


def table(real: Rows, probs: dict) -> dict:
    first = real.array("round") == 1
    out = {}
    for v, p in probs.items():
        row = {}
        for label in ("right", "holds"):
            y = real.array(label)
            row[label] = {"auroc": roc_auc_score(y, p[label]), "auroc_round1": roc_auc_score(y[first], p[label][first]), "calibration": calibration(list(y), list(p[label]))}
        out[v] = row
    return out


def shapes(path: Path, data: dict) -> dict:
    """Practice against real questions: length, wh-word mix, lexical overlap with the source (evidence) turns."""
    units = {u.name: u for u in load_units(path)}
    practice, real, names = [], [], set()
    for name, entry in data.items():
        turns = {t.id: t.text for t in units[name].conversation.turns}
        names |= {t.speaker for t in units[name].conversation.turns}
        practice += [(r["question"], " ".join(turns[g] for g in r["gold"])) for r in entry["practice"]["records"]]
        real += [(r["question"], " ".join(turns[g] for g in r["gold"] if g in turns)) for r in entry["real"]["records"] if r["code"] in (1, 2, 3, 4) and r["gold"]]
    return {"practice": shape(practice, names), "real": shape(real, names)}


def show(results: dict, shape_of: dict, real: Rows, data: dict) -> None:
    p_rows = pooled(data, "practice")
    print(f"\nreal rounds {len(real.key)} ({real.questions} questions); right {np.mean(real.right):.1%}, holds {np.mean(real.holds):.1%} "
          f"(round 1: {np.mean(real.array('holds')[real.array('round') == 1]):.1%})")
    print(f"practice rounds {len(p_rows.key)} ({p_rows.questions} questions); right {np.mean(p_rows.right):.1%}, holds {np.mean(p_rows.holds):.1%} "
          f"(round 1: {np.mean(p_rows.array('holds')[p_rows.array('round') == 1]):.1%})")
    print(f"\n{'critic fitted on':<28} {'AUROC right':>12} {'(round 1)':>10} {'ECE right':>10} {'AUROC holds':>12} {'(round 1)':>10} {'ECE holds':>10}")
    for v, row in results.items():
        r, h = row["right"], row["holds"]
        print(f"{v:<28} {r['auroc']:>12.3f} {r['auroc_round1']:>10.3f} {r['calibration']['ece']:>10.3f} {h['auroc']:>12.3f} {h['auroc_round1']:>10.3f} {h['calibration']['ece']:>10.3f}")
    print("\npractice vs real questions (categories 1-4), what the generator must keep close:")
    for name, s in shape_of.items():
        wh = ", ".join(f"{k} {v:.2f}" for k, v in list(s.wh.items())[:8])
        print(f"{name:<9} {s.questions:>5} questions; words mean {s.length:.1f} (quartiles {s.length_quartiles}); overlap with source turns mean {s.overlap:.3f} (quartiles {tuple(round(q, 2) for q in s.overlap_quartiles)}); wh: {wh}")
    d = shape_of["practice"].distance(shape_of["real"])
    print(f"distance: |Δ mean words| {d['length']:.2f}, |Δ mean overlap| {d['overlap']:.3f}, wh-mix total variation {d['wh']:.3f}")


def reliability_table(results: dict, real: Rows, probs: dict, variant: str) -> None:
    """The reliability diagram as numbers (10 bins of P, what share was right) and what each confidence word meant."""
    from hyperloom.agent.critic import Confidence

    for label in ("right", "holds"):
        print(f"\nreliability, P({label}), {variant} (bin: rounds, mean P, observed share)")
        for b in results[variant][label]["calibration"]["bins"]:
            if b["n"]:
                print(f"  {b['lo']:.1f}-{b['hi']:.1f}: {b['n']:>5} {b['p']:.3f} {b['observed']:.3f}")
    words, p, y = Confidence(), probs[variant]["right"], real.array("right")
    said = np.array([words.word(v) for v in p])
    print(f"\nconfidence words at sure >= {words.sure}, likely >= {words.likely} ({variant}): rounds, mean P(right), share right")
    for w in ("sure", "likely", "unsure"):
        m = said == w
        if m.any():
            print(f"  {w:<7} {int(m.sum()):>5} {p[m].mean():.3f} {y[m].mean():.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--questions", type=int, default=150, help="practice questions per conversation (at most)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--first-k", type=int, default=Config.model_fields["first_k"].default)
    parser.add_argument("--more-k", type=int, default=Config.model_fields["more_k"].default)
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument("--plots", type=Path, default=None, help="where to write critic_reliability.png")
    parser.add_argument("--out", type=Path, default=None, help="write the shipped critic (practice, fitted on every conversation) here")
    parser.add_argument("--calibrate", choices=("practice", "real"), default="practice", help="what the shipped critic's Platt scaling is fitted on")
    parser.add_argument("--fit", choices=("practice", "real", "both"), default="practice", help="what the shipped critic's heads are fitted on: practice rounds, real dev rounds, or both")
    args = parser.parse_args()
    data = dataset(args.file, args.first_k, args.more_k, args.questions, args.seed, args.cache)
    real, probs, critics = loco(data)
    results = table(real, probs)
    show(results, shapes(args.file, data), real, data)
    for variant in VARIANTS:
        reliability_table(results, real, probs, variant)
    saved = args.cache / f"loco-k{args.first_k}-m{args.more_k}.pickle"
    saved.write_bytes(pickle.dumps({"rows": real, "probs": probs, "critics": critics}))
    print(f"\nheld-out probabilities -> {saved}")
    if args.plots:
        from hyperloom.evals.plots import reliability

        args.plots.mkdir(parents=True, exist_ok=True)
        curves = {f"{label}, {v}": results[v][label]["calibration"] for v in ("practice", "practice, real calibration") for label in ("right", "holds")}
        print("reliability diagram ->", reliability(curves, args.plots / "critic_reliability.png", "Critic calibration, LoCoMo dev, leave-one-conversation-out"))
    if args.out:
        names = list(data)
        practice = {"practice": pooled(data, "practice"), "real": pooled(data, "real"), "both": pooled(data, "practice") + pooled(data, "real")}[args.fit]
        critic = fit(practice, names, calibrate=pooled(data, "real") if args.calibrate == "real" else None)
        critic.dump(args.out, fitted_on={"practice": "practice rounds", "real": "LoCoMo dev real rounds", "both": "practice and LoCoMo dev real rounds"}[args.fit], practice_questions=practice.questions, practice_rounds=len(practice.key), right_share=round(float(np.mean(practice.right)), 3),
                    holds_share=round(float(np.mean(practice.holds)), 3), calibrated_on="LoCoMo dev real questions" if args.calibrate == "real" else "practice rounds, leave-one-conversation-out")
        print(f"shipped critic -> {args.out} (threshold {critic.threshold}, trained on {', '.join(names)})")


if __name__ == "__main__":
    main()
