"""hyperloom: an agent that remembers long conversations verbatim and answers with evidence you can check.

The names below are imported on first use (PEP 562), so `import hyperloom` — and the
CLI and terminal UI that start with it — stay fast.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "Agent": "hyperloom.agent.api",
    "MemoryStats": "hyperloom.agent.api",
    "Stream": "hyperloom.agent.api",
    "Answer": "hyperloom.agent.state",
    "Citation": "hyperloom.agent.state",
    "Round": "hyperloom.agent.state",
    "Trace": "hyperloom.agent.state",
    "Config": "hyperloom.config",
    "HyperloomError": "hyperloom.errors",
    "Session": "hyperloom.memory.log",
    "Turn": "hyperloom.memory.log",
    "TurnLog": "hyperloom.memory.log",
    "MemoryStore": "hyperloom.memory.store",
    "Filters": "hyperloom.retrieval.search",
    "Hit": "hyperloom.retrieval.search",
    "Span": "hyperloom.retrieval.spans",
}

__all__ = sorted(_EXPORTS)
__version__ = "0.1.0"

if TYPE_CHECKING:
    from hyperloom.agent.api import Agent, MemoryStats, Stream
    from hyperloom.agent.state import Answer, Citation, Round, Trace
    from hyperloom.config import Config
    from hyperloom.errors import HyperloomError
    from hyperloom.memory.log import Session, Turn, TurnLog
    from hyperloom.memory.store import MemoryStore
    from hyperloom.retrieval.search import Filters, Hit
    from hyperloom.retrieval.spans import Span


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'hyperloom' has no attribute {name!r}")
    value = getattr(import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value
