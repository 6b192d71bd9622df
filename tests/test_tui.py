"""Pilot tests of the terminal UI: each drives the real app over a real agent (model "none": fast, offline)."""

from __future__ import annotations

import json
import time

import pytest
from fakes import Reply, OpenAIHandler, openai_server
from tuikit import SESSION, agent, answered, open_agent, template, type_line, until  # agent, template: shared fixtures

from hyperloom.errors import ConfigError
from hyperloom.tui.app import make_app
from hyperloom.tui.commands import complete, parse
from hyperloom.tui.screens.dialogs import ConfirmDialog, TextDialog
from hyperloom.tui.screens.inspector import InspectorScreen
from hyperloom.tui.screens.session import SessionScreen, TurnView
from hyperloom.tui.screens.trace import TraceScreen
from hyperloom.tui.screens.welcome import WelcomeScreen
from hyperloom.tui.widgets.conversation import ChatMessage
from hyperloom.tui.widgets.evidence import CitationItem

pytestmark = pytest.mark.anyio
SIZE = (100, 30)


@pytest.fixture
def anyio_backend():
    return "asyncio"


def messages(app, role: str) -> list[ChatMessage]:
    return list(app.chat.conversation.query(f"ChatMessage.-{role}"))


async def ask(pilot, question: str) -> None:
    before = len(messages(pilot.app, "assistant"))
    await type_line(pilot, question)
    await until(pilot, answered(pilot.app, before + 1))


async def test_ask_streams_an_answer_with_verified_citations(agent):
    app = make_app(agent)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*"Where does Maya live now?", "enter")
        await until(pilot, answered(app))
        reply = messages(app, "assistant")[-1]
        assert reply._streamed == "Porto"  # the draft arrived as streamed chunks
        # The short answer first, then the sentence it came from, who said it and when
        assert reply.text.startswith("**Porto**") and "[1] Maya, 20 July 2024: “Guess what: I moved to Porto two weeks ago" in reply.text
        items = list(app.chat.evidence.query(CitationItem))
        assert [i.citation.turn_id for i in items] == ["s3:1"]
        for item in items:
            c = item.citation
            assert agent.turn(c.turn_id).text[c.start : c.end] == c.quote == item.turn_text[c.start : c.end]
        status = app.chat.status.status
        assert status.rounds == 1 and status.latency is not None and status.stats.turns == 34  # the exchange is remembered
        assert app.chat.prompt.text == ""


async def test_the_critics_word_stands_dim_beside_the_answer(tmp_path, embedder, template):
    """The reader answering and the shipped critic judging: 'sure' beside 'Porto'; a critic that reads nothing shows no word."""
    from hyperloom.agent.critic import default_critic

    reader = open_agent(tmp_path / "home", embedder, template=template, model="reader", critic=default_critic())
    try:
        app = make_app(reader)
        async with app.run_test(size=SIZE) as pilot:
            await ask(pilot, "Where does Maya live now?")
            reply = messages(app, "assistant")[-1]
            word = reply.query_one(".confidence")
            assert reply.text.startswith("**Porto**") and reply.confidence == app.chat.last_answer.confidence == "sure"
            assert word.display and str(word.render()) == "sure" and word.region.y == reply.body.region.y  # on the answer's line
    finally:
        reader.close()


async def test_no_word_when_no_critic_read_the_answer(agent):
    app = make_app(agent)  # model "none" and a fixed-k critic
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "Where does Maya live now?")
        reply = messages(app, "assistant")[-1]
        assert reply.confidence is None and not reply.query_one(".confidence").display


async def test_enter_on_a_citation_opens_its_turn_in_its_session(agent):
    app = make_app(agent)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "Where does Maya live now?")
        app.chat.evidence.query_one("ListView").focus()
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, SessionScreen))
        screen = app.screen
        assert screen.session_id == "s3" and screen.turn_id == "s3:1"
        target = [v for v in screen.query(TurnView) if v.has_class("-target")]
        assert [v.turn_id for v in target] == ["s3:1"] and target[0].has_focus
        assert len(screen.query(TurnView)) == len(agent.turns("s3"))
        await pilot.press("escape")
        assert app.screen is app.chat


