"""Several processes, one data directory: two writers, a reader searching throughout, and a forgetter.

    python -m hyperloom.benchmarks.concurrency --turns 2000 --runs 10

Each run starts the four processes on a fresh directory (structured memory, one
namespace). Writers remember their turns one at a time; the forgetter forgets
every tenth of writer 1's turns once it is in the log; the reader searches for
writer lines all along. At the end the checks are: no process raised; the log
holds exactly what was written minus what was forgotten (nothing lost, nothing
resurrected); a fresh process's indexes hold exactly the log's turns; and no
search returned a turn forgotten before that search began.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import tempfile
import time
import traceback
from pathlib import Path

NAMESPACE = "shared"
WORDS = ["harbour", "violin", "orchard", "glacier", "lantern", "meadow", "compass", "falcon", "quarry", "tundra"]


def line(writer: int, i: int) -> str:
    return f"Writer {writer} note {i}: the {WORDS[i % 10]} near the {WORDS[(i // 10) % 10]} was checked at {i % 24} o'clock."


def _agent(home: str):
    from hyperloom import Agent
    from hyperloom.agent.critic import FixedCritic

    return Agent.open(home, NAMESPACE, model="none", critic=FixedCritic(1.0), memory="structured")


def _guard(role: str, home: str, out: str, body) -> None:
    """Run one process's part; whatever it raises is written down, not lost with the process."""
    try:
        result = body()
        Path(out).write_text(json.dumps({"role": role, "error": None, **result}))
    except BaseException:  # noqa: BLE001 — reported by the parent
        Path(out).write_text(json.dumps({"role": role, "error": traceback.format_exc()}))


def writer(home: str, out: str, number: int, turns: int) -> None:
    def body() -> dict:
        with _agent(home) as agent:
            for i in range(turns):
                agent.remember(line(number, i), speaker=f"writer{number}", session=f"w{number}", time=f"2024-01-{1 + i % 28:02d}T10:00:00")
        return {}

    _guard(f"writer{number}", home, out, body)


def forgetter(home: str, out: str, turns: int, stop: float) -> None:
    def body() -> dict:
        forgotten: dict[str, float] = {}  # turn text -> when its forget returned
        with _agent(home) as agent:
            while time.monotonic() < stop and len(forgotten) < turns // 10:
                wanted = {line(1, i) for i in range(0, turns, 10)} - forgotten.keys()
                for t in [t for t in agent.turns() if t.text in wanted][:3]:
                    agent.forget(turn=t.id)
                    forgotten[t.text] = time.time()
                time.sleep(0.05)
        return {"forgotten": forgotten}

    _guard("forgetter", home, out, body)


def reader(home: str, out: str, stop: float) -> None:
    done = Path(out).with_name("writers-done")

    def body() -> dict:
        searches = []
        with _agent(home) as agent:
            while time.monotonic() < stop and not done.exists():
                started = time.time()
                hits = agent.search(f"Writer 1 note the {WORDS[len(searches) % 10]}", k=10)
                searches.append({"started": started, "texts": [h.text for h in hits]})
        return {"searches": searches}

    _guard("reader", home, out, body)


def one_run(turns: int, workdir: Path, timeout: float) -> dict:
    home = str(workdir / "home")
    outs = {name: str(workdir / f"{name}.json") for name in ("writer1", "writer2", "reader", "forgetter")}
    with _agent(home) as agent:  # the namespace exists before anyone reads it
        agent.remember("The shared notebook starts here.", speaker="setup", session="setup", time="2024-01-01T09:00:00")
    ctx = mp.get_context("spawn")
    stop = time.monotonic() + timeout
    writers = [ctx.Process(target=writer, args=(home, outs[f"writer{n}"], n, turns)) for n in (1, 2)]
    others = [ctx.Process(target=reader, args=(home, outs["reader"], stop)), ctx.Process(target=forgetter, args=(home, outs["forgetter"], turns, stop))]
    started = time.perf_counter()
    for p in writers + others:
        p.start()
    for p in writers:
        p.join(timeout)
    elapsed = time.perf_counter() - started
    Path(workdir / "writers-done").touch()
    for p in others:
        p.join(timeout)
    for p in writers + others:
        if p.is_alive():
            p.kill()
    return check(home, outs, turns, elapsed)


def check(home: str, outs: dict[str, str], turns: int, elapsed: float) -> dict:
    results = {name: json.loads(Path(path).read_text()) if Path(path).exists() else {"error": "no result (killed or crashed)"} for name, path in outs.items()}
    errors = [f"{name}: {r['error']}" for name, r in results.items() if r.get("error")]
    forgotten = results["forgetter"].get("forgotten", {})
    written = {line(n, i) for n in (1, 2) for i in range(turns)} | {"The shared notebook starts here."}
    with _agent(home) as agent:
        in_log = {t.text for t in agent.turns()}
        seqs = {t.seq for t in agent.turns()}
        indexed = agent.store.vectors(NAMESPACE).ids()
    lost = written - forgotten.keys() - in_log
    resurrected = in_log & forgotten.keys()
    stale = sum(1 for s in results["reader"].get("searches", []) for text in s["texts"] if text in forgotten and forgotten[text] < s["started"])
    return {
        "errors": errors,
        "lost": len(lost),
        "resurrected": len(resurrected),
        "index_differs": len(indexed ^ seqs),
        "stale_hits": stale,
        "forgotten": len(forgotten),
        "searches": len(results["reader"].get("searches", [])),
        "turns_per_s": round(2 * turns / elapsed, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=2000, help="turns per writer")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--timeout", type=float, default=3600, help="seconds a run may take")
    args = parser.parse_args(argv)
    failed = 0
    print("| run | errors | lost | resurrected | index ≠ log | stale hits | forgotten | searches | turns/s |\n|---|---|---|---|---|---|---|---|---|")
    for run in range(1, args.runs + 1):
        with tempfile.TemporaryDirectory(prefix="hyperloom-concurrency-") as tmp:
            r = one_run(args.turns, Path(tmp), args.timeout)
        bad = bool(r["errors"]) or r["lost"] or r["resurrected"] or r["index_differs"] or r["stale_hits"]
        failed += bool(bad)
        print(f"| {run} | {len(r['errors'])} | {r['lost']} | {r['resurrected']} | {r['index_differs']} | {r['stale_hits']} | {r['forgotten']} | {r['searches']} | {r['turns_per_s']} |", flush=True)
        for e in r["errors"]:
            print(e, file=sys.stderr)
    print(f"\n{args.runs - failed} of {args.runs} runs clean.")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
