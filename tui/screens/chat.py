"""The chat screen: conversation, evidence panel, prompt with slash commands, status line."""

from __future__ import annotations

from pathlib import Path

from textual import on, work
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Static

from hyperloom import Agent, Answer, Citation, HyperloomError
from hyperloom.tui.commands import BY_NAME, Command, completions, help_markdown, parse
from hyperloom.tui.screens.dialogs import ConfirmDialog
from hyperloom.tui.screens.session import SessionScreen
from hyperloom.tui.screens.trace import TraceScreen
from hyperloom.tui.widgets.conversation import Conversation, turn_text
from hyperloom.tui.widgets.evidence import EvidencePanel
from hyperloom.tui.widgets.prompt import PromptInput
from hyperloom.tui.widgets.status import StatusLine



class ChatScreen(Screen):
    BINDINGS = [
        Binding("f2", "inspect", "Inspector"),
        Binding("f3", "trace", "Trace"),
        Binding("f1", "help", "Help"),
        Binding("escape", "focus_prompt", "Prompt", show=False),
    ]

    def __init__(self, agent: Agent) -> None:
        super().__init__()
        self.agent = agent
        self.last_answer: Answer | None = None
        self.answering = False

    def compose(self):
        with Horizontal(id="main"):
            yield Conversation(self.agent, id="conversation")
            yield EvidencePanel(id="evidence")
        with Vertical(id="bottom"):
            yield Static("", id="hint")
            yield PromptInput(id="prompt")
            yield StatusLine(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#hint").display = False
        self.status.change(model=self.agent.config.model, namespace=self.agent.namespace)
        self.app.update_busy()
        self.prompt.focus()

    @property
    def prompt(self) -> PromptInput:
        return self.query_one(PromptInput)

    @property
    def conversation(self) -> Conversation:
        return self.query_one(Conversation)

    @property
    def status(self) -> StatusLine:
        return self.query_one(StatusLine)

    @property
    def evidence(self) -> EvidencePanel:
        return self.query_one(EvidencePanel)

    # -- typing ---------------------------------------------------------------------------------

    @on(PromptInput.Changed)
    def show_completions(self, event: PromptInput.Changed) -> None:
        hint = self.query_one("#hint", Static)
        found = completions(event.text_area.text) if "\n" not in event.text_area.text else []
        hint.display = bool(found)
        if found:
            hint.update("   ".join(f"[b]{c.usage}[/b] [dim]{c.help}[/dim]" if isinstance(c, Command) else f"[b]{c}[/b]" for c in found[:4]))

    @on(PromptInput.Submitted)
    def handle_submission(self, event: PromptInput.Submitted) -> None:
        if event.text.startswith("/"):
            self.run_command(event.text)
        else:
            self.ask(event.text)

    def ask(self, question: str) -> None:
        self.answering = True
        self.app.update_busy()
        self.conversation.ask(question)

    # -- answers --------------------------------------------------------------------------------

    @on(Conversation.AnswerComplete)
    def show_answer(self, event: Conversation.AnswerComplete) -> None:
        answer = self.last_answer = event.answer
        self.answering = False
        self.status.change(latency=answer.latency, rounds=answer.rounds)
        self.show_evidence(answer.citations)
        self.app.update_busy()
        self.app.refresh_stats()
        if answer.fallback:
            self.notify(f"{answer.notice} Your question is back in the input: press Enter to ask again.", title="Model error", severity="warning", timeout=10)
            self.prompt.restore(event.question)

    @on(Conversation.AnswerFailed)
    def restore_state_on_agent_failure(self, event: Conversation.AnswerFailed) -> None:
        self.answering = False
        self.app.update_busy()
        self.notify(event.error, title="Could not answer", severity="error", timeout=10)
        self.prompt.restore(event.question)

    def show_evidence(self, citations: list[Citation]) -> None:
        self.evidence.show([(c, self._turn_text(c.turn_id)) for c in citations])

    def _turn_text(self, turn_id: str) -> str | None:
        return turn_text(self.agent, turn_id)

    @on(EvidencePanel.CitationChosen)
    def open_citation(self, event: EvidencePanel.CitationChosen) -> None:
        c = event.citation
        if self._turn_text(c.turn_id) is None:
            self.notify(f"Turn {c.turn_id} has been forgotten.", severity="warning")
            return
        self.app.push_screen(SessionScreen(self.agent, c.session or self.agent.turn(c.turn_id).session, c.turn_id, (c.start, c.end)))

    def memory_changed(self) -> None:
        """After forget / ingest / correct: citations may point at forgotten turns, and the counts moved."""
        if self.last_answer is not None:
            self.show_evidence(self.last_answer.citations)
        self.app.refresh_stats()

    # -- actions --------------------------------------------------------------------------------

    def action_focus_prompt(self) -> None:
        self.prompt.focus()

    def action_help(self) -> None:
        self.conversation.say("help", help_markdown())

    def action_inspect(self) -> None:
        from hyperloom.tui.screens.inspector import InspectorScreen

        self.app.push_screen(InspectorScreen(self.agent))

    def action_trace(self) -> None:
        if self.last_answer is None:
            self.notify("Ask something first: the trace explains the last answer.", severity="warning")
            return
        self.app.push_screen(TraceScreen(self.agent, self.last_answer))

    # -- slash commands -------------------------------------------------------------------------

    def run_command(self, line: str) -> None:
        p = parse(line)
        command = BY_NAME.get(p.name)
        if command is None:
            return self._refuse(line, f"Unknown command /{p.name}; /help lists them.")
        needs_arg = "PATH" in command.usage or "NAME" in command.usage or command.choices
        if needs_arg and not p.rest:
            return self._refuse(line, f"Usage: {command.usage}")
        handler = getattr(self, f"command_{p.name}")
        handler(p.args, p.rest)

    def _refuse(self, line: str, message: str) -> None:
        self.notify(message, severity="error")
        self.prompt.restore(line)

    def command_help(self, args: list[str], rest: str) -> None:
        self.action_help()

    def command_trace(self, args: list[str], rest: str) -> None:
        self.action_trace()

    def command_inspect(self, args: list[str], rest: str) -> None:
        self.action_inspect()

    def command_quit(self, args: list[str], rest: str) -> None:
        self.app.exit()

    def command_new(self, args: list[str], rest: str) -> None:
        session = self.agent.new_session()
        self.start_over(f"New session `{session}`. Everything remembered stays; ask away.")

    def start_over(self, note: str) -> None:
        self.conversation.clear()
        self.evidence.reset()
        self.last_answer = None
        self.conversation.say("hyperloom", note)
        self.status.change(model=self.agent.config.model, namespace=self.agent.namespace, latency=None, rounds=None)
        self.app.refresh_stats()

    def command_sessions(self, args: list[str], rest: str) -> None:
        sessions = self.agent.sessions()
        if not sessions:
            self.conversation.say("sessions", f"No sessions in namespace `{self.agent.namespace}` yet.")
            return
        counts: dict[str, int] = {}
        for t in self.agent.turns():
            counts[t.session] = counts.get(t.session, 0) + 1
        rows = [f"| `{s.id}` | {(s.started_at or '')[:10]} | {counts.get(s.id, 0)} | {s.title or ''} |" for s in sessions]
        current = f"\n\nThis conversation is session `{self.agent.session}`. **F2** browses them all."
        self.conversation.say("sessions", "| session | started | turns | title |\n|---|---|---:|---|\n" + "\n".join(rows) + current)

    def command_namespace(self, args: list[str], rest: str) -> None:
        try:
            self.agent.use_namespace(rest)
        except HyperloomError as exc:
            return self._refuse(f"/namespace {rest}", str(exc))
        self.start_over(f"Namespace `{rest}`: a separate memory. New session `{self.agent.session}`.")

    def command_forget(self, args: list[str], rest: str) -> None:
        kind, _, target = rest.partition(" ")
        target = target.strip()
        if kind not in ("turn", "session", "entity") or not target:
            return self._refuse(f"/forget {rest}", "Usage: /forget turn|session|entity X")
        detail = f"Everything derived from it goes too (vectors, facts, scenes, hyperedges). Namespace: {self.agent.namespace}."
        self.app.push_screen(ConfirmDialog(f"Forget {kind} {target}? This cannot be undone.", detail), lambda yes: yes and self.forget(kind, target))

    @work(thread=True, group="memory")
    def forget(self, kind: str, target: str) -> None:
        with self.app.inflight:
            try:
                count = self.agent.forget(**{kind: target})
            except HyperloomError as exc:
                self.app.call_from_thread(self.notify, str(exc), title="Nothing forgotten", severity="error")
                return
        self.app.call_from_thread(self.notify, f"Forgot {count} turn(s): {kind} {target}.", title="Forgotten")
        self.app.call_from_thread(self.memory_changed)

    @work(thread=True, group="memory")
    def command_ingest(self, args: list[str], rest: str) -> None:
        path = Path(rest).expanduser()
        self.app.call_from_thread(self.app.update_busy, f"ingesting {path.name}")
        with self.app.inflight:
            try:
                conversations = self.agent.ingest(path)
            except HyperloomError as exc:
                self.app.call_from_thread(self._refuse, f"/ingest {rest}", str(exc))
                return
            finally:
                self.app.call_from_thread(self.app.update_busy, "")
        turns = sum(len(c.turns) for c in conversations)
        self.app.call_from_thread(self.notify, f"Remembered {turns} turns from {path.name}.", title="Ingested")
        self.app.call_from_thread(self.memory_changed)

    @work(thread=True, group="memory")
    def command_export(self, args: list[str], rest: str) -> None:
        with self.app.inflight:
            try:
                count = self.agent.export(Path(rest).expanduser())
            except HyperloomError as exc:
                self.app.call_from_thread(self._refuse, f"/export {rest}", str(exc))
                return
        self.app.call_from_thread(self.notify, f"Wrote {count} turns to {rest}.", title="Exported")

    @work(thread=True, exclusive=True, group="model")
    def command_model(self, args: list[str], rest: str) -> None:
        # Checking an API model imports litellm (seconds): never on the UI thread.
        self.app.call_from_thread(self.app.update_busy, f"checking {rest}")
        try:
            self.agent.use_model(rest)
        except HyperloomError as exc:
            self.app.call_from_thread(self._refuse, f"/model {rest}", str(exc))
            return
        finally:
            self.app.call_from_thread(self.app.update_busy, "")
        self.app.call_from_thread(self.status.change, model=rest)
        self.app.call_from_thread(self.notify, f"Answering with {rest} from now on.", title="Model")
