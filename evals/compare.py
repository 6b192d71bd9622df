"""Differences between two finished runs: every shared headline number, and a plot of their recall@k curves."""

from __future__ import annotations

import json
from pathlib import Path

from hyperloom.errors import InputError


def load_run(directory: Path) -> dict:
    path = directory / "report.json"
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{directory} holds no report.json; finish that run first (re-run it with --resume).") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path} cannot be read as a report ({exc}); re-run the evaluation into another --out.") from None
    if not report.get("complete"):
        raise InputError(f"{path} is the report of an unfinished run; finish it with --resume before comparing.")
    return report


def rows(a: dict, b: dict) -> list[tuple[str, float | None, float | None]]:
    """(measure, A, B) for the numbers a person compares first; a measure only one run has shows None for the other."""
    if a["dataset"] != b["dataset"]:
        raise InputError(f"The runs are on different data sets ({a['dataset']} and {b['dataset']}); compare runs of one data set.")
    ks = [k for k in b["ks"] if k in a["ks"]]
    out = []
    for level in ("turn", "session", "span"):
        metrics = ("recall", "precision", "iou") if level == "span" else ("recall", "recall_any", "recall_all", "ndcg")
        for metric in metrics:
            out += [(f"{level} {metric}@{k}", _get(a, "retrieval", level, f"{metric}@k", str(k)), _get(b, "retrieval", level, f"{metric}@k", str(k))) for k in ks]
    level, metric = b["headline"]
    for category in b["retrieval"]["by_category"]:
        path = ("retrieval", "by_category", category, level, f"{metric}@k")
        out += [(f"{category}: {level} {metric}@{k}", _get(a, *path, str(k)), _get(b, *path, str(k))) for k in ks]
    for q in ("p50", "p95"):
        out.append((f"search latency {q} (ms)", _get(a, "latency_ms", "search", q), _get(b, "latency_ms", "search", q)))
    out.append(("ingest turns/s", _get(a, "ingest", "turns_per_s"), _get(b, "ingest", "turns_per_s")))
    for measure in ("f1", "bleu1", "em"):
        if _get(a, "qa", measure) is not None or _get(b, "qa", measure) is not None:
            out.append((f"QA {measure}", _get(a, "qa", measure), _get(b, "qa", measure)))
    for measure in ("auroc", "accuracy", "mean_rounds", "mean_evidence_turns", "adaptive_recall"):
        if _get(a, "critic", measure) is not None or _get(b, "critic", measure) is not None:
            out.append((f"critic {measure.replace('_', ' ')}", _get(a, "critic", measure), _get(b, "critic", measure)))
    for q in ("p50", "p95"):
        if _get(a, "latency_ms", "end_to_end", q) is not None or _get(b, "latency_ms", "end_to_end", q) is not None:
            out.append((f"answer latency {q} (ms)", _get(a, "latency_ms", "end_to_end", q), _get(b, "latency_ms", "end_to_end", q)))
    if _get(a, "cost", "dollars") is not None or _get(b, "cost", "dollars") is not None:
        out.append(("answering dollars", _get(a, "cost", "dollars"), _get(b, "cost", "dollars")))
    return out


def caveats(a: dict, b: dict) -> list[str]:
    """What makes a difference mean less than it seems."""
    notes = []
    if a["conversations"] != b["conversations"] or a["questions"] != b["questions"]:
        notes.append(f"The runs asked different questions ({a['questions']} and {b['questions']}); differences mix systems and samples.")
    if a["mode"] != b["mode"]:
        notes.append(f"The runs used different modes ({a['mode']} and {b['mode']}).")
    return notes


def _get(report: dict, *path: str | None) -> float | None:
    node: object = report
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node if isinstance(node, (int, float)) else None
