"""report.json from the per-question records: means by metric, level, k and category; latency; ingest; QA."""

from __future__ import annotations

import json
import resource
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from hyperloom.evals import published
from hyperloom.evals.datasets import Dataset, Unit
from hyperloom.evals.files import write_atomic
from hyperloom.evals.metrics import STEMMER, percentile
from hyperloom.evals.qa import UNSCORED
from hyperloom.evals.retrieval import search_depth

LEVEL_METRICS = ("recall", "recall_any", "recall_all", "ndcg")
SPAN_METRICS = ("recall", "precision", "iou")


def build_report(dataset: Dataset, units: list[Unit], records: list[dict], manifest: dict, run: dict) -> dict:
    """The report of the planned questions; `complete` is true only when every one of them has a record."""
    ks = manifest["ks"]
    planned = [q for u in units for q in u.questions]
    latest = {r["key"]: r for r in records if r["kind"] == "question"}  # a re-asked question: its last record
    done = [latest[q.key] for q in planned if q.key in latest]
    ingests = {r["unit"]: r for r in records if r["kind"] == "ingest"}
    scored = [r for r in done if r.get("retrieval")]
    notes = dataset.notes
    report = {
        "dataset": dataset.name,
        "mode": manifest["mode"],
        "complete": len(done) == len(planned),
        "file": manifest["file"],
        "conversations": [u.name for u in units],
        "questions": len(done),
        "questions_planned": len(planned),
        "excluded": excluded(dataset, manifest.get("conversations")),
        "ks": ks,
        "headline": list(dataset.headline),  # (level, metric) a person reads first
        "retrieval": retrieval_summary(scored, ks, dataset.categories),
        "evidence_ids": evidence_ids(notes),
        "input_notes": {k: v for k, v in notes.items() if v and k not in _EVIDENCE_NOTES},
        "latency_ms": {"search": spread(r["latency_ms"] for r in scored), "search_k": search_depth(ks)},
        "temporal_dates": temporal_dates(scored),
        "ingest": ingest_summary([ingests[u.name] for u in units if u.name in ingests]),
        "run": run,
        "published": published.figures(dataset.name),
    }
    if manifest["mode"] == "qa":
        report["qa"] = qa_summary(done, dataset.categories, manifest.get("judge"))
        report["answers_by"] = manifest.get("answers")
        report["cost"] = answer_cost(done)
        report["cost"]["judge"] = cost(done)
        report["latency_ms"].update(stage_latency(done))
        report["latency_ms"]["end_to_end"] = spread(r["answer_ms"] for r in done)
        agent = [r for r in done if "rounds" in r]  # answered by the agent (not by a custom answer function)
        if agent:
            # The questions retrieval is scored on (LoCoMo categories 1-4 with evidence): adversarial
            # questions ask about what was never said, so "the evidence holds the answer" means little there.
            scored = [r for r in agent if r["excluded"] is None]
            report["critic"] = critic_summary(scored, [ingests[u.name] for u in units if u.name in ingests])
            report["critic"]["adaptive_vs_fixed"] = adaptive_vs_fixed(report, scored)
            report["quotes_verified"] = quotes_summary(agent)["share"]
            report["quotes"] = quotes_summary(agent)
    return report


_EVIDENCE_NOTES = ("parsed_evidence", "skipped_evidence", "unparsed_evidence")


def evidence_ids(notes: dict) -> dict:
    """Raw evidence ids that were repaired, that name no real turn, and that hold no dialogue id at all, with counts."""
    out = {"parsed": notes.get("parsed_evidence", []), "skipped": notes.get("skipped_evidence", []), "unparsed": notes.get("unparsed_evidence", [])}
    out["counts"] = {k: len(v) for k, v in out.items()}
    return out


STAGES = ("rewrite", "retrieve", "critic", "pack", "answer", "verify", "memorize")


def stage_latency(done: Sequence[dict]) -> dict:
    """p50 / p95 (and mean, max) milliseconds of each graph stage over the questions that ran it."""
    rows = [r["stages_ms"] for r in done if r.get("stages_ms")]
    names = [s for s in STAGES if any(s in row for row in rows)] + sorted({s for row in rows for s in row} - set(STAGES))
    return {name: spread(row[name] for row in rows if name in row) for name in names}


