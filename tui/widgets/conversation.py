"""The conversation: Markdown messages, and the answer streamed from a thread worker.

Method calls go down (`ask`), events come up (`AnswerComplete`, `AnswerFailed`):
the screen decides what a finished or failed answer means for the rest of the UI.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

from textual import on, work
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Markdown, Static
from textual.widgets._markdown import MarkdownStream
from textual.worker import get_current_worker

from hyperloom import Agent, Answer, HyperloomError
from hyperloom.retrieval.spans import sentences


class ChatMessage(Static):
    """One message: who said it, then its Markdown body (which may still be streaming)."""

    DEFAULT_CSS = """
    ChatMessage { height: auto; margin: 0 0 1 0; padding: 0 1; }
    ChatMessage .who { color: $text-muted; text-style: bold; }
    ChatMessage.-user { border-left: thick $secondary; }
    ChatMessage.-user .who { color: $secondary; }
    ChatMessage.-assistant { border-left: thick $primary; }
    ChatMessage.-assistant .who { color: $primary; }
    ChatMessage.-system { border-left: thick $panel-lighten-2; }
    ChatMessage.-pending Markdown { color: $text-muted; }
    ChatMessage Markdown { margin: 0; padding: 0; background: transparent; }
    ChatMessage Markdown > * { margin-bottom: 0; }
    ChatMessage > Horizontal { height: auto; }
    ChatMessage > Horizontal > Markdown { width: 1fr; }
    ChatMessage .confidence { width: auto; padding: 0 0 0 2; color: $text-muted; text-style: italic; display: none; }
    ChatMessage .confidence.-shown { display: block; }
    """

    def __init__(self, who: str, text: str, role: str) -> None:
        super().__init__(classes=f"-{role}")
        self.who, self.text, self.role = who, text, role
        self.confidence: str | None = None
        self._stream: MarkdownStream | None = None
        self._streamed = ""

    def compose(self):
        yield Static(self.who, classes="who", markup=False)
        with Horizontal():
            yield Markdown(self.text)
            # beside the answer's first line: how sure the critic is that the answer is right (a word, not a number)
            yield Static("", classes="confidence", markup=False)

    @property
    def body(self) -> Markdown:
        return self.query_one(Markdown)

    async def append(self, chunk: str) -> None:
        if self._stream is None:
            self.remove_class("-pending")
            await self.body.update("")
            self._stream = Markdown.get_stream(self.body)
        self._streamed += chunk
        await self._stream.write(chunk)

    async def finish(self, text: str, confidence: str | None = None) -> None:
        """The verified answer replaces the streamed draft (a failing quote may have been removed);
        `confidence` is the critic's word for it, shown dim beside it (None: nothing is shown)."""
        if self._stream is not None:
            await self._stream.stop()
            self._stream = None
        self.remove_class("-pending")
        self.text, self.confidence = text, confidence
        await self.body.update(text)
        word = self.query_one(".confidence", Static)
        word.update(confidence or "")
        word.set_class(bool(confidence), "-shown")
        word.tooltip = CONFIDENCE.get(confidence or "")


CONFIDENCE = {  # what each word means (agent/critic.py Confidence: calibrated P(right) >= 0.55, >= 0.3, below)
    "sure": "The critic judges this answer more likely right than wrong.",
    "likely": "The critic judges this answer plausible; check the evidence.",
    "unsure": "The critic doubts this answer; check the evidence.",
}


def answer_markdown(answer: Answer, said: Callable[[str], str | None] = lambda turn_id: None) -> str:
    """The short answer first, then each sentence it was quoted from, with who said it and when, numbered as
    the evidence panel numbers its citations; then any notice. `said(turn_id)` is the turn's text (None: gone)."""
    parts = [f"**{escape(answer.text)}**" if answer.text else "_(no answer)_"]
    shown: set[tuple[str, int]] = set()
    for i, c in enumerate(answer.citations, 1):
        text = said(c.turn_id)
        start, end = next(((a, b) for a, b in sentences(text) if a <= c.start < b), (c.start, c.end)) if text else (c.start, c.end)
        if (c.turn_id, start) in shown:  # two quotes of one sentence ("cello; Ines"): the sentence once
            continue
        shown.add((c.turn_id, start))
        quote = text[start:end] if text else c.quote
        said_as = f"[{i}] {escape(c.speaker or '?')}, {_day(c.time)}"
        # An answer made of whole sentences (a scene's summary) is not quoted a second time.
        parts.append(said_as if quote in answer.text else f"{said_as}: “{escape(quote)}”")
    if answer.notice:
        parts.append(f"> {escape(answer.notice)}")
    return "\n\n".join(parts)


