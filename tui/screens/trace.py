"""Why the last answer said what it said: critic rounds, sub-queries, hits with scores, timings per stage."""

from __future__ import annotations

from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Label, Markdown

from hyperloom import Agent, Answer


def _snippet(agent: Agent, turn_id: str, width: int = 60) -> str:
    try:
        turn = agent.turn(turn_id)
    except Exception:  # noqa: BLE001 — a forgotten turn is still part of the story
        return "_(forgotten)_"
    text = turn.text.replace("|", "\\|").replace("\n", " ")
    return f"{turn.speaker}: {text[:width]}{'…' if len(text) > width else ''}"


def trace_markdown(agent: Agent, answer: Answer) -> str:
    t = answer.trace
    lines = [f"**Question as searched:** {t.question or '—'}", "", f"**Answer** ({answer.model}, {answer.latency:.2f} s, {answer.rounds} round(s), {len(answer.citations)} citation(s)): {answer.text}", ""]
    for n, r in enumerate(t.rounds, 1):
        lines += [f"## Round {n} · {r.kind} · critic P(sufficient) = {r.probability:.2f}", ""]
        lines += [f"- sub-query: *{q}*" for q in r.queries] + [""]
        if r.hits:
            lines += ["| score | turn | text |", "|---:|---|---|"]
            lines += [f"| {score:.3f} | `{tid}` | {_snippet(agent, tid)} |" for tid, score in r.hits]
        else:
            lines.append("_No new hits this round._")
        lines.append("")
    if t.timings:
        total = sum(t.timings.values())
        lines += ["## Timings per stage", "", "| stage | ms |", "|---|---:|"]
        lines += [f"| {stage} | {ms:.1f} |" for stage, ms in t.timings.items()] + [f"| **total** | **{total:.1f}** |", ""]
    u = answer.usage
    lines += [f"**LLM calls:** {u.calls} · tokens in/out {u.prompt_tokens}/{u.completion_tokens} · cost ${u.cost:.4f}"]
    if t.notices:
        lines += ["", "## Notices", ""] + [f"- {n}" for n in t.notices]
    return "\n".join(lines)


class TraceScreen(Screen):
    BINDINGS = [Binding("escape,q", "app.pop_screen", "Back")]

    def __init__(self, agent: Agent, answer: Answer) -> None:
        super().__init__()
        self.agent, self.answer = agent, answer

    def compose(self):
        yield Label("Trace of the last answer", classes="screen-title")
        with VerticalScroll():
            yield Markdown(trace_markdown(self.agent, self.answer))
        yield Footer()
