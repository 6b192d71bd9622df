"""The class contracts of tests/test_classes.py (classes filed per fact and per entity vertex, class questions,
forgetting, odd turns), collected again against PostgreSQL and a Chroma server: the same functions, not copies."""

from __future__ import annotations

from pathlib import Path

import pytest

from hyperloom.config import Config
from hyperloom.memory.store import MemoryStore
from test_classes import (  # noqa: F401  (collected by pytest from this module too)
    pinned_language,
    test_a_class_question_lifts_the_instance,
    test_facts_and_vertices_carry_classes,
    test_forgetting_a_turn_forgets_its_classes,
)


@pytest.fixture
def store(tmp_path: Path, embedder, pg_url: str, chroma_url: str) -> MemoryStore:
    """An empty structured store on a fresh PostgreSQL database, its vectors on the Chroma server."""
    config = Config(home=tmp_path / "home", memory="structured", store="postgres", postgres_url=pg_url, chroma_url=chroma_url)
    with MemoryStore(config, embedder=embedder) as s:
        yield s