def turn_text(agent: Agent, turn_id: str) -> str | None:
    """The text of a quoted turn, None when it has been forgotten since (the chat and its evidence panel both ask)."""
    try:
        return agent.turn(turn_id).text
    except HyperloomError:
        return None


def _day(time: str | None) -> str:
    """'2024-03-02T…' as '2 March 2024'."""
    try:
        when = datetime.fromisoformat(time) if time else None
    except ValueError:
        return time or "undated"
    return f"{when.day} {when:%B %Y}" if when else "undated"


def escape(text: str) -> str:
    """Said text shown as itself: Markdown's punctuation escaped, so '*' or '#' in a turn stays a character."""
    return re.sub(r"([\\`*_{}\[\]<>()#+\-.!|~])", r"\\\1", text)


class Conversation(VerticalScroll):
    """The messages of this session, newest at the bottom; one answer streams at a time."""

    DEFAULT_CSS = """
    Conversation { height: 1fr; padding: 0 1; scrollbar-size-vertical: 1; }
    """

    class AnswerChunk(Message):
        def __init__(self, message: ChatMessage, chunk: str) -> None:
            super().__init__()
            self.message, self.chunk = message, chunk

    class AnswerComplete(Message):
        """The verified answer arrived (the exchange is remembered)."""

        def __init__(self, message: ChatMessage, question: str, answer: Answer) -> None:
            super().__init__()
            self.message, self.question, self.answer = message, question, answer

    class AnswerFailed(Message):
        """The agent raised: nothing was remembered, and the question should go back to the input."""

        def __init__(self, message: ChatMessage, question: str, error: str) -> None:
            super().__init__()
            self.message, self.question, self.error = message, question, error

    def __init__(self, agent: Agent, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.agent = agent
        self.pending: tuple[ChatMessage, ChatMessage] | None = None

    def say(self, who: str, text: str, role: str = "system") -> ChatMessage:
        message = ChatMessage(who, text, role)
        self.mount(message)
        self.scroll_end(animate=False)
        return message

    def ask(self, question: str) -> None:
        """Show the question, then stream its answer; a newer question cancels this one."""
        if self.pending is not None:
            self.pending[1].text = "_(cancelled: a newer question was asked)_"
            self.pending[1].body.update(self.pending[1].text)
            self.pending[1].remove_class("-pending")
        asked = self.say(self.agent.speaker, question, "user")
        reply = self.say("hyperloom", "_searching memory…_", "assistant")
        reply.add_class("-pending")
        self.pending = (asked, reply)
        self.stream_answer(question, reply)

    @work(thread=True, exclusive=True, group="answer")
    def stream_answer(self, question: str, reply: ChatMessage) -> None:
        worker = get_current_worker()
        try:
            with self.app.inflight:
                stream = self.agent.stream(question)
                try:
                    for chunk in stream:
                        if worker.is_cancelled:
                            return
                        self.post_message(self.AnswerChunk(reply, chunk))
                finally:
                    stream.close()  # an abandoned run must stop, or its graph thread waits for a reader forever
        except HyperloomError as exc:
            if not worker.is_cancelled:
                self.post_message(self.AnswerFailed(reply, question, str(exc)))
            return
        except Exception as exc:  # noqa: BLE001 — the edge of the UI: a bug must not take the conversation with it
            if not worker.is_cancelled:
                self.post_message(self.AnswerFailed(reply, question, f"{type(exc).__name__}: {exc}"))
            return
        if not worker.is_cancelled and stream.answer is not None:
            self.post_message(self.AnswerComplete(reply, question, stream.answer))

    @on(AnswerChunk)
    async def show_chunk(self, event: AnswerChunk) -> None:
        event.stop()
        at_end = self.is_vertical_scroll_end
        await event.message.append(event.chunk)
        if at_end:
            self.scroll_end(animate=False)

    @on(AnswerComplete)
    async def show_verified_answer(self, event: AnswerComplete) -> None:
        if self.pending is not None and self.pending[1] is event.message:
            self.pending = None
        await event.message.finish(answer_markdown(event.answer, lambda turn_id: turn_text(self.agent, turn_id)), event.answer.confidence)
        self.scroll_end(animate=False)

    @on(AnswerFailed)
    async def remove_failed_exchange(self, event: AnswerFailed) -> None:
        if self.pending is not None and self.pending[1] is event.message:
            for message in self.pending:
                await message.remove()
            self.pending = None

    def clear(self) -> None:
        self.pending = None
        self.remove_children()