def answer_cost(done: Sequence[dict]) -> dict:
    """What answering cost (the judge's cost is under `judge`): LLM calls, tokens and dollars, in total and per question."""
    usages = [r["usage"] for r in done if r.get("usage")]
    keys = ("calls", "prompt_tokens", "completion_tokens")
    total: dict = {k: sum(u[k] for u in usages) for k in keys}
    total["dollars"] = round(sum(u["dollars"] for u in usages), 6)
    n = len(usages)
    total["per_question"] = {k: round(total[k] / n, 6) if n else 0.0 for k in (*keys, "dollars")}
    return total


def critic_summary(done: Sequence[dict], ingests: Sequence[dict]) -> dict:
    """How well the critic's first-round probability predicts that the first round already holds all gold evidence.

    The label of a question is "the first round's hits hold every gold evidence turn"; the
    score is the critic's first-round probability; questions without gold evidence are left out.
    Accuracy thresholds the probability at the critic's own threshold.
    """
    info = next((i["critic"] for i in ingests if i.get("critic")), {})
    threshold, trained = info.get("threshold"), info.get("trained_on")
    rounds = Counter(r["rounds"] for r in done)
    seen = sorted({r["unit"] for r in done} & set(trained or ()))
    out = {
        "kind": info.get("kind"),
        "threshold": threshold,
        "trained_on": trained,
        "trained_on_in_run": seen,  # conversations the critic practised on: its AUROC there is not held out
        **discrimination(done, threshold),
        "held_out": discrimination([r for r in done if r["unit"] not in seen], threshold) if seen else None,
        "mean_rounds": mean(r["rounds"] for r in done),
        "rounds": {str(n): rounds[n] for n in sorted(rounds)},
        "mean_evidence_turns": mean(r["evidence_turns"] for r in done),
        "adaptive_recall": mean(r["adaptive_recall"] for r in done if r.get("adaptive_recall") is not None),
        "first_round_recall": mean(r["first_round_recall"] for r in done if r.get("first_round_recall") is not None),
        "recall_by_rounds": recall_by_rounds(done),
        **reading_critic(done),
    }
    return out


RIGHT = 0.5  # an answer with F1 at least this is right (the critic's label, SIM-RAG's way)


def reading_critic(done: Sequence[dict]) -> dict:
    """What the reading critic adds: AUROC and calibration of P(holds) (first round vs its evidence holding the gold)
    and of P(right) (the last round's vs the answer's F1 >= RIGHT), the confidence words, and adaptive vs fixed k."""
    holds = [(int(r["critic_label"]), r["p_holds"][0]) for r in done if r.get("critic_label") is not None and (r.get("p_holds") or [None])[0] is not None]
    right = [(int(_f1(r) >= RIGHT), r["p_right"][-1]) for r in done if _f1(r) is not None and (r.get("p_right") or [None])[-1] is not None]
    out: dict = {}
    if holds:
        out["holds"] = {"questions": len(holds), "auroc": auroc(*zip(*holds)), "calibration": calibration(*zip(*holds))}
    if right:
        out["right"] = {"questions": len(right), "auroc": auroc(*zip(*right)), "calibration": calibration(*zip(*right))}
    words = Counter(r["confidence"] for r in done if r.get("confidence"))
    if words:
        out["confidence"] = {w: {"answers": n, "right": mean(float(_f1(r) >= RIGHT) for r in done if r.get("confidence") == w and _f1(r) is not None)} for w, n in words.items()}
    fixed = [r for r in done if r.get("fixed_f1") is not None and _f1(r) is not None]
    if fixed:
        out["fixed"] = {"k": fixed[0]["fixed_k"], "questions": len(fixed), "f1": mean(r["fixed_f1"] for r in fixed), "adaptive_f1": mean(_f1(r) for r in fixed)}
    return out


def adaptive_vs_fixed(report: dict, done: Sequence[dict]) -> dict:
    """The agent's adaptive evidence (mean turns, recall, F1) beside fixed top-k recall of the same questions' search."""
    critic = report["critic"]
    return {
        "adaptive": {"turns": critic["mean_evidence_turns"], "recall": critic["adaptive_recall"], "f1": mean(_f1(r) for r in done if _f1(r) is not None)},
        "fixed_recall": {k: v for k, v in (report["retrieval"].get("recall@k") or {}).items() if v is not None},
        "fixed_f1": critic.get("fixed"),
    }


def _f1(record: dict) -> float | None:
    return (record.get("qa") or {}).get("f1")


