"""MCP latency benchmark: the `search` tool's round trip (client → `hyperloom mcp` → client), target p95 ≤ 50 ms.

What it measures
    The first conversation of a LoCoMo file with at least `--turns` turns is cut to that many turns
    and remembered (through the Agent API) in a fresh data directory. Then the real server is started
    as a subprocess, `hyperloom mcp`, and the MCP SDK's own client calls `search` (k=5) with the
    conversation's questions, `--calls` times after `--warm` untimed calls, over stdio and (unless
    `--no-http`) over streamable HTTP on a loopback port. Reported: p50, p95 and max of the wall time
    of each `call_tool`, serialisation and transport included, beside `Agent.search` called in process
    on the same directory (the server's own share is the difference).

Run
    python -m hyperloom.benchmarks.mcp_latency ../shared/datasets/locomo/locomo_dev.json [--turns 600] [--calls 200]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio
import numpy as np
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from hyperloom import Agent
from hyperloom.config import Config
from hyperloom.evals.datasets import locomo
from hyperloom.integrations.mcp_serve import query_embedder
from hyperloom.memory.formats import Conversation

BIN = Path(sys.executable).parent
NAMESPACE = "bench"


def conversation(file: Path, turns: int) -> tuple[Conversation, list[str]]:
    """The first conversation with at least `turns` turns, cut to them, and its questions."""
    unit = next(u for u in locomo.load(file).units if len(u.conversation.turns) >= turns)
    kept = unit.conversation.turns[:turns]
    sessions = [s for s in unit.conversation.sessions if s.id in {t.session for t in kept}]
    return Conversation(unit.name, sessions, kept), [q.text for q in unit.questions]


async def timed(client: Client, questions: list[str], warm: int, calls: int) -> list[float]:
    ms = []
    for i in range(warm + calls):
        started = time.perf_counter()
        result = await client.call_tool("search", {"query": questions[i % len(questions)], "k": 5})
        elapsed = (time.perf_counter() - started) * 1000
        assert not result.is_error, result.content[0].text
        if i >= warm:
            ms.append(elapsed)
    return ms


async def over_stdio(home: Path, questions: list[str], warm: int, calls: int) -> list[float]:
    server = StdioServerParameters(command=str(BIN / "hyperloom"), args=["mcp", "--namespace", NAMESPACE], env={**os.environ, "HYPERLOOM_HOME": str(home)})
    async with Client(server) as client:
        return await timed(client, questions, warm, calls)


async def over_http(home: Path, questions: list[str], warm: int, calls: int) -> list[float]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    args = [str(BIN / "hyperloom"), "mcp", "--namespace", NAMESPACE, "--http", f"127.0.0.1:{port}"]
    proc = subprocess.Popen(args, env={**os.environ, "HYPERLOOM_HOME": str(home)}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("hyperloom mcp --http did not start")
            await anyio.sleep(0.2)
        async with Client(f"http://127.0.0.1:{port}/mcp") as client:
            return await timed(client, questions, warm, calls)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def in_process(home: Path, questions: list[str], warm: int, calls: int) -> list[float]:
    """`Agent.search` itself on the same directory, with the server's embedder: what the server adds is the difference."""
    ms = []
    with Agent.open(home, NAMESPACE, model="none", embedder=query_embedder(Config(home=home))) as agent:
        for i in range(warm + calls):
            started = time.perf_counter()
            agent.search(questions[i % len(questions)], 5)
            if i >= warm:
                ms.append((time.perf_counter() - started) * 1000)
    return ms


def report(name: str, ms: list[float]) -> None:
    p50, p95 = np.percentile(ms, 50), np.percentile(ms, 95)
    print(f"search, {name}: p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {max(ms):.1f} ms ({len(ms)} calls) — target p95 <= 50 ms: {'met' if p95 <= 50 else 'MISSED'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--turns", type=int, default=600)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--warm", type=int, default=10)
    parser.add_argument("--no-http", action="store_true")
    args = parser.parse_args()
    conv, questions = conversation(args.file, args.turns)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        started = time.perf_counter()
        with Agent.open(home, NAMESPACE, model="none") as agent:
            agent.ingest(conv)
        print(f"{conv.name}: {len(conv.turns)} turns in {len(conv.sessions)} sessions remembered in {time.perf_counter() - started:.1f} s")
        report("Agent.search in process (no MCP)", in_process(home, questions, args.warm, args.calls))
        report("stdio", anyio.run(over_stdio, home, questions, args.warm, args.calls))
        if not args.no_http:
            report("streamable HTTP", anyio.run(over_http, home, questions, args.warm, args.calls))


if __name__ == "__main__":
    main()
