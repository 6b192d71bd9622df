"""Structured memory: facts keep exact spans, contradictions keep history, the hypergraph follows its rules,
scenes and persona cover the facts, forgetting reaches every layer and file, and namespaces stay apart."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from hyperloom.config import Config
from hyperloom.errors import InputError
from hyperloom.memory.extract import Entity, entities, extract
from hyperloom.memory.log import Turn
from hyperloom.memory.store import MemoryStore
from hyperloom.retrieval.associative import Weights, associative_search
from hyperloom.samples import sample_path


@pytest.fixture
def store(tmp_path: Path, embedder) -> MemoryStore:
    """An empty store that builds structure."""
    with MemoryStore(Config(home=tmp_path / "home", memory="structured"), embedder=embedder) as s:
        yield s


@pytest.fixture
def structured(store: MemoryStore) -> MemoryStore:
    store.ingest(sample_path(), "demo")
    return store


def test_extraction_finds_names_activities_and_dates() -> None:
    found = extract("Yesterday my sister Clara and I went hiking in Berlin. 🎉", "Jonas", "1:56 pm on 8 May, 2023")
    (first, second) = found.sentences
    assert {Entity("Jonas", "person"), Entity("Clara", "person"), Entity("Berlin", "place"), Entity("hiking", "activity")} <= set(first.entities)
    (yesterday,) = first.times
    assert yesterday.label() == "7 May 2023" and first.text[yesterday.start : yesterday.end] == "Yesterday"
    assert second.text == "🎉" and second.entities == (Entity("Jonas", "person"),)


@pytest.mark.parametrize("sentence, absent", [("How's Pixel doing?", "How's Pixel"), ("The Bosch pilot starts.", "The Bosch"), ("Thanks! I'm fine.", "Thanks")])
def test_sentence_openers_are_not_names(sentence: str, absent: str) -> None:
    assert absent not in {e.name for e in entities(sentence)}


def test_every_fact_quotes_its_turn_exactly(structured: MemoryStore) -> None:
    facts = structured.hierarchy.facts("demo")
    assert len(facts) >= structured.log.count("demo")
    for fact in facts:
        sentence = structured.log.text(fact.turn_id, "demo")[fact.start : fact.end]
        assert sentence and sentence in fact.text and fact.text.startswith(f"{fact.speaker}: ")
    assert [f.position for f in facts] == sorted(f.position for f in facts)  # conversation order is kept


def test_text_without_sentences_or_dates_still_becomes_a_turn_and_a_fact(store: MemoryStore) -> None:
    store.remember([Turn("x", "🙂🙂", "Ada"), Turn("y", "...", "Ada", caption="a cat on a sofa")], "ns")
    assert {f.turn_id for f in store.hierarchy.facts("ns")} == {"x", "y"}


def test_a_newer_fact_closes_the_older_one_and_keeps_it(structured: MemoryStore) -> None:
    lisbon, porto = structured.hierarchy.with_attribute("demo", "residence")
    assert (lisbon.value, porto.value) == ("Lisbon", "Porto")
    assert lisbon.superseded_by == porto.id and lisbon.valid_to == porto.valid_from and porto.valid_to is None
    assert structured.search("Where does Maya live now?", 3, "demo")[0].turn_id == "s3:1"
    assert structured.search("Where did Maya live before Porto?", 3, "demo")[0].turn_id == "s1:7"


def test_temporal_facts_carry_resolved_dates(structured: MemoryStore) -> None:
    (fact,) = [f for f in structured.hierarchy.facts("demo") if f.turn_id == "s2:1" and "yesterday" in f.text]
    assert fact.dates == ("13 April 2024",) and "[yesterday = 13 April 2024]" in fact.text


def test_scenes_cover_every_fact_and_persona_links_them(structured: MemoryStore) -> None:
    facts = structured.hierarchy.facts("demo")
    scenes = {s[0]: s for s in structured.hierarchy.scenes("demo")}
    assert all(f.scene in scenes for f in facts)
    for scene_id, summary, first, last in scenes.values():
        members = [f for f in facts if f.scene == scene_id]
        assert all(part in {f.text for f in members} for part in _summary_parts(summary, members))
        assert first <= last
    persona = structured.hierarchy.persona("demo", "Jonas")
    assert set(persona) <= {"basic info", "interests", "personality", "values", "relationships"} and persona
    assert all(score > 0.2 and scene in scenes for links in persona.values() for scene, score in links)


def _summary_parts(summary: str, members) -> list[str]:
    return [f.text for f in members if f.text in summary]


def test_hypergraph_rules(structured: MemoryStore) -> None:
    graph = structured.hypergraph
    with structured.log.transaction():
        a = graph.insert("demo", [Entity("Maya", "person"), Entity("Pixel", "person")], "Maya adopted Pixel.", [1], None, 1)
        b = graph.insert("demo", [Entity("Pixel", "person"), Entity("Tiago", "person")], "Tiago named Pixel.", [2], None, 2)
        with pytest.raises(InputError, match="orphan"):
            graph.update(a, facts=[])
        merged = graph.merge([a, b])
        with pytest.raises(InputError, match="at least two"):
            graph.merge([merged])
    point = graph.point(merged)
    assert set(point.entities) == {"Maya", "Pixel", "Tiago"} and point.facts == (1, 2)
    assert merged in graph.neighbourhood("demo", ["Tiago"], hops=1)
    assert graph.pagerank("demo", ["Tiago"])[merged] > 0


def test_name_prefixes_become_aliases(store: MemoryStore) -> None:
    store.remember([Turn("1", "Hey Mel! How are you?", "Caroline"), Turn("2", "Great, thanks Caroline!", "Melanie")], "ns")
    store.consolidate("ns")
    assert store.hypergraph.aliases("ns")["mel"] == "Melanie"
    assert "Mel" not in store.hypergraph.entity_names("ns")


def test_forgetting_a_session_leaves_no_trace_anywhere(structured: MemoryStore) -> None:
    word = "Serralves"  # said only in session s4
    structured.forget("demo", session="s4")
    assert word not in str(structured.hierarchy.facts("demo"))
    assert word not in str(structured.hierarchy.scenes("demo"))
    assert word not in str(structured.hypergraph.points("demo")) and word not in structured.hypergraph.entity_names("demo")
    for level in ("turns", "facts", "scenes"):
        assert not structured.bm25("demo", level).scores(word)
    assert all(word not in h.text for h in structured.search(word, 40, "demo"))
    structured.save()
    for path in structured.config.home.rglob("*"):
        if path.is_file():
            assert word.encode() not in path.read_bytes(), path


def test_forgetting_an_entity_forgets_what_was_said_about_it(structured: MemoryStore) -> None:
    forgotten = structured.forget("demo", entity="Clara")
    assert forgotten == 4
    assert not [t for t in structured.log.turns("demo") if "Clara" in t.text]
    with pytest.raises(InputError, match="No entity called"):
        structured.forget("demo", entity="Nobody")


def test_structure_stays_inside_its_namespace(structured: MemoryStore) -> None:
    structured.remember([Turn("o1", "Pixel is my goldfish in Madrid.", "Olga")], "other")
    assert {f.turn_id for f in structured.hierarchy.facts("other")} == {"o1"}
    assert "Madrid" not in structured.hypergraph.entity_names("demo")
    assert all(h.turn_id != "o1" for h in structured.search("Pixel goldfish Madrid", 40, "demo"))


def test_flat_memory_builds_no_structure_until_asked(tmp_path: Path, embedder) -> None:
    with MemoryStore(Config(home=tmp_path / "h", memory="flat"), embedder=embedder) as flat:
        flat.ingest(sample_path(), "demo")
        assert flat.hierarchy.facts("demo") == []
    with MemoryStore(Config(home=tmp_path / "h", memory="structured"), embedder=embedder) as structured:
        assert structured.search("Where does Maya live now?", 1, "demo")[0].turn_id == "s3:1"
        assert "rebuilt it from the turn log" in structured.notices[0]


def test_facts_without_vectors_after_a_crash_are_rebuilt(tmp_path: Path, embedder) -> None:
    config = Config(home=tmp_path / "h", memory="structured")
    with MemoryStore(config, embedder=embedder) as store:
        store.ingest(sample_path(), "demo")
        store.vectors("demo", "facts").drop()  # "crash": facts committed, their vectors never saved
    with MemoryStore(config, embedder=embedder) as store:
        assert store.search("fig jam", 1, "demo")[0].turn_id == "s3:8"
        assert "index entries out of date" in store.notices[0]
        assert store.vectors("demo", "facts").ids() == {f.id for f in store.hierarchy.facts("demo")}


def test_a_lost_structure_table_is_rebuilt_from_the_log(tmp_path: Path, embedder) -> None:
    config = Config(home=tmp_path / "h", memory="structured")
    with MemoryStore(config, embedder=embedder) as store:
        store.ingest(sample_path(), "demo")
    db = sqlite3.connect(config.db_path)
    db.execute("DROP TABLE facts")
    db.commit()
    db.close()
    with MemoryStore(config, embedder=embedder) as store:
        assert store.search("fig jam", 1, "demo")[0].turn_id == "s3:8"
        assert store.notices and "rebuilt it from the turn log" in store.notices[0]
        assert len(store.hierarchy.facts("demo")) >= 32


def test_a_question_naming_a_date_finds_what_was_said_then(store: MemoryStore) -> None:
    store.remember(
        [
            Turn("a", "We went to the lake and swam all afternoon.", "Ada", session="s1", created_at="2023-03-04T10:00:00"),
            Turn("b", "We went to the lake and swam all afternoon.", "Ada", session="s2", created_at="2023-08-19T10:00:00"),
        ],
        "ns",
    )
    assert store.search("What did Ada do at the lake in August 2023?", 2, "ns")[0].turn_id == "b"
    assert store.search("What did Ada do at the lake in March 2023?", 2, "ns")[0].turn_id == "a"


def test_a_reply_inherits_from_the_turn_it_answers_in_its_session(store: MemoryStore) -> None:
    """The answer ("Yep!") shares no words with the question; the turn it replies to does, and passes it a share."""
    store.remember(
        [Turn("f", "I write letters to my third cousin.", "Bo", session="s0"), Turn("q", "Is that your third screenplay, Bo?", "Ada", session="s1"), Turn("r", "Yep! It is about loss and home.", "Bo", session="s1")],
        "ns",
    )
    # "Is that your third screenplay, Bo?" only asks, and opens its session: its own score is discounted, and lifted
    # as the session's first turn, after it passes it on
    plain = replace(Weights(), asking=0.0, opener=0.0)
    alone = {h.turn_id: h.score for h in associative_search(store.view("ns"), "Did Bo write a third screenplay?", 3, weights=replace(plain, neighbours=0))}
    linked = {h.turn_id: h.score for h in associative_search(store.view("ns"), "Did Bo write a third screenplay?", 3, weights=plain)}
    assert linked["r"] == pytest.approx(alone["r"] + Weights().neighbours * alone["q"])
    assert linked["q"] == pytest.approx(alone["q"] + Weights().neighbours * alone["r"])  # both ways, within its session only


def test_turns_are_read_back_by_their_place_in_the_conversation(store: MemoryStore) -> None:
    store.remember([Turn(str(i), f"line {i}", "Ada") for i in range(5)], "ns")
    store.forget("ns", turn="2")
    assert [t.id for t in store.log.at_positions("ns", [1, 2, 3, 9])] == ["1", "3"] and store.log.at_positions("ns", []) == []


def test_a_question_asking_for_a_class_lifts_the_speakers_turns_naming_an_instance(store: MemoryStore) -> None:
    """'Which cities...' shares no word with 'I was in Chicago'; the hypergraph knows Chicago is a place."""
    store.remember(
        [
            Turn("a", "I was in Chicago last week, the food was great.", "Ada", session="s1"),
            Turn("b", "The food at the new bakery was great.", "Ada", session="s2"),
            Turn("c", "I was in Boston for work.", "Bo", session="s3"),
        ],
        "ns",
    )
    question = "Which cities has Ada been to?"
    alone = {h.turn_id: h.score for h in associative_search(store.view("ns"), question, 3, weights=replace(Weights(), kind=0))}
    lifted = {h.turn_id: h.score for h in associative_search(store.view("ns"), question, 3)}
    assert lifted["a"] == pytest.approx(alone["a"] + Weights().kind)
    assert lifted["b"] == pytest.approx(alone["b"]) and lifted["c"] == pytest.approx(alone["c"])  # no place; not Ada's


def test_a_forget_reclusters_incrementally_to_the_scenes_a_full_rebuild_makes(structured: MemoryStore) -> None:
    def scenes() -> set[frozenset[int]]:
        return {frozenset(structured.hierarchy.scene_facts(s[0])) for s in structured.hierarchy.scenes("demo")}

    structured.forget("demo", turn="s2:3")  # re-clusters only the segment of s2
    after = scenes()
    assert after and all(f.scene is not None for f in structured.hierarchy.facts("demo"))
    structured.consolidate("demo")  # no sessions: everything rebuilt
    assert scenes() == after
    assert structured.vectors("demo", "scenes").ids() == {s[0] for s in structured.hierarchy.scenes("demo")}


def test_a_file_of_schema_version_1_loses_its_persona_table(tmp_path) -> None:
    """Version 2 ranks persona links when read: the table that kept them (speaker names included) goes."""
    import sqlite3

    from hyperloom.memory.hierarchy import Hierarchy
    from hyperloom.memory.log import TurnLog

    path = tmp_path / "hyperloom.db"
    Hierarchy(TurnLog(path)).log.close()
    raw = sqlite3.connect(path)
    raw.execute("CREATE TABLE persona (namespace TEXT, speaker TEXT, dimension TEXT, scene INTEGER, score REAL)")
    raw.execute("INSERT INTO persona VALUES ('demo', 'Jonas', 'interests', 1, 0.3)")
    raw.execute("UPDATE schema_version SET version = 1")
    raw.commit()
    raw.close()
    log = TurnLog(path)
    assert log.db.execute("SELECT count(*) FROM sqlite_master WHERE name = 'persona'").fetchone()[0] == 0
    assert log.db.execute("SELECT version FROM schema_version").fetchone()[0] == 2