def discrimination(done: Sequence[dict], threshold: float | None) -> dict:
    """AUROC and accuracy of the first-round probability against the first-round label."""
    labelled = [(r["critic_label"], r["probabilities"][0]) for r in done if r.get("critic_label") is not None and r.get("probabilities")]
    labels, scores = [int(label) for label, _ in labelled], [p for _, p in labelled]
    return {
        "questions": len(labelled),
        "positives": sum(labels),
        "auroc": auroc(labels, scores),
        "accuracy": mean(float((p >= threshold) == bool(y)) for y, p in zip(labels, scores)) if threshold is not None else None,
    }


def calibration(labels: Sequence[int], probabilities: Sequence[float], bins: int = 10) -> dict:
    """Expected calibration error over equal-width bins, with each bin's mean probability and observed share."""
    out, n, ece = [], len(labels), 0.0
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        inside = [(y, p) for y, p in zip(labels, probabilities) if lo <= p < hi or (b == bins - 1 and p == 1.0)]
        if inside:
            p_mean, observed = statistics.fmean(p for _, p in inside), statistics.fmean(y for y, _ in inside)
            ece += len(inside) / n * abs(p_mean - observed)
            out.append({"lo": lo, "hi": hi, "n": len(inside), "p": round(p_mean, 4), "observed": round(observed, 4)})
        else:
            out.append({"lo": lo, "hi": hi, "n": 0, "p": None, "observed": None})
    return {"n": n, "ece": round(ece, 4) if n else None, "bins": out}


def recall_by_rounds(done: Sequence[dict]) -> dict:
    """By the number of rounds a question took: questions, mean first-round recall and mean adaptive recall."""
    out = {}
    for n in sorted({r["rounds"] for r in done}):
        rows = [r for r in done if r["rounds"] == n and r.get("adaptive_recall") is not None]
        out[str(n)] = {
            "questions": len(rows),
            "first_round_recall": mean(r["first_round_recall"] for r in rows),
            "adaptive_recall": mean(r["adaptive_recall"] for r in rows),
            "evidence_turns": mean(r["evidence_turns"] for r in rows),
        }
    return out


def auroc(labels: Sequence[int], scores: Sequence[float]) -> float | None:
    """ROC AUC (scikit-learn); None when only one class occurs (AUROC is undefined then)."""
    if len(set(labels)) < 2:
        return None
    from sklearn.metrics import roc_auc_score

    return round(float(roc_auc_score(labels, scores)), 4)


def quotes_summary(done: Sequence[dict]) -> dict:
    """Share of answers with citations whose every quote is verbatim in the log."""
    cited = [r for r in done if r.get("citations")]
    return {
        "questions_with_citations": len(cited),
        "citations": sum(len(r["citations"]) for r in cited),
        "share": mean(float(r["quotes_verified"]) for r in cited),
    }


def temporal_dates(records: Sequence[dict]) -> dict | None:
    """Share of temporal questions whose gold date is among the resolved dates of the top-10 evidence."""
    found = [r["date_found"] for r in records if "date_found" in r]
    return {"questions": len(found), "share": round(sum(found) / len(found), 4)} if found else None


def excluded(dataset: Dataset, conversations: list[str] | None) -> dict[str, int]:
    """Questions of the chosen units (all, or --conversations) that retrieval metrics skip, by reason."""
    chosen = [u for u in dataset.units if not conversations or u.name in conversations]
    return dict(Counter(q.excluded for u in chosen for q in u.questions if q.excluded))


def mean(values: Iterable[float]) -> float | None:
    values = list(values)
    return round(statistics.fmean(values), 4) if values else None


def level_summary(records: Sequence[dict], level: str, ks: Sequence[int]) -> dict | None:
    rows = [r["retrieval"][level] for r in records if r["retrieval"].get(level)]
    if not rows:
        return None
    metrics = SPAN_METRICS if level == "span" else LEVEL_METRICS
    out: dict = {"questions": len(rows)}
    out.update({f"{m}@k": {str(k): mean(row[m][str(k)] for row in rows) for k in ks} for m in metrics})
    if level == "span":
        out["precision_omega"] = mean(row["precision_omega"] for row in rows)
    return out


