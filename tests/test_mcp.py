"""`hyperloom mcp`, the real server in its own process, driven by the MCP SDK's own client: over stdio as the
README's client configuration launches it, and over streamable HTTP on a loopback port."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from test_cli import assert_one_line_error, run

from hyperloom.config import Config
from hyperloom.integrations.mcp_serve import answering_model, http_address
from hyperloom.errors import InputError

pytestmark = pytest.mark.anyio
README = Path(__file__).resolve().parents[1] / "README.md"
BIN = Path(sys.executable).parent
SECRET = "ocelot-2024-secret"
TOOLS = {"remember", "search", "ask", "forget", "sessions", "turn"}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def readme_config() -> dict:
    """The `mcpServers` entry of the README's section on MCP clients, as a person would paste it."""
    section = README.read_text().split("## Use it from an MCP client or LangGraph", 1)[1]
    block = re.search(r"```json\n(.*?)```", section, re.S).group(1)
    (entry,) = json.loads(block)["mcpServers"].values()
    return entry


def launch(home: Path, *extra: str) -> StdioServerParameters:
    """The README's command and arguments exactly (`extra` appended), with the data directory in the environment."""
    entry = readme_config()
    command = shutil.which(entry["command"], path=f"{BIN}{os.pathsep}{os.environ['PATH']}")
    # The SDK starts servers with a bare environment; keep what the test run itself depends on (some CPUs need
    # OPENBLAS_*, a checkout run from elsewhere needs PYTHONPATH).
    passed = {k: v for k, v in os.environ.items() if k.startswith("OPENBLAS") or k == "PYTHONPATH"}
    return StdioServerParameters(command=command, args=[*entry["args"], *extra], env={**entry.get("env", {}), **passed, "HYPERLOOM_HOME": str(home)})


def raw_bytes(home: Path) -> bytes:
    return b"".join(p.read_bytes() for p in home.rglob("*") if p.is_file())


async def call(client: Client, tool: str, **args) -> dict:
    result = await client.call_tool(tool, args)
    assert not result.is_error, result.content[0].text
    return result.structured_content


async def error(client: Client, tool: str, **args) -> str:
    result = await client.call_tool(tool, args)
    assert result.is_error, result.structured_content
    text = result.content[0].text
    assert "\n" not in text and text.startswith(f"Error executing tool {tool}: ") and text.endswith("."), text
    return text


async def exercise(client: Client, home: Path) -> None:
    """list tools, remember, search, turn, ask, sessions, forget: the round a client makes, checked at each step."""
    tools = {t.name: t for t in (await client.list_tools()).tools}
    assert set(tools) == TOOLS and all(t.description and t.input_schema["properties"] is not None for t in tools.values())
    assert tools["forget"].annotations.destructive_hint and tools["search"].annotations.read_only_hint
    secret = await call(client, "remember", text=f"My locker code is {SECRET}, don't tell.", speaker="dana", time="2024-03-01T10:00:00")
    await call(client, "remember", text="I keep my bike in the basement.", speaker="dana", time="2024-03-01T10:01:00")
    (hit, *_) = (await call(client, "search", query="locker code", k=3))["hits"]
    assert hit["turn_id"] == secret["turn_id"] and hit["speaker"] == "dana" and hit["time"] == "2024-03-01T10:00:00"
    assert all(hit["text"][s["start"] : s["end"]] == s["text"] for s in hit["spans"]) and hit["spans"]
    assert (await call(client, "turn", id=hit["turn_id"]))["text"] == hit["text"]
    assert (await client.read_resource(hit["uri"])).contents[0].text == hit["text"]
    answer = await call(client, "ask", question="What is dana's locker code?")
    assert answer["citations"] and answer["rounds"] and SECRET in answer["answer"] + answer["citations"][0]["quote"]
    for c in answer["citations"]:
        assert (await call(client, "turn", id=c["turn_id"]))["text"][c["start"] : c["end"]] == c["quote"]
    assert [s["turns"] for s in (await call(client, "sessions"))["sessions"]] == [2]
    assert (await call(client, "forget", turn=secret["turn_id"], confirm=True))["forgotten"] == 1
    assert [h["turn_id"] for h in (await call(client, "search", query="locker code"))["hits"]] != [secret["turn_id"]]
    assert SECRET.encode() not in raw_bytes(home)  # the server is still running: its files are already clean


async def test_the_readme_config_serves_every_tool_over_stdio_and_forgetting_clears_the_files(tmp_path: Path) -> None:
    home = tmp_path / "home"
    async with Client(launch(home)) as client:
        await exercise(client, home)
    assert SECRET.encode() not in raw_bytes(home)