async def test_forget_a_session_and_it_is_gone_from_the_inspector_and_from_answers(agent):
    app = make_app(agent)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "Where does Maya live now?")
        await type_line(pilot, "/forget session s3")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        # 32 demo turns + the question and its answer, less s3's 8 turns and the answer that quoted s3:1
        await until(pilot, lambda: "s3" not in {s.id for s in agent.sessions()} and app.chat.status.status.stats.turns == 25)
        item = app.chat.evidence.query_one(CitationItem)
        assert item.turn_text is None  # the old citation now says its turn is forgotten
        await pilot.press("f2")
        await until(pilot, lambda: isinstance(app.screen, InspectorScreen))
        sessions = [n.data.key for n in app.screen.query_one("#timeline-tree").root.children]
        assert "s3" not in sessions and {"s1", "s2", "s4"} <= set(sessions)
        assert all(t.session != "s3" for t in app.screen.turns.values())
        await pilot.press("escape")
        await ask(pilot, "Where does Maya live now?")
        answer = app.chat.last_answer
        assert "Porto" not in answer.text and all(not c.turn_id.startswith("s3:") for c in answer.citations)


async def test_cancelled_forget_changes_nothing(agent):
    app = make_app(agent)
    async with app.run_test(size=SIZE) as pilot:
        await type_line(pilot, "/forget turn s1:1")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("n")
        await pilot.pause()
        assert agent.turn("s1:1").text.startswith("Jonas!") and app.screen is app.chat


