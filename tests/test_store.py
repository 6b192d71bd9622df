"""MemoryStore: the log first, derived indexes after; search finds turns with exact spans; namespaces isolate.

The tests on the `store` fixtures run against both stores: SQLite with HNSW files, and PostgreSQL with a Chroma server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hyperloom.config import Config
from hyperloom.errors import InputError
from hyperloom.memory.log import Turn
from hyperloom.memory.store import MemoryStore
from hyperloom.retrieval.search import Filters


@pytest.fixture
def config(tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> Config:
    if backend == "sqlite":
        return Config(home=tmp_path / "home")
    pg_url, chroma_url = request.getfixturevalue("pg_url"), request.getfixturevalue("chroma_url")
    return Config(home=tmp_path / "home", store="postgres", postgres_url=pg_url, chroma_url=chroma_url)


def test_search_returns_the_turn_with_its_verbatim_span(demo_store: MemoryStore) -> None:
    hits = demo_store.search("When did Jonas run his first 10k race?", 3, "demo")
    assert hits[0].turn_id == "s2:1" and hits[0].speaker == "Jonas" and hits[0].time.startswith("2024-04-14")
    span = hits[0].spans[0]
    assert span.text == "I ran my first 10k race yesterday."
    assert demo_store.log.text(span.turn_id, "demo")[span.start : span.end] == span.text


def test_image_captions_and_speakers_are_searchable(store: MemoryStore) -> None:
    store.remember([Turn("1", "Look at this!", "Ada", caption="a golden retriever puppy on a sofa"), Turn("2", "I like trains.", "Bo")], "ns")
    assert store.search("retriever puppy", 1, "ns")[0].turn_id == "1"
    assert store.search("what did Bo say", 1, "ns")[0].turn_id == "2"


def test_namespaces_isolate_search_at_every_index(store: MemoryStore) -> None:
    store.remember([Turn("a1", "The secret word is pomegranate.", "Ada")], "alice")
    store.remember([Turn("b1", "The secret word is pomegranate.", "Bo"), Turn("b2", "Nothing else here.", "Bo")], "bob")
    for ns, ids in (("alice", {"a1"}), ("bob", {"b1", "b2"})):
        assert {h.turn_id for h in store.search("pomegranate secret", 10, ns)} <= ids
        assert set(store.bm25(ns).scores("pomegranate")) <= {t.seq for t in store.log.turns(ns)}
        assert store.vectors(ns).ids() == {t.seq for t in store.log.turns(ns)}


def test_filters_restrict_hits(demo_store: MemoryStore) -> None:
    hits = demo_store.search("cello", 10, "demo", Filters(speaker="Maya"))
    assert hits and all(h.speaker == "Maya" for h in hits)
    hits = demo_store.search("cello", 10, "demo", Filters(since="2024-07-01", until="2024-07-31"))
    assert hits and all(h.time.startswith("2024-07") for h in hits)


def test_reindex_rebuilds_the_same_results(demo_store: MemoryStore) -> None:
    queries = ["fig tree", "Where did Maya move?", "Who is Clara?"]
    before = [[(h.turn_id, round(h.score, 4)) for h in demo_store.search(q, 5, "demo")] for q in queries]
    demo_store.reindex("demo")
    assert [[(h.turn_id, round(h.score, 4)) for h in demo_store.search(q, 5, "demo")] for q in queries] == before


def test_forget_session_removes_it_from_search(demo_store: MemoryStore) -> None:
    assert any(h.session == "s3" for h in demo_store.search("Porto Douro view", 5, "demo"))
    demo_store.forget("demo", session="s3")
    assert all(h.session != "s3" for h in demo_store.search("Porto Douro view", 32, "demo"))
    assert not {t.seq for t in demo_store.log.turns("demo") if t.session == "s3"}


def test_index_catches_up_after_a_crash_before_save(config: Config, embedder) -> None:
    store = MemoryStore(config, embedder=embedder)
    store.remember([Turn("1", "first turn about kayaks", "Ada")], "ns")
    store.save()
    store.remember([Turn("2", "second turn about volcanoes", "Ada")], "ns")
    store.log.close()  # "crash": the index file never saw turn 2
    with MemoryStore(config, embedder=embedder) as again:
        assert again.search("volcanoes", 1, "ns")[0].turn_id == "2"


@pytest.mark.parametrize(
    "content, message",
    [
        (b'{"sessions": [{"turns": [{"speaker": "A", "text": "ok"}, {"speaker": "B"}]}]}', "needs `speaker` and `text`"),
        (b'{"sessions": [{"turns": [{"speaker": "A", "text": "x", "id": "1"}, {"speaker": "A", "text": "y", "id": "1"}]}]}', "already in namespace"),
        (b'{"sessions": [', "not valid JSON"),
        (b'{"sessions": [{"turns": [{"speaker": "A", "text": "caf\xe9"}]}]}', "not valid UTF-8"),
        (json.dumps({"sessions": [{"turns": [{"speaker": "A", "text": "ok"}, {"speaker": "A", "text": "x" * 1_048_576}]}]}).encode(), "over the limit"),
        (json.dumps([{"conversation": {"speaker_a": "A"}}]).encode(), "not in the official format"),
        (b'{"hello": 1}', "neither a LoCoMo file nor a hyperloom conversation"),
    ],
)
def test_a_bad_file_changes_nothing(demo_store: MemoryStore, tmp_path: Path, content: bytes, message: str) -> None:
    before = [(t.id, t.text) for t in demo_store.log.turns("demo")]
    bad = tmp_path / "bad.json"
    bad.write_bytes(content)
    with pytest.raises(InputError, match=message):
        demo_store.ingest(bad, "demo")
    assert [(t.id, t.text) for t in demo_store.log.turns("demo")] == before
    assert demo_store.vectors("demo").ids() == {t.seq for t in demo_store.log.turns("demo")}


def test_chroma_backend_serves_the_same_search(tmp_path: Path, embedder, chroma_url: str) -> None:
    from hyperloom.samples import sample_path

    config = Config(home=tmp_path / "h", vector_backend="chroma", chroma_url=chroma_url)
    with MemoryStore(config, embedder=embedder) as store:
        store.ingest(sample_path(), f"demo-{tmp_path.name}")
        hits = store.search("When did Jonas run his first 10k race?", 3, f"demo-{tmp_path.name}")
    assert hits[0].turn_id == "s2:1"
