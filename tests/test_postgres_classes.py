"""The class contracts of tests/test_classes.py (classes filed per fact and per entity vertex, class questions,
forgetting, odd turns), collected again against PostgreSQL and a Chroma server: the same functions, not copies."""

from __future__ import annotations


import pytest

from hyperloom.memory.store import MemoryStore
from test_classes import (  # noqa: F401  (collected by pytest from this module too)
    pinned_language,
    test_a_class_question_lifts_the_instance,
    test_facts_mentioning_a_kind_with_no_one_left_out,
    test_facts_and_vertices_carry_classes,
    test_forgetting_a_turn_forgets_its_classes,
)


@pytest.fixture
def store(pg_store: MemoryStore) -> MemoryStore:
    return pg_store