def families(records: Sequence[dict], ks: Sequence[int]) -> dict:
    turn = level_summary(records, "turn", ks)
    return {
        "questions": len(records),
        "recall@k": turn["recall@k"] if turn else None,  # LoCoMo's evidence recall, the foundation report's key
        "turn": turn,
        "session": level_summary(records, "session", ks),
        "span": level_summary(records, "span", ks),
    }


def retrieval_summary(records: Sequence[dict], ks: Sequence[int], categories: Sequence[str]) -> dict:
    out = families(records, ks)
    out["by_category"] = {c: families(rows, ks) for c in categories if (rows := [r for r in records if r["category"] == c])}
    return out


def spread(values: Iterable[float]) -> dict[str, float]:
    values = list(values)
    return {
        "p50": round(percentile(values, 50), 2),
        "p95": round(percentile(values, 95), 2),
        "mean": round(statistics.fmean(values), 2) if values else 0.0,
        "max": round(max(values), 2) if values else 0.0,
    }


def ingest_summary(ingests: list[dict]) -> dict:
    turns, seconds = sum(r["turns"] for r in ingests), sum(r["seconds"] for r in ingests)
    main_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "units": len(ingests),
        "turns": turns,
        "seconds": round(seconds, 2),
        "turns_per_s": round(turns / max(seconds, 1e-9), 1),
        "peak_rss_mb": max([r["peak_rss_mb"] for r in ingests] + [round(main_mb, 1)]),  # the largest process
    }


def qa_scores(rows: Sequence[dict]) -> dict:
    verdicts = [r["judge"]["verdicts"] for r in rows if r.get("judge")]
    prompts = sorted({p for v in verdicts for p in v})
    return {
        "questions": len(rows),
        "f1": mean(r["qa"]["f1"] for r in rows if r["qa"]["f1"] is not None),
        "bleu1": mean(r["qa"]["bleu1"] for r in rows if r["qa"]["bleu1"] is not None),
        "em": mean(r["qa"]["em"] for r in rows if r["qa"]["em"] is not None),
        "judge": {p: mean(float(v[p]) for v in verdicts if p in v) for p in prompts},
    }


def qa_summary(done: Sequence[dict], categories: Sequence[str], judge_model: str | None) -> dict:
    """Overall scores leave out adversarial and abstention questions, as published QA scores do."""
    out = qa_scores([r for r in done if r["excluded"] not in UNSCORED])
    out["by_category"] = {c: qa_scores(rows) for c in categories if (rows := [r for r in done if r["category"] == c])}
    out["stemmer"] = STEMMER
    out["judge"] = judge_summary(done, judge_model)
    return out


def judge_summary(done: Sequence[dict], judge_model: str | None) -> dict | None:
    """`lenient` / `strict` over the scored questions (LoCoMo 1-4); LongMemEval's `accuracy` over every question."""
    if judge_model is None:
        return None
    from hyperloom.evals.judge import LOCOMO_PROMPTS, prompt_sha

    verdicts = [(r["excluded"], r["judge"]["verdicts"]) for r in done if r.get("judge")]
    used = sorted({p for _, v in verdicts for p in v})
    out: dict = {"model": judge_model, "prompt_sha": {p: prompt_sha(p) for p in used}}
    for p in LOCOMO_PROMPTS:
        if p in used:
            out[p.removeprefix("locomo_")] = mean(float(v[p]) for why, v in verdicts if p in v and why not in UNSCORED)
    official = [ok for _, v in verdicts for p, ok in v.items() if p.startswith("longmemeval")]
    if official:
        out["accuracy"] = mean(float(ok) for ok in official)
    return out


def cost(done: Sequence[dict]) -> dict:
    usages = [r["judge"]["usage"] for r in done if r.get("judge")]
    keys = ("calls", "cached", "prompt_tokens", "completion_tokens", "dollars")
    total = {k: sum(u[k] for u in usages) for k in keys}
    total["dollars"] = round(total["dollars"], 6)
    total["dollars_per_question"] = round(total["dollars"] / len(done), 6) if done else 0.0
    return total


def write_outputs(report: dict, records: list[dict], out: Path) -> None:
    """Plots and report.md first, report.json last: report.json is what says the run finished."""
    from hyperloom.evals.markdown import render
    from hyperloom.evals.plots import write_plots

    report["plots"] = [p.name for p in write_plots(report, records, out)]
    write_atomic(out / "report.md", render(report))
    write_atomic(out / "report.json", json.dumps(report, indent=2, ensure_ascii=False) + "\n")
