"""Agents for many namespaces over one open data directory, each namespace used by one call at a time."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from hyperloom import Agent
from hyperloom.errors import InputError
from hyperloom.memory.log import validate_namespace


class Namespaces:
    """One `Agent` per namespace, all sharing the first one's store (one SQLite connection, one embedder).

    `use(name)` holds that namespace's lock for the whole call: an `Agent` carries per-run state (its
    answerer, critic, last answer), and the store serialises a namespace's reads and writes anyway, so
    nothing is lost by it, while calls on different namespaces still run side by side.
    """

    def __init__(self, root: Agent, *, critic: Any = None):
        self.root = root
        self._critic = critic
        self._agents: dict[str, Agent] = {root.namespace: root}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    @classmethod
    def open(cls, home: Any = None, namespace: str | None = None, **kw: Any) -> "Namespaces":
        """`Agent.open(home, namespace, **kw)` for the first namespace; the others are made on demand."""
        return cls(Agent.open(home, namespace, **kw), critic=kw.get("critic"))

    def close(self) -> None:
        self.root.close()

    def agent(self, name: str) -> Agent:
        validate_namespace(name)
        with self._guard:
            if name not in self._agents:
                config = self.root.config.model_copy(update={"namespace": name})
                self._agents[name] = Agent(config, store=self.root.store, critic=self._critic)
            return self._agents[name]

    def exists(self, name: str) -> bool:
        return name in self.root.namespaces()

    @contextmanager
    def use(self, name: str, *, must_exist: bool = False) -> Iterator[Agent]:
        """The namespace's agent, under its lock; `must_exist` refuses a namespace nothing was written to yet
        (a read must not look as if it found an empty namespace that is really a misspelt one)."""
        agent = self.agent(name)
        if must_exist and not self.exists(name):
            known = ", ".join(self.root.namespaces()) or "none yet"
            raise InputError(f"There is no namespace {name!r} here (the ones that exist: {known}); remember something in it first.")
        with self._lock(name):
            yield agent

    def _lock(self, name: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(name, threading.Lock())