async def test_a_failing_model_answers_from_memory_and_keeps_the_question(tmp_path, embedder, template, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key-123456")
    with openai_server() as api_base:
        OpenAIHandler.enqueue(*[Reply(status=401)] * 4)
        agent = open_agent(tmp_path / "home", embedder, template=template, model="openai/gpt-4o-mini", api_base=api_base)
        app = make_app(agent, warm_up=False)
        try:
            async with app.run_test(size=SIZE) as pilot:
                await ask(pilot, "Where does Maya live now?")
                assert app.chat.prompt.text == "Where does Maya live now?"
                [note] = [n for n in app._notifications if n.severity == "warning"]
                assert "The model failed" in note.message and "sk-test" not in note.message
                assert "Porto" in app.chat.last_answer.text  # extractive, straight from memory, still cited
                assert app.chat.last_answer.citations[0].turn_id == "s3:1"
        finally:
            agent.close()


class BreakableCritic:
    """Sufficient until `broken`; then it raises, as the shipped critic does when its weights file is missing."""

    threshold = 0.5
    broken = False

    def probability(self, evidence) -> float:
        if self.broken:
            raise ConfigError("Cannot read the critic weights; re-train them.")
        return 1.0


async def test_an_agent_error_is_a_notification_and_the_conversation_stays_intact(tmp_path, embedder, template):
    critic = BreakableCritic()
    agent = open_agent(tmp_path / "home", embedder, template=template, critic=critic)
    app = make_app(agent)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await ask(pilot, "Who is Pixel?")
            before = [m.text for m in app.chat.conversation.query(ChatMessage)]
            critic.broken = True
            await type_line(pilot, "Where does Maya live now?")
            await until(pilot, lambda: any(n.severity == "error" for n in app._notifications))
            await until(pilot, lambda: not app.chat.answering)
            assert app.chat.prompt.text == "Where does Maya live now?"
            assert [m.text for m in app.chat.conversation.query(ChatMessage)] == before
            assert "critic weights" in [n for n in app._notifications if n.severity == "error"][0].message
    finally:
        agent.close()


async def test_slash_commands(agent, tmp_path):
    app = make_app(agent)
    async with app.run_test(size=SIZE) as pilot:
        await type_line(pilot, "/help")
        assert "/forget turn|session|entity X" in messages(app, "system")[-1].text

        await type_line(pilot, "/trace")
        assert any("Ask something first" in n.message for n in app._notifications)
        await ask(pilot, "What instrument is Jonas learning?")
        await type_line(pilot, "/trace")
        assert isinstance(app.screen, TraceScreen)
        await pilot.press("escape")

        await type_line(pilot, "/sessions")
        listing = messages(app, "system")[-1].text
        assert "`s1`" in listing and "Catching up after the conference" in listing and SESSION in listing

        out = tmp_path / "export.json"
        await type_line(pilot, f"/export {out}")
        await until(pilot, lambda: out.exists())
        assert len([t for s in json.loads(out.read_text())["sessions"] for t in s["turns"]]) == 34

        await type_line(pilot, "/model no-such-provider/xyz")
        await until(pilot, lambda: any(n.severity == "error" and "Unknown model" in n.message for n in app._notifications), timeout=30)
        assert agent.config.model == "none" and app.chat.prompt.text == "/model no-such-provider/xyz"
        app.chat.prompt.clear()

        await type_line(pilot, "/namespace other")
        await until(pilot, lambda: app.chat.status.status.namespace == "other" and app.chat.status.status.stats.turns == 0)
        assert agent.namespace == "other" and not messages(app, "user")

        await type_line(pilot, f"/ingest {out}")
        await until(pilot, lambda: app.chat.status.status.stats.turns == 34)

        await type_line(pilot, "/new")
        assert agent.session != SESSION and f"`{agent.session}`" in messages(app, "system")[-1].text

        await type_line(pilot, "/frobnicate")
        assert any("Unknown command /frobnicate" in n.message for n in app._notifications)
        assert app.chat.prompt.text == "/frobnicate"


async def test_completion_history_and_multiline_input(agent):
    app = make_app(agent)
    async with app.run_test(size=SIZE) as pilot:
        prompt = app.chat.prompt
        await pilot.press("/", "n", "a")
        assert prompt.suggestion == "mespace " and app.chat.query_one("#hint").display
        await pilot.press("tab")
        assert prompt.text == "/namespace "
        prompt.clear()
        await pilot.press("/", "f", "o", "tab", "s")
        assert prompt.text == "/forget s" and prompt.suggestion == "ession "
        prompt.clear()
        await ask(pilot, "Who is Pixel?")
        await ask(pilot, "Where does Maya live now?")
        await pilot.press("up")
        assert prompt.text == "Where does Maya live now?"
        await pilot.press("up")
        assert prompt.text == "Who is Pixel?"
        await pilot.press("down", "down")
        assert prompt.text == ""
        await pilot.press("a", "ctrl+j", "b")
        assert prompt.text == "a\nb" and len(messages(app, "user")) == 2


class SlowCritic:
    """Answers after a pause, so that a second question arrives while the first is still being answered."""

    threshold = 0.5

    def probability(self, evidence) -> float:
        time.sleep(0.4)
        return 1.0


async def test_a_new_question_cancels_a_stale_one(tmp_path, embedder, template):
    agent = open_agent(tmp_path / "home", embedder, template=template, critic=SlowCritic())
    app = make_app(agent)
    async with app.run_test(size=SIZE) as pilot:
        await type_line(pilot, "Who is Pixel?")
        await type_line(pilot, "Where does Maya live now?")
        await until(pilot, lambda: app.chat.last_answer is not None and not app.chat.answering)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "Porto" in app.chat.last_answer.text
        assert any("cancelled" in m.text for m in messages(app, "assistant"))
    agent.close()


async def test_first_run_welcome_offers_the_demo(tmp_path, embedder):
    agent = open_agent(tmp_path / "home", embedder, namespace="default")
    app = make_app(agent)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: isinstance(app.screen, WelcomeScreen))
            await pilot.press("d")
            await until(pilot, lambda: app.chat.status.status.stats is not None and app.chat.status.status.stats.turns == 32)
            assert agent.namespace == "demo" and app.chat.status.status.namespace == "demo"
            await ask(pilot, "What instrument is Jonas learning?")
            assert "cello" in app.chat.last_answer.text.lower()
    finally:
        agent.close()


async def test_demo_flag_loads_the_sample_once(tmp_path, embedder):
    agent = open_agent(tmp_path / "home", embedder)
    for _ in range(2):
        app = make_app(agent, demo=True)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.chat.status.status.stats is not None and app.chat.status.status.stats.turns > 0 and not app.background)
            assert not isinstance(app.screen, WelcomeScreen)
    assert agent.stats().turns == 32
    agent.close()


