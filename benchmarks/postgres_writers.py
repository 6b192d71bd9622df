"""N writer processes, each with a data directory of its own (as on N machines), one namespace in one
PostgreSQL database with its vectors on one Chroma server.

    python -m hyperloom.benchmarks.postgres_writers --writers 4 --turns 2000

Starts its own PostgreSQL 15 (tests/pg.py) and `chroma run`. Writers remember their turns one at a time
(structured memory, the code of benchmarks/concurrency.py). Checks afterwards, from a fresh process on a
fresh directory: every turn is in the log exactly once, positions are 0..n-1 with no gap, the vector index
holds exactly the log's turns, and a search finds each writer's lines.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import time
from collections import Counter

from hyperloom.benchmarks.concurrency import NAMESPACE, _agent, line, writer
from hyperloom.benchmarks.store_backends import both_stores


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--turns", type=int, default=2000)
    args = parser.parse_args()
    with both_stores() as (_, _, server):
        work = server.home.parent
        os.environ.update(HYPERLOOM_STORE="postgres", HYPERLOOM_POSTGRES_URL=server.postgres_url, HYPERLOOM_CHROMA_URL=server.chroma_url)
        ctx = mp.get_context("spawn")
        procs = [ctx.Process(target=writer, args=(str(work / f"machine{n}"), str(work / f"w{n}.json"), n, args.turns)) for n in range(1, args.writers + 1)]
        started = time.perf_counter()
        for p in procs:
            p.start()
        for p in procs:
            p.join()
        elapsed = time.perf_counter() - started
        errors = [json.loads((work / f"w{n}.json").read_text())["error"] for n in range(1, args.writers + 1)]
        with _agent(str(work / "checker")) as agent:
            turns = agent.turns()
            texts = Counter(t.text for t in turns)
            written = {line(n, i) for n in range(1, args.writers + 1) for i in range(args.turns)}
            found = {n: any(f"Writer {n} note" in h.text for h in agent.search(f"Writer {n} note the lantern", k=10)) for n in range(1, args.writers + 1)}
            result = {
                "writers": args.writers, "turns_each": args.turns, "errors": [e for e in errors if e],
                "lost": len(written - texts.keys()), "duplicated": sum(c - 1 for c in texts.values() if c > 1),
                "positions_gapless": sorted(t.position for t in turns) == list(range(len(turns))),
                "index_differs": len(agent.store.vectors(NAMESPACE).ids() ^ {t.seq for t in turns}),
                "search_finds_every_writer": all(found.values()), "turns_per_s": round(len(written) / elapsed, 1), "seconds": round(elapsed),
            }
    print(json.dumps(result, indent=1))
    clean = not result["errors"] and not result["lost"] and not result["duplicated"] and result["positions_gapless"] and not result["index_differs"]
    return 0 if clean and result["search_finds_every_writer"] else 1


if __name__ == "__main__":
    sys.exit(main())
