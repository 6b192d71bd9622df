"""LoCoMo retrieval benchmark: each conversation in its own namespace of a fresh store, evidence recall@k."""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

from hyperloom.config import Config
from hyperloom.errors import StorageError
from hyperloom.evals.locomo import CATEGORIES, Question, Sample
from hyperloom.memory.store import MemoryStore
from hyperloom.retrieval.embed import Embedder, make_embedder

QA_CATEGORIES = (1, 2, 3, 4)  # category 5 (adversarial) has no evidence to find


def evidence_recall(ranked: Sequence[str], evidence: Sequence[str], k: int) -> float:
    """LoCoMo's recall@k: the fraction of the question's evidence turn ids in the top k."""
    top = set(ranked[:k])
    return sum(e in top for e in evidence) / len(evidence)


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))] if ordered else 0.0


def run_retrieval(
    samples: list[Sample],
    ks: Sequence[int] = (1, 5, 10, 25),
    *,
    config: Config | None = None,
    conversations: Sequence[str] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Ingest every conversation into a fresh store and measure recall@k on categories 1-4."""
    samples = [s for s in samples if not conversations or s.conversation.name in conversations]
    questions = [q for s in samples for q in s.questions if q.category in QA_CATEGORIES and q.evidence]
    base = config or Config()
    embedder = make_embedder(base.embedder)
    recalls: dict[int, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    latencies, ingest_turns, ingest_seconds, done = [], 0, 0.0, 0
    with tempfile.TemporaryDirectory(prefix="hyperloom-eval-") as home:
        store = MemoryStore(base.model_copy(update={"home": Path(home)}), embedder=embedder)
        embedder.embed("warm up")  # model load is not ingest time
        for sample in samples:
            started = time.perf_counter()
            store.remember(sample.conversation.turns, sample.conversation.name, sample.conversation.sessions)
            ingest_seconds += time.perf_counter() - started
            ingest_turns += len(sample.conversation.turns)
            for q in (q for q in sample.questions if q in questions):
                started = time.perf_counter()
                hits = store.search(q.text, max(ks), namespace=q.conversation)
                latencies.append((time.perf_counter() - started) * 1000)
                ranked = [h.turn_id for h in hits]
                for k in ks:
                    recalls[q.category][k].append(evidence_recall(ranked, q.evidence, k))
                done += 1
                if on_progress:
                    on_progress(done, len(questions))
        store.close()
    return _report(samples, questions, ks, recalls, latencies, ingest_turns, ingest_seconds)


def _report(samples: list[Sample], questions: list[Question], ks, recalls, latencies, turns: int, seconds: float) -> dict:
    def mean_at(values_by_k: dict[int, list[float]]) -> dict[str, float]:
        return {str(k): round(statistics.fmean(values_by_k[k]), 4) for k in ks}

    overall = {k: [v for c in recalls for v in recalls[c][k]] for k in ks}
    return {
        "dataset": "locomo",
        "mode": "retrieval",
        "conversations": [s.conversation.name for s in samples],
        "questions": len(questions),
        "retrieval": {
            "recall@k": mean_at(overall),
            "by_category": {CATEGORIES[c]: {"questions": len(recalls[c][ks[0]]), "recall@k": mean_at(recalls[c])} for c in sorted(recalls)},
        },
        "evidence_ids": {
            "parsed": [e for s in samples for e in s.parsed_evidence],
            "skipped": [e for s in samples for e in s.skipped_evidence],
        },
        "latency_ms": {"search": {"p50": round(percentile(latencies, 50), 2), "p95": round(percentile(latencies, 95), 2)}},
        "ingest": {"turns": turns, "seconds": round(seconds, 2), "turns_per_s": round(turns / max(seconds, 1e-9), 1)},
    }


def prepare_out(out: Path) -> Path:
    """Create the output directory up front, so an unwritable one fails before a long run."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise StorageError(f"Cannot write to the output directory {out} ({exc.strerror}); choose a writable --out directory.") from None
    return out


def write_report(report: dict, out: Path) -> Path:
    """Write `report.json` atomically: a half-written report never claims to be complete."""
    try:
        prepare_out(out)
        tmp = out / "report.json.tmp"
        tmp.write_text(json.dumps(report, indent=2) + "\n")
        tmp.replace(out / "report.json")
    except OSError as exc:
        raise StorageError(f"Cannot write the report to {out} ({exc.strerror}); choose a writable --out directory.") from None
    return out / "report.json"
