"""SQLite + HNSW files against PostgreSQL + a Chroma server, same run: ingest turns/s, search p95, recall@10.

    python -m hyperloom.benchmarks.store_backends ../shared/datasets/locomo/locomo_dev.json --conversations 1
    python -m hyperloom.benchmarks.store_backends --forget 20000   # what a forget of one turn costs, both stores

Starts its own PostgreSQL 15 (tests/pg.py) and `chroma run` in temporary directories. Recall@10: the share of
a question's evidence turns among the ten best hits (questions without evidence are left out).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from hyperloom.config import Config
from hyperloom.memory.formats import load_conversations
from hyperloom.memory.store import MemoryStore
from hyperloom.retrieval.embed import OnnxMiniLM


def run(store: MemoryStore, conversations, questions) -> dict:
    turns, started = 0, time.perf_counter()
    for c in conversations:
        store.add_conversations([c], c.name)
        turns += len(c.turns)
    ingest = time.perf_counter() - started
    latencies, recalls = [], []
    for name, question, evidence in questions:
        t0 = time.perf_counter()
        hits = store.search(question, 10, name)
        latencies.append(time.perf_counter() - t0)
        recalls.append(len(evidence & {h.turn_id for h in hits}) / len(evidence))
    latencies.sort()
    return {"turns_per_s": turns / ingest, "search_p50_ms": 1000 * statistics.median(latencies),
            "search_p95_ms": 1000 * latencies[int(0.95 * (len(latencies) - 1))], "recall_at_10": statistics.mean(recalls), "questions": len(questions)}


def forgets(store: MemoryStore, turns: int, times: int = 5) -> dict:
    """Ingest a generated conversation of `turns` turns (benchmarks/scale.py), then forget `times` turns one by
    one, from sessions spread over it: the median and every time, in seconds."""
    from hyperloom.benchmarks.scale import conversation

    convo, _, _ = conversation(turns, seed=7)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "c.json").write_text(json.dumps(convo))
        started = time.perf_counter()
        store.add_conversations(load_conversations(Path(tmp) / "c.json"), "bench")
        ingest = time.perf_counter() - started
    sessions = convo["sessions"]
    chosen = [sessions[int(i * (len(sessions) - 1) / max(times - 1, 1))]["turns"][1]["id"] for i in range(times)]
    spent, purging = [], _timed_purge(store.log.db)
    for turn in chosen:
        t0 = time.perf_counter()
        store.forget("bench", turn=turn)
        spent.append(time.perf_counter() - t0)
    return {"turns": turns, "ingest_s": round(ingest, 1), "forget_median_s": round(statistics.median(spent), 3), "forget_s": [round(t, 3) for t in spent],
            "purge_median_s": round(statistics.median(purging), 3) if purging else None}


def _timed_purge(db) -> list[float]:
    """The seconds each PostgreSQL purge (VACUUM FULL, WAL switch, CHECKPOINT) took, filled in as forgets run."""
    if db.dialect != "postgres":
        return []
    spent, purge = [], db.purge

    def timed():
        t0 = time.perf_counter()
        try:
            return purge()
        finally:
            spent.append(time.perf_counter() - t0)

    db.purge = timed
    return spent


@contextmanager
def both_stores():
    """(embedder, the SQLite store's config, the PostgreSQL + Chroma store's config), on servers of their own
    (the tests' PostgreSQL and Chroma starters), stopped afterwards."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from chroma_server import ChromaServer
    from pg import PostgresServer

    work = Path(tempfile.mkdtemp(prefix="hl-bench-"))
    postgres, chroma = PostgresServer(), ChromaServer(work / "chroma")
    try:
        pg = Config(home=work / "pg", store="postgres", postgres_url=postgres.new_database(), chroma_url=chroma.url)
        yield OnnxMiniLM(), Config(home=work / "sqlite"), pg
    finally:
        chroma.stop()
        postgres.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dataset", type=Path, nargs="?")
    parser.add_argument("--conversations", type=int, default=1)
    parser.add_argument("--forget", type=int, metavar="TURNS", help="instead: the cost of forgetting one turn at this size")
    args = parser.parse_args()
    if args.forget:
        return forget_costs(args.forget)
    conversations = load_conversations(args.dataset)[: args.conversations]
    raw = {s["sample_id"]: s for s in json.loads(args.dataset.read_text())}
    questions = [(c.name, q["question"], set(q["evidence"])) for c in conversations for q in raw[c.name]["qa"] if q.get("evidence")]
    with both_stores() as (embedder, lite, server):
        with MemoryStore(lite, embedder=embedder) as store:
            sqlite = run(store, conversations, questions)
        with MemoryStore(server, embedder=embedder) as store:
            pg = run(store, conversations, questions)
    print(json.dumps({"sqlite+hnsw": sqlite, "postgres+chroma": pg}, indent=1))
    print(f"ingest ratio {pg['turns_per_s'] / sqlite['turns_per_s']:.2f} (target >= 0.5); p95 ratio {pg['search_p95_ms'] / sqlite['search_p95_ms']:.2f} (target <= 2); "
          f"recall difference {pg['recall_at_10'] - sqlite['recall_at_10']:+.4f} (target within 0.005)")


def forget_costs(turns: int) -> None:
    """The same generated conversation in SQLite + HNSW and in PostgreSQL + a Chroma server; five forgets in each."""
    with both_stores() as (embedder, lite, server):
        with MemoryStore(lite, embedder=embedder) as store:
            sqlite = forgets(store, turns)
        print(json.dumps({"sqlite+hnsw": sqlite}), flush=True)
        with MemoryStore(server, embedder=embedder) as store:
            pg = forgets(store, turns)
            assert not store.notices, store.notices  # the server is set up as the README asks
    print(json.dumps({"postgres+chroma": pg}))
    print(f"forget of one turn at {turns:,} turns, median of 5: SQLite {sqlite['forget_median_s']:.3f} s, PostgreSQL + Chroma {pg['forget_median_s']:.3f} s"
          f" (of which the purge {pg['purge_median_s']:.3f} s)")


if __name__ == "__main__":
    main()
