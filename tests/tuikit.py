"""Helpers shared by the terminal UI tests: an agent on the demo conversation, and waiting for the UI."""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path

import pytest

from hyperloom import Agent, Config, MemoryStore
from hyperloom.agent.critic import FixedCritic
from hyperloom.samples import sample_path

SESSION = "chat-test"


def open_agent(home: Path, embedder, *, namespace: str = "demo", template: Path | None = None, critic=None, **settings) -> Agent:
    """An agent with model "none" unless told otherwise, on a copy of `template` (a data directory) if given.

    The session-wide embedder and a copied data directory keep each test well under a second to set up.
    """
    if template is not None:
        shutil.copytree(template, home)
    config = Config(home=home, namespace=namespace, **{"model": "none", **settings})
    return Agent(config, store=MemoryStore(config, embedder=embedder), session=SESSION, critic=critic or FixedCritic(1.0))


def demo_home(home: Path, embedder) -> Path:
    """A data directory holding the demo conversation in namespace `demo`."""
    with open_agent(home, embedder) as agent:
        agent.ingest(sample_path())
    return home


async def until(pilot, condition, timeout: float = 15.0) -> None:
    """Let the app run until `condition()` holds (workers are threads: poll, do not sleep blindly)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {condition.__doc__ or condition}")
        await pilot.pause(0.02)
    await pilot.pause()


async def type_line(pilot, text: str) -> None:
    pilot.app.chat.prompt.insert(text)
    await pilot.pause()
    await pilot.press("enter")


def answered(app, count: int = 1):
    def check() -> bool:
        """the app has shown an answer"""
        return not app.chat.answering and app.chat.last_answer is not None and len(app.chat.conversation.query("ChatMessage.-assistant")) >= count

    return check


async def idle(pilot) -> None:
    await asyncio.sleep(0)
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


# Fixtures both UI test modules import: one demo data directory per module, copied for each test.
@pytest.fixture(scope="module")
def template(tmp_path_factory, embedder):
    return demo_home(tmp_path_factory.mktemp("demo") / "home", embedder)


@pytest.fixture
def agent(tmp_path, embedder, template):
    agent = open_agent(tmp_path / "home", embedder, template=template)
    yield agent
    agent.close()
