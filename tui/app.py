"""HyperloomApp: the terminal UI over one `Agent`. Build it with `make_app`; `run` is what `hyperloom chat` calls."""

from __future__ import annotations

import os
import select
import sys
import threading
from pathlib import Path

from textual import work
from textual.app import App
from textual.binding import Binding

from hyperloom import Agent, HyperloomError
from hyperloom.tui.screens.chat import ChatScreen
from hyperloom.tui.screens.welcome import WelcomeScreen
from hyperloom.tui.widgets.status import StatusLine

DEMO_NAMESPACE = "demo"


class Inflight:
    """Counts worker threads using the agent, so the agent is closed only after they finish."""

    def __init__(self) -> None:
        self._count = 0
        self._idle = threading.Condition()

    def __enter__(self) -> None:
        with self._idle:
            self._count += 1

    def __exit__(self, *exc: object) -> None:
        with self._idle:
            self._count -= 1
            self._idle.notify_all()

    def wait(self, timeout: float) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._count == 0, timeout)


class HyperloomApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "hyperloom"
    BINDINGS = [Binding("f9", "toggle_dark", "Light/dark"), Binding("ctrl+q", "quit", "Quit", priority=True)]

    def __init__(self, agent: Agent, *, demo: bool = False, warm_up: bool = True) -> None:
        super().__init__()
        self.agent = agent
        self.demo = demo
        self.warm = warm_up
        self.inflight = Inflight()
        self.background = ""  # a background job worth showing in the status line
        self.warming = False

    def on_mount(self) -> None:
        if not self.is_headless:  # on a real terminal: go when it goes (see terminal_gone)
            self.set_interval(2.0, self.exit_if_terminal_gone)
        self.chat = ChatScreen(self.agent)
        self.push_screen(self.chat)
        if self.demo:
            self.load_demo()  # warms the model up once the demo is in: both at once would starve the UI thread
        elif not self.agent.sessions():
            self.push_screen(WelcomeScreen(), self.welcome_done)
            self.start_warm_up()
        else:
            self.refresh_stats()
            self.start_warm_up()

    def exit_if_terminal_gone(self) -> None:
        """A closed window does not always hang us up: under `make run` no SIGHUP reached the app, which then
        spun a core reading the dead terminal. So memory is closed as at a quit, and the process leaves without
        Textual's teardown: that restores a terminal no longer there, and with Textual's writer thread gone on it
        its writes waited forever (2 of 4 runs under test)."""
        if terminal_gone():
            self.inflight.wait(timeout=60)
            self.agent.close()
            os._exit(0)

    def start_warm_up(self) -> None:
        if self.warm and not self.warming and self.agent.config.model != "none":
            self.warming = True
            self.update_busy()
            self.warm_up_model()

    def welcome_done(self, demo: bool | None) -> None:
        if demo:
            self.load_demo()
        else:
            self.refresh_stats()

    def action_toggle_dark(self) -> None:
        self.theme = "textual-light" if self.current_theme.dark else "textual-dark"

    def update_busy(self, task: str | None = None) -> None:
        if task is not None:
            self.background = task
        chat = getattr(self, "chat", None)
        if chat is None or not chat.query(StatusLine):
            return  # not composed yet: the chat screen asks again on mount
        busy = "answering" if chat.answering else self.background or ("loading model" if self.warming else "")
        if busy and chat.answering and self.warming:
            busy = "loading model, then answering"
        chat.status.change(busy=busy + "…" if busy else "")

    @work(thread=True, exclusive=True, group="stats")
    def refresh_stats(self) -> None:
        with self.inflight:
            stats = self.agent.stats()
        self.call_from_thread(self._show_stats, stats)

    def _show_stats(self, stats) -> None:
        self.chat.status.change(stats=stats, namespace=self.agent.namespace, model=self.agent.config.model)

    @work(thread=True, group="memory")
    def load_demo(self) -> None:
        """Switch to the demo namespace; remember the sample conversation there unless it already is."""
        from hyperloom.samples import sample_path

        self.call_from_thread(self.update_busy, "loading the demo conversation")
        with self.inflight:
            try:
                if self.agent.namespace != DEMO_NAMESPACE and not self.demo:
                    self.agent.use_namespace(DEMO_NAMESPACE)
                if not self.agent.sessions():
                    self.agent.ingest(sample_path())
            except HyperloomError as exc:
                self.call_from_thread(self.notify, str(exc), title="Demo not loaded", severity="error")
            finally:
                self.call_from_thread(self.update_busy, "")
        self.call_from_thread(self.chat.start_over, DEMO_NOTE)
        self.call_from_thread(self.start_warm_up)

    @work(thread=True, group="warm-up")
    def warm_up_model(self) -> None:
        """Load the answering machinery (langgraph, litellm, the local model: seconds) while the user types the first question."""
        try:
            self.agent.warm_up()
        except HyperloomError as exc:  # a broken model file: say so now; asking will say it again
            self.call_from_thread(self.notify, str(exc), title="Model", severity="error")
        finally:
            self.warming = False
            self.call_from_thread(self.update_busy)


DEMO_NOTE = """\
Memory holds the **demo**: four sessions between Maya and Jonas (March to October 2024). Try:

- *Where does Maya live now?*
- *What instrument is Jonas learning, and who teaches him?*
- *Who is Pixel?*

**/help** lists the commands; **F2** opens the memory inspector."""


def terminal_gone() -> bool:
    """Whether the terminal we run on has hung up (its window closed, its pty's other end gone)."""
    try:
        fd = sys.__stdin__.fileno()
        poll = select.poll()
        poll.register(fd, select.POLLIN)
        hung = any(events & (select.POLLHUP | select.POLLERR | select.POLLNVAL) for _, events in poll.poll(0))
        return hung or not os.isatty(fd)
    except (AttributeError, ValueError, OSError):
        return True


def make_app(agent: Agent, *, demo: bool = False, warm_up: bool = True) -> HyperloomApp:
    """The one way to build the app (tests build it here too, with an agent they opened)."""
    return HyperloomApp(agent, demo=demo, warm_up=warm_up)


def run(home: Path | None = None, namespace: str | None = None, *, model: str | None = None, demo: bool = False, config_file: Path | None = None) -> None:
    """`hyperloom chat`: open the agent, run the app, close the agent once every worker has let go of it."""
    from hyperloom.console import settings

    config = settings(home, namespace or (DEMO_NAMESPACE if demo else None), config_file, **({"model": model} if model else {}))
    agent = Agent.open(config=config)
    app = make_app(agent, demo=demo)
    try:
        app.run()
    finally:
        app.inflight.wait(timeout=60)
        agent.close()