async def test_inspector_hierarchy_hypergraph_search_and_correct(agent):
    app = make_app(agent)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f2")
        await until(pilot, lambda: isinstance(app.screen, InspectorScreen))
        screen = app.screen
        # timeline filter
        screen.query_one("#timeline-filter").value = "cello"
        await pilot.pause()
        shown = [leaf.data.key for n in screen.query_one("#timeline-tree").root.children for leaf in n.children]
        assert shown and all("cello" in agent.turn(t).text.lower() for t in shown)
        # hypergraph: an entity's neighbourhood
        await pilot.press("3")
        tree = screen.query_one("#entity-tree")
        tree.focus()
        maya = next(n for n in tree.root.children if n.data.key == "Maya")
        tree.move_cursor(maya)
        await pilot.pause()
        assert "### Maya" in screen.query_one("#neighbourhood Markdown").source
        maya.expand()
        await pilot.pause()
        assert maya.children and all("Maya" in str(p.label) for p in maya.children)
        # live search with scores
        await pilot.press("4")
        screen.query_one("#search-input").value = "fig tree"
        await until(pilot, lambda: screen.query_one("#hits").row_count > 0)
        first = screen.query_one("#hits").get_row_at(0)
        assert float(first[0]) > 0 and "fig" in agent.turn(first[1]).text.lower()
        # hierarchy: scene → fact, then correct the fact through the Agent API
        await pilot.press("2")
        tree = screen.query_one("#hierarchy-tree")
        tree.focus()
        scenes = next(n for n in tree.root.children if n.data.kind == "scenes")
        scene = scenes.children[0]
        scenes.expand()
        scene.expand()
        await pilot.pause()
        fact_node = next(n for n in scene.children if n.data.kind == "fact" and "Lisbon" in n.data.key.text)
        await pilot.pause()
        tree.move_cursor(fact_node)
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, TextDialog))
        app.screen.query_one("Input").value = "I'm finally back from the robotics conference in Madrid."
        await pilot.press("enter")
        await until(pilot, lambda: "Madrid" in agent.turn("s1:1").text)
        assert "Lisbon" not in agent.turn("s1:1").text[:70]
        await pilot.press("escape")
        assert app.screen is app.chat


async def test_quitting_mid_answer_loses_no_remembered_turn(agent):
    app = make_app(agent)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "Who is Pixel?")
        await type_line(pilot, "Where does Maya live now?")
        await pilot.press("ctrl+q")
    assert app.inflight.wait(timeout=30)
    turns = agent.stats().turns
    assert turns in (34, 36) and agent.turn("s1:1")  # the earlier exchange stays; the interrupted one is all or nothing


def test_commands_parse_and_complete():
    assert parse("/forget session s 1") .rest == "session s 1" and parse("/Help").name == "help"
    assert complete("/he") == "/help" and complete("/model l") == "/model local/smollm2 "
    assert complete("/x") == "/x" and complete("hello") == "hello"


def test_the_chat_exits_when_its_terminal_goes(tmp_path) -> None:
    """A real process on a real pty whose other end then closes, as a window closed under `make run` does: no
    SIGHUP reaches the app there (it has no controlling terminal), and it used to spin a core reading a dead terminal."""
    import os
    import pty
    import select
    import subprocess
    import sys
    import time
    from pathlib import Path

    master, slave = pty.openpty()
    env = {**os.environ, "HYPERLOOM_HOME": str(tmp_path / "home"), "TERM": "xterm-256color"}
    chat = subprocess.Popen([str(Path(sys.executable).parent / "hyperloom"), "chat"], stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True)
    os.close(slave)
    drawn, deadline = b"", time.monotonic() + 120
    while b"hyperloom" not in drawn and time.monotonic() < deadline and chat.poll() is None:
        if select.select([master], [], [], 1)[0]:
            drawn += os.read(master, 65536)
    os.close(master)
    try:
        assert b"hyperloom" in drawn and chat.wait(timeout=60) == 0
    finally:
        chat.kill()
