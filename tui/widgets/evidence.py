"""The evidence panel: each citation of the last answer, its quote highlighted inside the turn it came from."""

from __future__ import annotations

from textual import on
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import Label, ListItem, ListView, Static

from hyperloom import Citation


def quoted_turn(text: str, start: int, end: int, *, width: int = 240) -> Content:
    """The turn with the quote highlighted; a long turn is trimmed around the quote."""
    lo, hi = max(0, start - width // 2), min(len(text), end + width // 2)
    body = Content(text[lo:hi]).stylize("bold $text-accent on $accent-muted", start - lo, end - lo)
    return Content.assemble("…" if lo else "", body, "…" if hi < len(text) else "")


def citation_header(index: int, c: Citation) -> Content:
    date = (c.time or "")[:10]
    return Content.assemble((f"[{index}] ", "bold $accent"), (c.speaker or "?", "bold"), (f" · {date} · {c.turn_id}", "$text-muted"))


class CitationItem(ListItem):
    DEFAULT_CSS = """
    CitationItem { height: auto; padding: 0 1 1 1; }
    CitationItem Static { height: auto; }
    """

    def __init__(self, index: int, citation: Citation, turn_text: str | None) -> None:
        super().__init__()
        self.citation = citation
        self.index = index
        self.turn_text = turn_text

    def compose(self):
        c = self.citation
        yield Static(citation_header(self.index, c))
        if self.turn_text is None:
            yield Static(Content.assemble(("(forgotten) ", "italic $text-muted"), c.quote))
        else:
            yield Static(quoted_turn(self.turn_text, c.start, c.end))


class EvidencePanel(Vertical):
    """Citations of the last answer; Enter on one opens its turn in its session."""

    DEFAULT_CSS = """
    EvidencePanel { width: 36%; min-width: 28; max-width: 60; border-left: vkey $panel-lighten-1; }
    EvidencePanel > Label { width: 1fr; padding: 0 1; text-style: bold; color: $text-muted; }
    EvidencePanel ListView { height: 1fr; background: transparent; }
    EvidencePanel .empty { padding: 0 1; color: $text-muted; }
    """

    class CitationChosen(Message):
        def __init__(self, citation: Citation) -> None:
            super().__init__()
            self.citation = citation

    def compose(self):
        yield Label("Evidence")
        yield Static("Citations of the last answer appear here.", classes="empty")
        yield ListView()

    def show(self, items: list[tuple[Citation, str | None]]) -> None:
        """`items`: each citation with the full text of its turn (None when that turn is gone)."""
        view = self.query_one(ListView)
        view.clear()
        view.extend(CitationItem(i, c, text) for i, (c, text) in enumerate(items, 1))
        self.query_one(".empty", Static).display = not items
        if not items:
            self.query_one(".empty", Static).update("The last answer cites nothing from memory.")
        else:
            view.index = 0

    def reset(self) -> None:
        self.query_one(ListView).clear()
        empty = self.query_one(".empty", Static)
        empty.display = True
        empty.update("Citations of the last answer appear here.")

    @on(ListView.Selected)
    def choose(self, event: ListView.Selected) -> None:
        event.stop()
        if isinstance(event.item, CitationItem):
            self.post_message(self.CitationChosen(event.item.citation))
