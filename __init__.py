"""hyperloom: an agent that remembers long conversations verbatim and answers with evidence you can check."""

from hyperloom.agent.api import Agent, MemoryStats, Stream
from hyperloom.agent.state import Answer, Citation, Round, Trace
from hyperloom.config import Config
from hyperloom.errors import HyperloomError
from hyperloom.memory.log import Session, Turn, TurnLog
from hyperloom.memory.store import MemoryStore
from hyperloom.retrieval.search import Filters, Hit
from hyperloom.retrieval.spans import Span

__all__ = ["Agent", "Answer", "Citation", "MemoryStats", "Round", "Stream", "Trace", "Config", "Filters", "Hit", "HyperloomError", "MemoryStore", "Session", "Span", "Turn", "TurnLog"]
__version__ = "0.1.0"
