"""The MCP server's tools and resources: each one a few lines over the `Agent` API.

Every tool body takes the namespace's `Agent` (and the namespace to put in resource URIs, None on a
one-namespace server) followed by its own arguments; `build` wraps it so the call runs under that
namespace's lock and a `HyperloomError` reaches the client as a one-sentence tool error.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp_types import ToolAnnotations
from pydantic import Field, ValidationError

from hyperloom import Agent
from hyperloom.errors import HyperloomError, InputError
from hyperloom.integrations import mcp_shapes as shapes
from hyperloom.integrations.mcp_resources import add_resources
from hyperloom.integrations.namespaces import Namespaces

INSTRUCTIONS = (
    "hyperloom is a long-term memory that keeps every remembered turn verbatim. Use `remember` to store what was "
    "said, `search` to find turns (with the exact sentences that match), `ask` for a short answer with verbatim "
    "citations, `turn` to read a turn whole, and `forget` (with confirm=true) to remove something everywhere."
)

def _arg(description: str, **constraints: Any) -> Any:
    return Field(description=description, **constraints)


# Each argument's JSON schema and the sentence a model reads about it.
Said = Annotated[str, _arg("What was said, verbatim; it is stored exactly as given.", min_length=1)]
Speaker = Annotated[str, _arg("Who said it (a person's name, or 'user' / 'assistant').", min_length=1)]
When = Annotated[str | None, _arg("When it was said, ISO 8601 (2024-03-12T10:00:00); now if left out.")]
InSession = Annotated[str | None, _arg("The conversation it belongs to; this server's current session if left out.")]
Query = Annotated[str, _arg("Words or a question to look for.", min_length=1)]
K = Annotated[int, _arg("How many turns to return.", ge=1, le=50)]
BySpeaker = Annotated[str | None, _arg("Only turns said by this speaker.")]
Since = Annotated[str | None, _arg("Only turns said on or after this date (ISO, e.g. 2024-03-01).")]
Until = Annotated[str | None, _arg("Only turns said on or before this date (ISO).")]
BySession = Annotated[str | None, _arg("Only turns of this session id.")]
Question = Annotated[str, _arg("A question about what was remembered.", min_length=1)]
Asker = Annotated[str | None, _arg("Who is asking: 'I' and 'my' in the question mean this speaker.")]
Now = Annotated[str | None, _arg("When the question is asked (ISO), for questions like 'what did I do last week?'; now if left out.")]
Confirm = Annotated[bool, _arg("Must be true: forgetting cannot be undone.")]
TurnId = Annotated[str | None, _arg("One turn id (from search, ask or sessions).")]
SessionId = Annotated[str | None, _arg("One session id: all of its turns.")]
Entity = Annotated[str | None, _arg("A name: every turn that mentions it.")]
AnyTurnId = Annotated[str, _arg("A turn id, as search, ask or sessions give it.", min_length=1)]


def remember(agent: Agent, ns: str | None, text: Said, speaker: Speaker, time: When = None, session: InSession = None) -> shapes.Remembered:
    """Remember one turn of a conversation, verbatim. It is committed before this returns and can be searched at once.
    Relative dates in the text ("last week") are resolved against `time`."""
    return shapes.remembered(agent.remember(text, speaker, session=session, time=time), ns)


def search(agent: Agent, ns: str | None, query: Query, k: K = 5, speaker: BySpeaker = None, since: Since = None, until: Until = None, session: BySession = None) -> shapes.SearchResult:
    """Find the remembered turns that best match a query (hybrid dense + BM25 search over turns and the facts in
    them). Each hit is a whole turn, verbatim, with its speaker, date, turn id and the matching sentences as spans."""
    return shapes.search_result(agent.search(query, k, speaker=speaker, session=session, since=since, until=until), ns)


def ask(agent: Agent, ns: str | None, question: Question, speaker: Asker = None, now: Now = None) -> shapes.AskResult:
    """Answer a question from memory: a short answer, the verbatim quotes it rests on (each with its turn id, so
    `turn` or the resource opens the whole turn), and the retrieval rounds the sufficiency critic asked for.
    Nothing about the question is remembered."""
    return shapes.ask_result(agent.ask(question, speaker=speaker, now=now), ns)


def forget(agent: Agent, ns: str | None, confirm: Confirm, turn: TurnId = None, session: SessionId = None, entity: Entity = None) -> shapes.Forgotten:
    """Forget exactly one of: a turn, a session, or every turn mentioning an entity. It is removed from the log and
    every index, structure and file, and so are answers that quoted it. Needs confirm=true; it cannot be undone."""
    chosen = [name for name, value in (("turn", turn), ("session", session), ("entity", entity)) if value]
    if len(chosen) != 1:
        raise InputError("Say exactly one of turn, session or entity to forget.")
    if confirm is not True:
        raise InputError(f"Nothing was forgotten: forgetting {chosen[0]} {turn or session or entity!r} cannot be undone, so call again with confirm=true.")
    return shapes.Forgotten(forgotten=agent.forget(turn=turn, session=session, entity=entity))


def sessions(agent: Agent, ns: str | None) -> shapes.SessionsResult:
    """List the remembered conversations (sessions): id, start time, title and how many turns each holds."""
    return shapes.sessions_result(agent.sessions(), agent.turns())


def turn(agent: Agent, ns: str | None, id: AnyTurnId) -> shapes.TurnResult:
    """Read one turn whole, exactly as it was remembered (the evidence behind a citation)."""
    return shapes.turn_result(agent.turn(id), ns)


TOOLS: list[tuple[Callable[..., Any], ToolAnnotations]] = [
    (remember, ToolAnnotations(title="Remember a turn", read_only_hint=False, destructive_hint=False, idempotent_hint=False)),
    (search, ToolAnnotations(title="Search memory", read_only_hint=True)),
    (ask, ToolAnnotations(title="Ask memory", read_only_hint=True)),
    (forget, ToolAnnotations(title="Forget", read_only_hint=False, destructive_hint=True, idempotent_hint=True)),
    (sessions, ToolAnnotations(title="List sessions", read_only_hint=True)),
    (turn, ToolAnnotations(title="Read a turn", read_only_hint=True)),
]
WRITES = {"remember"}  # the one tool that may bring a namespace into being on a --multi server

NAMESPACE_ARG = inspect.Parameter("namespace", inspect.Parameter.KEYWORD_ONLY, annotation=Annotated[str, Field(min_length=1, max_length=128, description="The namespace (memory) to use; this server serves several, so every call names one.")])


class Server(MCPServer):
    """`MCPServer` whose argument errors are one sentence naming the argument, and which refuses an argument
    a tool does not take (silently ignoring, say, a `namespace` would write into the wrong memory)."""

    def __init__(self, *args: Any, **kw: Any):
        super().__init__(*args, **kw)
        self.arguments: dict[str, frozenset[str]] = {}

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None) -> Any:
        unknown = sorted(set(arguments) - self.arguments.get(name, frozenset(arguments)))
        if unknown:
            takes = ", ".join(sorted(self.arguments[name])) or "no arguments"
            raise ToolError(f"Error executing tool {name}: it takes no argument {unknown[0]!r} (it takes {takes}).")
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            if isinstance(exc.__cause__, ValidationError) and not isinstance(exc, UnexpectedToolError):
                raise ToolError(f"Error executing tool {name}: {argument_error(exc.__cause__)}") from None
            raise


def argument_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    name = ".".join(str(p) for p in first["loc"]) or "arguments"
    if first["type"] == "missing":
        return f"the argument `{name}` is required."
    given = repr(first.get("input"))
    given = given if len(given) <= 60 else given[:57] + "..."
    return f"the argument `{name}` is invalid: {first['msg'][:1].lower()}{first['msg'][1:]} (got {given})."


def build(namespaces: Namespaces, *, multi: bool = False) -> Server:
    """The MCP server over `namespaces`: its first namespace only, or (`multi`) any, named by every call."""
    server = Server("hyperloom", instructions=INSTRUCTIONS, log_level="WARNING")
    for body, annotations in TOOLS:
        tool = _tool(body, namespaces, multi)
        server.add_tool(tool, annotations=annotations)
        server.arguments[body.__name__] = frozenset(inspect.signature(tool).parameters)
    if multi:
        server.add_tool(_namespaces_tool(namespaces), name="namespaces", annotations=ToolAnnotations(title="List namespaces", read_only_hint=True))
        server.arguments["namespaces"] = frozenset()
    add_resources(server, namespaces, multi)
    return server


def _tool(body: Callable[..., Any], namespaces: Namespaces, multi: bool) -> Callable[..., Any]:
    """`body` as a tool: its signature without (agent, ns), plus a required `namespace` on a --multi server."""
    signature = inspect.signature(body, eval_str=True)
    params = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in list(signature.parameters.values())[2:]]

    @functools.wraps(body)
    def call(**args: Any) -> Any:
        name = args.pop("namespace") if multi else namespaces.root.namespace
        try:
            with namespaces.use(name, must_exist=multi and body.__name__ not in WRITES) as agent:
                return body(agent, name if multi else None, **args)
        except HyperloomError as exc:
            raise ToolError(str(exc)) from None

    del call.__wrapped__  # the SDK reads the signature below, not the body's (agent, ns) one
    call.__signature__ = signature.replace(parameters=([NAMESPACE_ARG] if multi else []) + params)  # type: ignore[attr-defined]
    return call


def _namespaces_tool(namespaces: Namespaces) -> Callable[[], shapes.NamespacesResult]:
    def list_namespaces() -> shapes.NamespacesResult:
        """List the namespaces (separate memories) this server can use; pass one as `namespace` to the other tools."""
        return shapes.NamespacesResult(namespaces=namespaces.root.namespaces())

    return list_namespaces
