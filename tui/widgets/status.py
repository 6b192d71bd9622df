"""The status line: model, namespace, memory size, and the last answer's latency and critic rounds."""

from __future__ import annotations

from dataclasses import dataclass, replace

from textual.content import Content
from textual.reactive import reactive
from textual.widgets import Static

from hyperloom import MemoryStats

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


@dataclass(frozen=True)
class Status:
    model: str = ""
    namespace: str = ""
    stats: MemoryStats | None = None
    latency: float | None = None
    rounds: int | None = None
    busy: str = ""  # what is happening in the background ("loading model", "answering"), shown with a spinner


class StatusLine(Static):
    DEFAULT_CSS = """
    StatusLine { height: 1; padding: 0 1; background: $panel; color: $text-muted; }
    """

    status: reactive[Status] = reactive(Status, always_update=True)
    frame: reactive[int] = reactive(0)

    def on_mount(self) -> None:
        self.set_interval(0.1, self._tick)

    def _tick(self) -> None:
        if self.status.busy:
            self.frame += 1

    def change(self, **fields: object) -> None:
        self.status = replace(self.status, **fields)

    def render(self) -> Content:
        s = self.status
        # Fits 80 columns: model · namespace · memory size · last answer.
        parts: list[tuple[str, str] | str] = [(s.model, "bold $text"), " · ns ", (s.namespace, "bold $text")]
        if s.stats is not None:
            st = s.stats
            parts.append(f" · {st.turns} turns {st.facts} facts {st.scenes} scenes {st.entities} entities")
        if s.latency is not None:
            parts.append(f" · {s.latency:.1f} s, {s.rounds} round{'s' if s.rounds != 1 else ''}")
        if s.busy:
            parts.append(("  " + SPINNER[self.frame % len(SPINNER)] + " " + s.busy, "bold $warning"))
        return Content.assemble(*parts)
