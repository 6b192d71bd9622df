"""The structure contracts of tests/test_structure.py (facts, scenes, persona, hypergraph, forgetting,
namespaces), collected again here against PostgreSQL and a Chroma server: the same test functions, not copies.

Only the tests that take the `store` or `structured` fixture are run again; the others build their own
SQLite store from tmp_path.
"""

from __future__ import annotations


import pytest

from hyperloom.memory.store import MemoryStore
from hyperloom.samples import sample_path
from test_structure import (  # noqa: F401  (collected by pytest from this module too)
    test_a_forget_reclusters_incrementally_to_the_scenes_a_full_rebuild_makes,
    test_a_newer_fact_closes_the_older_one_and_keeps_it,
    test_a_question_asking_for_a_class_lifts_the_speakers_turns_naming_an_instance,
    test_a_question_naming_a_date_finds_what_was_said_then,
    test_a_reply_inherits_from_the_turn_it_answers_in_its_session,
    test_every_fact_quotes_its_turn_exactly,
    test_forgetting_a_session_leaves_no_trace_anywhere,
    test_forgetting_an_entity_forgets_what_was_said_about_it,
    test_hypergraph_rules,
    test_name_prefixes_become_aliases,
    test_scenes_cover_every_fact_and_persona_links_them,
    test_structure_stays_inside_its_namespace,
    test_temporal_facts_carry_resolved_dates,
    test_text_without_sentences_or_dates_still_becomes_a_turn_and_a_fact,
    test_turns_are_read_back_by_their_place_in_the_conversation,
)


@pytest.fixture
def store(pg_store: MemoryStore) -> MemoryStore:
    return pg_store


@pytest.fixture
def structured(store: MemoryStore) -> MemoryStore:
    store.ingest(sample_path(), "demo")
    return store
