"""Who writes the answer: chosen once per run from the model name (`answerer_for`), called by the graph's answer node.

- `Extractive` (model "none"): no LLM; the best span, trimmed by rules to the asked-for type.
- `Reader` (model "reader"): no LLM; typed candidate spans of the evidence, ranked by a
  fitted model, or "No information available." (agent/reader.py). It falls back to
  `Extractive` when its weights or language data cannot be read, with a notice saying so.
- `LocalQuoter` (local/smollm2): a 135M model decodes one quote under the suffix-automaton
  constraint; typed questions go to the rules.
- `LiteLLM` (any other name): the model writes, its quotes are verified after the fact.

Each returns the partial state update: text, draft citations, notices, and `fallback`
when a model failed and the answer came from memory instead.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from hyperloom.agent import llm
from hyperloom.agent.extractive import extractive_answer, typed_value
from hyperloom.agent.prompts import answer_messages, quote_messages
from hyperloom.agent.quotes import verify_quote
from hyperloom.agent.state import hit_from_dict
from hyperloom.agent.topics import is_topic_question, topics
from hyperloom.agent.nlp import LanguageDataError
from hyperloom.errors import ConfigError
from hyperloom.retrieval.spans import Span

if TYPE_CHECKING:
    from hyperloom.agent.state import Context, State

Write = Callable[[str], None]
LOCAL_LOOK = 5  # evidence turns a small local model reads: its prefill is most of the time to first token
QUOTE_TOKENS = 16  # answers are short; a long quote is a copied turn, not an answer
NO_ANSWER = "No information available."
NOT_ENGLISH = "The reader reads questions in English: ask in English, or answer with an LLM (--model, or /model in the chat)."


class Answerer:
    writes_freely = False  # an LLM that writes its own words (its quotes are verified after; it may judge sufficiency too)
    notice: str | None = None  # said once with every answer, e.g. that the reader's weights are missing

    def answer(self, state: State, ctx: Context, write: Write) -> dict:
        raise NotImplementedError


class Extractive(Answerer):
    def answer(self, state: State, ctx: Context, write: Write) -> dict:
        return extractive(state, write, [self.notice] if self.notice else [])


class Reader(Answerer):
    """The reader, answering a compound question part by part (each part's answer and citations joined)."""

    def __init__(self, weights: Path | None = None) -> None:
        from hyperloom.agent.reader import Weights, shipped_weights

        # ReaderWeightsError (one sentence naming the file and the refit command) if unreadable
        self._weights = Weights.load(weights) if weights else shipped_weights()

    def answer(self, state: State, ctx: Context, write: Write) -> dict:
        from hyperloom.agent.question import is_english, keeps_replaced
        from hyperloom.agent.reader import read

        if not is_english(state["question"]):  # its parser and WordNet are English: a guess would be noise
            write(NO_ANSWER)
            return {"text": NO_ANSWER, "draft_citations": [], "reading": {"abstained": True, "by": "language"}, "confidence": None,
                    "notices": [*(state.get("notices") or []), NOT_ENGLISH]}
        if is_topic_question(state["question"]) and (said := _topics(state, ctx, write)):
            return said
        hits = sorted((hit_from_dict(d) for d in state["packed"]), key=lambda h: -h.score)
        if not keeps_replaced(state["question"]):  # "where does she live now": a replaced fact is no answer
            hits = [h for h in hits if h.turn_id not in set(state.get("superseded") or ())]
        parts = state.get("parts") or [state["question"]]
        if len(parts) == 1 and (state.get("rounds") or [{}])[-1].get("abstain"):
            return _withheld(write)  # the critic, reading this question's evidence, judged no answer better than the reader's
        readings = [read(part, hits, now=ctx.now, weights=self._weights) for part in parts]
        said = [r for r in readings if not r.abstained]
        text = "; ".join(r.text for r in said) if said else readings[0].text
        write(text)
        drafts = [{"turn_id": s.turn_id, "start": s.start, "end": s.end, "quote": s.text} for r in said for s in r.citations]
        reading = {"score": readings[0].score, "margin": readings[0].margin, "type": readings[0].answer_type, "abstained": not said,
                   "verdict": len(said) == 1 and said[0].verdict}  # the text is a yes/no word judged from the citations
        return {"text": text, "draft_citations": drafts, "reading": reading, "confidence": _judged(state, text) if said else None}


def _withheld(write: Write) -> dict:
    """The critic abstained: it does not know, with nothing cited (a compound question's parts are each read instead:
    the critic judged the whole question, not them)."""
    write(NO_ANSWER)
    return {"text": NO_ANSWER, "draft_citations": [], "reading": {"abstained": True, "by": "critic"}, "confidence": None}


def _judged(state: State, text: str) -> str | None:
    """The critic's confidence word, when the answer given is the one it read on the round answered from
    (a compound question's joined parts, or evidence the packer left out, are not what it judged)."""
    verdict = (state.get("rounds") or [{}])[-1]
    return verdict.get("confidence") if verdict.get("answer") == text else None


def _topics(state: State, ctx: Context, write: Write) -> dict | None:
    """What was talked about in a period: the scenes' central facts, each quoted, joined."""
    found = topics(ctx.store.view(ctx.namespace), state["query"])
    if not found:
        return None
    text = " / ".join(t.quote for t in found)
    write(text)
    drafts = [{"turn_id": t.fact.turn_id, "start": t.fact.start, "end": t.fact.end, "quote": t.quote} for t in found]
    return {"text": text, "draft_citations": drafts}


class LocalQuoter(Answerer):
    """A small local model answers with one quote, decoded verbatim (RecaLLM) from the sentences that
    best match the question in the best evidence turns; rules then trim it to the asked-for type.
    Whole turns invite a 135M model to copy a greeting; sentences do not."""

    def answer(self, state: State, ctx: Context, write: Write) -> dict:
        # Dates, counts, places, people and quoted titles: the rules (a date resolved against the turn's own day, the
        # name in the best span) beat what a 135M model picks (LoCoMo dev, 120 questions: temporal F1
        # 0.668 extractive, 0.403 model; "Where does Maya live now?" Porto by the rules, Lisbon by the model).
        if state["answer_type"] != "text":
            return extractive(state, write, [])
        hits = sorted((hit_from_dict(d) for d in state["packed"]), key=lambda h: -h.score)[:LOCAL_LOOK]
        candidates = [(hit, span) for hit in hits for span in (hit.spans[:1] or [Span(hit.turn_id, 0, len(hit.text), hit.text)])]
        context = "\n".join(f"{hit.speaker}: {span.text}" for hit, span in candidates)
        options = {**ctx.llm_options, "evidence": [span.text for _, span in candidates], "quote_only": True, "max_tokens": QUOTE_TOKENS}
        quote = ""
        try:
            for chunk in llm.stream(quote_messages(state["question"], context), ctx.model, ledger=ctx.ledger, **options):
                quote += chunk
                write(chunk)
        except llm.ModelError as exc:
            return fell_back(state, write, exc)
        quote = quote.strip().rstrip("\"”").strip()
        for hit, span in candidates:
            if found := verify_quote(quote, span.text):
                start, end = span.start + found[0], span.start + found[1]
                chosen = Span(hit.turn_id, start, end, hit.text[start:end])
                return {"text": typed_value(state["answer_type"], chosen, hit), "draft_citations": [{"turn_id": hit.turn_id, "start": start, "end": end, "quote": chosen.text}]}
        return extractive(state, write, [])  # an empty quote: the model had nothing to say


class LiteLLM(Answerer):
    writes_freely = True

    def answer(self, state: State, ctx: Context, write: Write) -> dict:
        text = ""
        try:
            for chunk in llm.stream(answer_messages(state["question"], state["context"], state.get("history") or []), ctx.model, ledger=ctx.ledger, **ctx.llm_options):
                text += chunk
                write(chunk)
        except llm.ModelError as exc:
            return fell_back(state, write, exc)
        return {"text": text, "draft_citations": []}


def answerer_for(model: str, *, reader_weights: Path | None = None) -> Answerer:
    """The one place the model name decides who answers."""
    if model == llm.NO_MODEL:
        return Extractive()
    if model == llm.READER:
        try:
            return Reader(reader_weights)
        except (ConfigError, LanguageDataError) as exc:  # missing or damaged reader.json: today's extractive answers, said so
            fallback = Extractive()
            fallback.notice = f"{exc} Answering extractively until then."
            return fallback
    if model.startswith("local/"):
        return LocalQuoter()
    return LiteLLM()


def fell_back(state: State, write: Write, exc: llm.ModelError) -> dict:
    fallback = extractive(state, write, [f"The model failed ({exc}); this answer is extractive, straight from memory."])
    return {**fallback, "fallback": exc.reason}


def extractive(state: State, write: Write, notices: list[str]) -> dict:
    hits = sorted((hit_from_dict(d) for d in state["packed"]), key=lambda h: -h.score)
    found = extractive_answer(state["question"], hits)
    write(found.text)
    drafts = [{"turn_id": s.turn_id, "start": s.start, "end": s.end, "quote": s.text} for s in found.citations]
    return {"text": found.text, "draft_citations": drafts, "notices": [*state.get("notices", []), *notices]}
