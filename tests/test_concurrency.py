"""Two writers, a reader and a forgetter in four processes on one data directory (structured memory)."""

from __future__ import annotations

from pathlib import Path

from hyperloom.benchmarks.concurrency import one_run


def test_processes_sharing_a_directory_lose_resurrect_and_misread_nothing(tmp_path: Path) -> None:
    result = one_run(40, tmp_path, timeout=240)
    assert result["errors"] == []
    assert (result["lost"], result["resurrected"], result["index_differs"], result["stale_hits"]) == (0, 0, 0, 0)
    assert result["forgotten"] == 4 and result["searches"] > 0


AGENT_WRITER = """
import sys
from hyperloom import Agent
agent = Agent.open(sys.argv[1], "shared", model="none", memory="structured")
for i in range(int(sys.argv[3])):
    agent.remember(f"Note {i} from {sys.argv[2]} about the lantern by the orchard.", speaker=sys.argv[2], session=sys.argv[2])
    print(i, flush=True)
"""


def test_sigkill_of_two_structured_writers_loses_no_returned_turn(tmp_path: Path) -> None:
    """kill -9 of both writers mid-write: every turn whose remember returned is in the log, and the next
    process brings every index up to the log with no error."""
    import os
    import signal
    import subprocess
    import sys

    from hyperloom import Agent

    home = tmp_path / "home"
    procs = {name: subprocess.Popen([sys.executable, "-c", AGENT_WRITER, str(home), name, "100000"], stdout=subprocess.PIPE, text=True) for name in ("ada", "bo")}
    returned = {name: [int(p.stdout.readline()) for _ in range(25)] for name, p in procs.items()}
    for name, p in procs.items():
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        returned[name] += [int(line) for line in p.stdout.read().split()]
    with Agent.open(home, "shared", model="none", memory="structured") as agent:
        stored = {t.text for t in agent.turns()}
        assert {f"Note {i} from {name} about the lantern by the orchard." for name, got in returned.items() for i in got} <= stored
        assert agent.search("lantern orchard", k=3)  # reconciled with no error
        assert agent.store.vectors("shared").ids() == {t.seq for t in agent.turns()}
        assert {f.id for f in agent.facts()} == agent.store.vectors("shared", "facts").ids()


def test_two_concurrent_cli_ingests_into_one_namespace_both_land(tmp_path: Path) -> None:
    """Two `hyperloom ingest` processes at once, different files, one structured namespace: both commit, neither errs."""
    import json
    import subprocess
    import sys

    files = []
    for name in ("north", "south"):
        turns = [{"id": f"{name}:{i}", "speaker": name.title(), "text": f"{name.title()} note {i}: the lantern by the orchard was lit at {i} o'clock."} for i in range(30)]
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps({"name": name, "sessions": [{"id": name, "started_at": "2024-05-01T10:00:00", "turns": turns}]}))
        files.append(path)
    hyperloom = str(Path(sys.executable).parent / "hyperloom")
    home = tmp_path / "home"
    procs = [subprocess.Popen([hyperloom, "ingest", str(f), "--home", str(home), "--namespace", "shared"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for f in files]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    assert [code for code, _ in results] == [0, 0], results
    assert all("Traceback" not in err for _, err in results)
    from hyperloom import Agent

    with Agent.open(home, "shared", model="none") as agent:
        assert len(agent.turns()) == 60
        assert agent.store.vectors("shared").ids() == {t.seq for t in agent.turns()}
