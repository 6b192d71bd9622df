"""SVG snapshots of the terminal UI (pytest-textual-snapshot); update with `pytest --snapshot-update` after a deliberate change."""

from __future__ import annotations

import pytest
from tuikit import agent, answered, open_agent, template, type_line, until  # agent, template: shared fixtures

from hyperloom.agent.critic import default_critic
from hyperloom.tui.app import make_app
from hyperloom.tui.screens.dialogs import ConfirmDialog
from hyperloom.tui.screens.session import SessionScreen
from hyperloom.tui.screens.welcome import WelcomeScreen

SMALL = (80, 24)


@pytest.fixture
def reader(tmp_path, embedder, template):
    """The demo agent as a user gets it: the reader answering, the shipped reading critic judging (the confidence word)."""
    agent = open_agent(tmp_path / "home", embedder, template=template, model="reader", critic=default_critic())
    yield agent
    agent.close()


async def ask_where_maya_lives(pilot) -> None:
    pilot.app.chat.prompt.cursor_blink = False  # a blinking cursor would make the picture depend on timing
    await type_line(pilot, "Where does Maya live now?")
    await until(pilot, answered(pilot.app))
    await until(pilot, lambda: pilot.app.chat.status.status.stats.turns == 34)  # the counts refresh in a worker
    await pilot.app.workers.wait_for_complete()
    pilot.app.chat.status.change(latency=0.42)  # measured latency varies run to run; pin it for the picture
    await pilot.pause()


def test_welcome_on_an_empty_memory(snap_compare, tmp_path, embedder):
    """A first run: a centred welcome saying what hyperloom is, with 'Load the demo (d)' focused and 'Start empty (e)'."""
    agent = open_agent(tmp_path / "home", embedder, namespace="default")

    async def run_before(pilot) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, WelcomeScreen))

    try:
        assert snap_compare(make_app(agent), terminal_size=SMALL, run_before=run_before)
    finally:
        agent.close()


def test_answer_with_evidence_at_80x24(snap_compare, reader):
    """At 80×24: the question, the answer 'Porto' with the dim word 'sure' beside it, citing s3:1, the evidence panel with Maya's quote highlighted, the status line (reader, 32→34 turns, 0.4 s, 1 round)."""
    assert snap_compare(make_app(reader), terminal_size=SMALL, run_before=ask_where_maya_lives)


def test_answer_with_evidence_in_the_light_theme(snap_compare, reader):
    """The same answer in the light theme: every colour comes from the theme, nothing stays dark."""

    async def run_before(pilot) -> None:
        pilot.app.theme = "textual-light"
        await ask_where_maya_lives(pilot)

    assert snap_compare(make_app(reader), terminal_size=(100, 30), run_before=run_before)


def test_citation_opens_its_turn_in_its_session(snap_compare, agent):
    """Session s3 'The move': turn s3:1 is marked with an accent bar and its quoted words highlighted."""

    async def run_before(pilot) -> None:
        await ask_where_maya_lives(pilot)
        pilot.app.chat.evidence.query_one("ListView").focus()
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, SessionScreen))
        await pilot.pause(0.1)

    assert snap_compare(make_app(agent), terminal_size=SMALL, run_before=run_before)


def test_forget_asks_for_confirmation(snap_compare, agent):
    """`/forget session s1` opens a red-bordered dialog asking to confirm, with 'Cancel (n)' focused."""

    async def run_before(pilot) -> None:
        pilot.app.chat.prompt.cursor_blink = False
        await type_line(pilot, "/forget session s1")
        await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmDialog))

    assert snap_compare(make_app(agent), terminal_size=SMALL, run_before=run_before)
