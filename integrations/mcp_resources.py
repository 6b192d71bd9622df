"""The MCP server's resources, so a client can open the evidence behind a citation: a turn's verbatim text,
a session's turns, the list of sessions (each with `?namespace=` on a --multi server)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError

from hyperloom import Agent
from hyperloom.errors import HyperloomError, InputError
from hyperloom.integrations import mcp_shapes as shapes
from hyperloom.integrations.namespaces import Namespaces


def add_resources(server: MCPServer, namespaces: Namespaces, multi: bool) -> None:
    """`hyperloom://turn/{id}`, `hyperloom://session/{id}` and `hyperloom://sessions` (each `?namespace=` on --multi)."""

    def read(namespace: str | None, body: Callable[[Agent], str]) -> str:
        if multi and not namespace:
            raise ResourceError("This server serves several namespaces: add ?namespace=NAME to the URI.")
        if not multi and namespace not in (None, namespaces.root.namespace):
            raise ResourceError(f"This server serves namespace {namespaces.root.namespace!r} only.")
        try:
            with namespaces.use(namespace or namespaces.root.namespace, must_exist=multi) as agent:
                return body(agent)
        except HyperloomError as exc:
            raise ResourceError(str(exc)) from None

    @server.resource("hyperloom://turn/{id}{?namespace}", name="turn", mime_type="text/plain", description="One remembered turn's text, verbatim: citations' offsets index into it.")
    def turn_text(id: str, namespace: str | None = None) -> str:
        return read(namespace, lambda agent: agent.turn(id).text)

    @server.resource("hyperloom://session/{id}{?namespace}", name="session", mime_type="application/json", description="Every turn of one session, in order, verbatim, as JSON.")
    def session_turns(id: str, namespace: str | None = None) -> str:
        return read(namespace, lambda agent: _json([shapes.turn_result(t, namespace).model_dump() for t in _session(agent, id)]))

    @server.resource("hyperloom://sessions{?namespace}", name="sessions", mime_type="application/json", description="The remembered sessions, as JSON.")
    def session_list(namespace: str | None = None) -> str:
        return read(namespace, lambda agent: _json(shapes.sessions_result(agent.sessions(), agent.turns()).model_dump()["sessions"]))


def _session(agent: Agent, session: str) -> list:
    turns = agent.turns(session)
    if not turns:
        raise InputError(f"There is no session {session!r} in namespace {agent.namespace!r}; list them with the sessions tool.")
    return turns


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=1)
