"""One session's turns, in order, scrolled to the turn a citation or a search hit points at."""

from __future__ import annotations

from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Label, Static

from hyperloom import Agent


class TurnView(Static, can_focus=True):
    DEFAULT_CSS = """
    TurnView { height: auto; padding: 0 1; margin-bottom: 1; border-left: blank; }
    TurnView.-target { border-left: thick $accent; background: $boost; }
    TurnView:focus { background: $boost; }
    """


def turn_content(turn, span: tuple[int, int] | None) -> Content:
    head = Content.assemble((turn.speaker, "bold $secondary"), (f"  {(turn.created_at or '')[:16].replace('T', ' ')}  {turn.id}", "$text-muted"), "\n")
    body = Content(turn.text)
    if span is not None:
        body = body.stylize("bold $text-accent on $accent-muted", *span)
    return head + body


class SessionScreen(Screen):
    """Esc goes back; the target turn is marked and its quote highlighted."""

    BINDINGS = [Binding("escape,q", "app.pop_screen", "Back")]

    def __init__(self, agent: Agent, session: str, turn_id: str | None = None, span: tuple[int, int] | None = None) -> None:
        super().__init__()
        self.agent, self.session_id, self.turn_id, self.span = agent, session, turn_id, span

    def compose(self):
        titles = {s.id: s for s in self.agent.sessions()}
        s = titles.get(self.session_id)
        title = f"Session {self.session_id}" + (f" — {s.title}" if s and s.title else "") + (f"  ({s.started_at[:10]})" if s and s.started_at else "")
        yield Label(title, classes="screen-title")
        with VerticalScroll(id="turns"):
            for turn in self.agent.turns(self.session_id):
                target = turn.id == self.turn_id
                view = TurnView(turn_content(turn, self.span if target else None), classes="-target" if target else "")
                view.turn_id = turn.id
                yield view
        yield Footer()

    def on_mount(self) -> None:
        targets = [v for v in self.query(TurnView) if v.has_class("-target")]
        if targets:
            targets[0].focus()
            self.call_after_refresh(self.query_one("#turns").scroll_to_center, targets[0], animate=False)
