"""The question box: Enter sends, Ctrl+J adds a line, Up/Down walk the history, Tab completes a slash command."""

from __future__ import annotations

from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.widgets import TextArea

from hyperloom.tui.commands import complete


class PromptInput(TextArea):
    DEFAULT_CSS = """
    PromptInput {
        height: auto;
        min-height: 3;
        max-height: 8;
        border: round $primary 60%;
        padding: 0 1;
    }
    PromptInput:focus { border: round $primary; }
    """
    BINDINGS = [Binding("ctrl+j", "newline", "New line", show=False), Binding("shift+enter", "newline", "New line", show=False)]

    class Submitted(Message):
        """The user pressed Enter on a non-empty prompt."""

        def __init__(self, prompt: "PromptInput", text: str) -> None:
            super().__init__()
            self.prompt = prompt
            self.text = text

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, soft_wrap=True, show_line_numbers=False, tab_behavior="focus", placeholder="Ask about what was said, or type / for commands")
        self.asked: list[str] = []
        self._cursor: int | None = None  # position in history while browsing; None when editing a new line
        self._draft = ""

    def update_suggestion(self) -> None:
        text = self.text
        self.suggestion = "" if "\n" in text else complete(text)[len(text):]

    def action_newline(self) -> None:
        self.insert("\n")

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            self.submit()
            return
        if event.key == "tab" and self.suggestion:
            event.stop()
            event.prevent_default()
            self.insert(self.suggestion)
            return
        await super()._on_key(event)

    def submit(self) -> None:
        text = self.text.strip()
        if not text:
            return
        if not self.asked or self.asked[-1] != text:
            self.asked.append(text)
        self._cursor = None
        self.clear()
        self.post_message(self.Submitted(self, text))

    def restore(self, text: str) -> None:
        """Put a question back (after a failure) unless the user has typed something new meanwhile."""
        if not self.text.strip():
            self.load_text(text)
            self.move_cursor(self.document.end)

    def action_cursor_up(self, select: bool = False) -> None:
        if select or self.cursor_location[0] > 0 or not self.asked:
            return super().action_cursor_up(select)
        if self._cursor is None:
            self._draft, self._cursor = self.text, len(self.asked)
        self._cursor = max(0, self._cursor - 1)
        self._show(self.asked[self._cursor])

    def action_cursor_down(self, select: bool = False) -> None:
        if select or self._cursor is None or self.cursor_location[0] < self.document.line_count - 1:
            return super().action_cursor_down(select)
        self._cursor += 1
        if self._cursor >= len(self.asked):
            self._cursor = None
            self._show(self._draft)
        else:
            self._show(self.asked[self._cursor])

    def _show(self, text: str) -> None:
        self.load_text(text)
        self.move_cursor(self.document.end)