async def test_bad_arguments_are_one_sentence_tool_errors_and_the_server_keeps_serving(tmp_path: Path) -> None:
    async with Client(launch(tmp_path / "home")) as client:
        assert "`text` is required" in await error(client, "remember", speaker="dana")
        assert "`k` is invalid" in await error(client, "search", query="x", k="ten")
        assert "`k` is invalid" in await error(client, "search", query="x", k=0)
        assert "no argument 'namespace'" in await error(client, "search", query="x", namespace="other")
        assert "confirm=true" in await error(client, "forget", turn="t1", confirm=False)
        assert "`confirm` is required" in await error(client, "forget", turn="t1")
        assert "exactly one" in await error(client, "forget", turn="t1", session="s1", confirm=True)
        assert "no turn 'nope'" in await error(client, "turn", id="nope")
        assert "not a date" in await error(client, "remember", text="hi", speaker="dana", time="yesterday-ish")
        assert "empty" in await error(client, "ask", question="   ")
        assert (await call(client, "remember", text="Still here.", speaker="dana"))["turn_id"]
        assert (await call(client, "search", query="still"))["hits"][0]["text"] == "Still here."


async def test_a_multi_namespace_server_needs_a_namespace_refuses_unknown_ones_and_keeps_them_apart(tmp_path: Path) -> None:
    async with Client(launch(tmp_path / "home", "--multi")) as client:
        assert "namespaces" in {t.name for t in (await client.list_tools()).tools}
        assert "`namespace` is required" in await error(client, "search", query="x")
        assert "no namespace 'ghost'" in await error(client, "search", namespace="ghost", query="x")
        assert "no namespace 'ghost'" in await error(client, "sessions", namespace="ghost")
        assert "not valid" in await error(client, "remember", namespace="no spaces", text="x", speaker="y")
        assert (await call(client, "namespaces"))["namespaces"] == []  # the reads created nothing
        alice = await call(client, "remember", namespace="alice", text=f"Alice's code is {SECRET}.", speaker="alice")
        await call(client, "remember", namespace="bob", text="Bob has no code.", speaker="bob")
        assert [h["text"] for h in (await call(client, "search", namespace="bob", query=SECRET))["hits"]] == ["Bob has no code."]
        assert "no turn" in await error(client, "turn", namespace="bob", id=alice["turn_id"])
        assert alice["uri"].endswith("?namespace=alice") and SECRET in (await client.read_resource(alice["uri"])).contents[0].text
        with pytest.raises(Exception, match="namespace"):
            await client.read_resource(alice["uri"].split("?")[0])
        assert (await call(client, "namespaces"))["namespaces"] == ["alice", "bob"]


async def test_concurrent_calls_from_one_client_all_succeed(tmp_path: Path) -> None:
    async with Client(launch(tmp_path / "home")) as client:
        results: list = []

        async def one(i: int) -> None:
            results.append(await call(client, "remember", text=f"Note number {i} about the garden.", speaker="dana", session="s1"))
            results.append(await call(client, "search", query=f"note {i} garden", k=3))

        async with anyio.create_task_group() as group:
            for i in range(12):
                group.start_soon(one, i)
        assert len(results) == 24
        assert (await call(client, "sessions"))["sessions"][0]["turns"] == 12


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@asynccontextmanager
async def http_server(home: Path):
    port = free_port()
    env = {**os.environ, "HYPERLOOM_HOME": str(home)}
    proc = subprocess.Popen([str(BIN / "hyperloom"), "mcp", "--http", f"127.0.0.1:{port}"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read().decode() if proc.poll() is not None else "no answer in 120 s"
            await anyio.sleep(0.2)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


async def test_streamable_http_on_a_loopback_port_serves_the_same_tools(tmp_path: Path) -> None:
    home = tmp_path / "home"
    async with http_server(home) as url, Client(url) as client:
        await exercise(client, home)
        assert "`query` is required" in await error(client, "search")
        assert (await call(client, "sessions"))["sessions"]


def test_http_refuses_an_address_other_machines_can_reach_unless_told(tmp_path: Path) -> None:
    assert_one_line_error(run("mcp", "--http", "0.0.0.0:8765", home=tmp_path / "home"), "--allow-remote")
    assert_one_line_error(run("mcp", "--http", "localhost:port", home=tmp_path / "home"), "HOST:PORT")
    assert http_address("8765") == ("127.0.0.1", 8765) and http_address("[::1]:9") == ("::1", 9)
    assert http_address("0.0.0.0:80", allow_remote=True) == ("0.0.0.0", 80)
    with pytest.raises(InputError):
        http_address("example.org:80")


def test_ask_answers_extractively_unless_a_model_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert answering_model(Config(home=tmp_path), None) == "none"
    assert answering_model(Config(home=tmp_path), "reader") == "reader"
    monkeypatch.setenv("HYPERLOOM_MODEL", "local/smollm2")
    assert answering_model(Config.load(home=tmp_path), None) == "local/smollm2"
