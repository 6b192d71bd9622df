"""First run on an empty memory: what hyperloom is, and the demo conversation one key away."""

from __future__ import annotations

from textual import on
from textual.binding import Binding
from textual.containers import Center, Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Markdown

WELCOME = """\
# Welcome to hyperloom

hyperloom is an agent that **remembers conversations verbatim** and answers
with **quotes you can check**: every answer is the conversation's own words,
cited, with a word for how sure it is; when memory holds no answer, it says
so. No LLM is needed, and nothing leaves this machine.

Your memory is empty. Load the **demo** — a short conversation between
Maya and Jonas — and ask, for example, *Where does Maya live now?*
Or start empty, and `/ingest` a conversation file.
"""


class WelcomeScreen(ModalScreen[bool]):
    """Dismisses with True when the user wants the demo."""

    BINDINGS = [Binding("d", "choose(True)", "Load the demo"), Binding("escape,e", "choose(False)", "Start empty")]

    def compose(self):
        with Vertical(classes="dialog welcome"):
            yield Markdown(WELCOME)
            with Center():
                with Horizontal(classes="buttons"):
                    yield Button("Load the demo (d)", variant="primary", id="demo")
                    yield Button("Start empty (e)", id="empty")

    def on_mount(self) -> None:
        self.query_one("#demo", Button).focus()

    def action_choose(self, demo: bool) -> None:
        self.dismiss(demo)

    @on(Button.Pressed)
    def pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "demo")
