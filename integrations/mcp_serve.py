"""`hyperloom mcp`: open the memory, warm it up, and serve it over stdio or streamable HTTP."""

from __future__ import annotations

import ipaddress
import logging

from hyperloom.config import Config
from hyperloom.errors import InputError
from hyperloom.integrations.namespaces import Namespaces

SERVER_MODEL = "none"  # extractive answers: instant, and the MCP client is itself an LLM reading the quotes


def answering_model(config: Config, model: str | None) -> str:
    """`--model`, else a model the settings name explicitly (HYPERLOOM_MODEL or the config file), else `none`:
    a tool call should return in milliseconds, and the embedded local model takes seconds per answer."""
    if model:
        return model
    return config.model if "model" in config.model_fields_set else SERVER_MODEL


def http_address(value: str, *, allow_remote: bool = False) -> tuple[str, int]:
    """`HOST:PORT`, `[IPv6]:PORT` or `PORT` (on 127.0.0.1); a host other than loopback only with `allow_remote`."""
    host, _, port = value.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise InputError(f"--http {value!r} is not HOST:PORT; give one such as 127.0.0.1:8765.")
    if not allow_remote and not _loopback(host):
        raise InputError(f"--http {host} would let other machines read and forget this memory (the server has no authentication); use 127.0.0.1, or add --allow-remote if you mean it.")
    return host, int(port)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve anywhere


def serve(config: Config, *, model: str | None = None, multi: bool = False, http: str | None = None, allow_remote: bool = False) -> None:
    """Serve until the client hangs up (stdio) or the process is stopped (HTTP)."""
    address = http_address(http, allow_remote=allow_remote) if http else None
    from hyperloom.integrations.mcp_server import build

    namespaces = Namespaces.open(config=config, model=answering_model(config, model), embedder=query_embedder(config))
    try:
        warm_up(namespaces)
        logging.getLogger("bm25s").addFilter(_warnings_only)
        server = build(namespaces, multi=multi)
        if address is None:
            server.run("stdio")
        else:
            server.run("streamable-http", host=address[0], port=address[1])
    finally:
        namespaces.close()


def query_embedder(config: Config):
    """The embedded MiniLM on one thread (as the eval workers run it): a tool call embeds one short query, which
    two onnxruntime threads do no faster, while their spinning competes with the event loop and every other
    process on the cores (search p50 42 ms on one thread vs 87-102 ms on the default two, load average 6-8)."""
    if config.embedder != "local/minilm":
        return None  # Agent.open makes the configured one
    from hyperloom.retrieval.embed import OnnxMiniLM

    return OnnxMiniLM(threads=1)


def warm_up(namespaces: Namespaces) -> None:
    """Load the embedder, the indexes, the graph and the answerer now, so the first tool call is as quick as the rest."""
    root = namespaces.root
    root.warm_up()
    root.search("warm up", 1)  # the embedder loads at its first query


def _warnings_only(record: logging.LogRecord) -> bool:
    """bm25s sets its logger to DEBUG when imported and logs every index build: on stderr that buries real warnings."""
    return record.levelno >= logging.WARNING
