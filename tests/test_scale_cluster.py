"""Scenes at scale: clustering memory grows with a segment, not with the conversation; a write re-clusters only
the segments it touched, and gives the scenes and persona links a full consolidation gives."""

from __future__ import annotations

import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from hyperloom.config import Config
from hyperloom.memory import hierarchy as hierarchy_module
from hyperloom.memory.hierarchy import Fact, Hierarchy, cluster_facts, segment_of
from hyperloom.memory.log import Turn, TurnLog
from hyperloom.memory.store import MemoryStore
from hyperloom.samples import sample_path

DIM = 64


def _topics(rng: np.random.Generator, n: int) -> np.ndarray:
    centres = rng.normal(size=(n, DIM))
    return centres / np.linalg.norm(centres, axis=1, keepdims=True)


def _vector(rng: np.random.Generator, centre: np.ndarray) -> np.ndarray:
    """A fact about a topic: cosine about 0.6 with another fact of it, about 0 with other topics."""
    v = centre + rng.normal(scale=0.8 / np.sqrt(DIM), size=DIM)
    return (v / np.linalg.norm(v)).astype(np.float32)


def _conversation(n_turns: int, *, seed: int = 0, per_session: int = 20):
    """(turn position, session, speaker, vector) for a conversation whose sessions drift over a few topics."""
    rng = np.random.default_rng(seed)
    topics = _topics(rng, 40)
    t = np.arange(n_turns)
    session = t // per_session
    topic = (session * 3 + (t // 4) % 3) % len(topics)  # each session talks about three topics, a few turns each
    v = topics[topic] + rng.normal(scale=0.8 / np.sqrt(DIM), size=(n_turns, DIM))
    v = (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)
    return [(int(p), f"s{session[p]}", "Ada" if p % 2 else "Bo", v[p]) for p in t]


def _facts(rows) -> tuple[list[Fact], dict[int, np.ndarray]]:
    facts = [Fact(i + 1, f"t{p}", 0, 1, speaker, f"{speaker}: line {p}", None, (), p * 1000, session, turn_seq=p) for i, (p, session, speaker, _) in enumerate(rows)]
    return facts, {f.id: rows[i][3] for i, f in enumerate(facts)}


def test_clustering_memory_grows_with_a_segment_not_with_the_conversation() -> None:
    facts, vectors = _facts(_conversation(8_000, per_session=40))
    tracemalloc.start()  # (it slows Python's allocations tenfold: hence 8k facts here, 20k in a child process below)
    clusters = cluster_facts(facts, vectors)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert sorted(f.id for c in clusters for f in c) == [f.id for f in facts]
    dense = len(facts) ** 2 * 4  # the float32 similarity matrix of all pairs: 256 MB
    assert peak < 16 * 2**20 < dense / 10, f"peak {peak / 2**20:.0f} MB"
    sessions = {f.id: f.session for f in facts}
    assert all(len({sessions[f.id] for f in c}) <= 5 for c in clusters)  # scenes follow the topic over nearby sessions


CHILD = """
import resource, sys
sys.path.insert(0, sys.argv[1])
from test_scale_cluster import _conversation, _facts
from hyperloom.memory.hierarchy import cluster_facts
facts, vectors = _facts(_conversation(20_000, per_session=40))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
clusters = cluster_facts(facts, vectors)
print(len(clusters), (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)
"""


def test_twenty_thousand_facts_cluster_in_a_few_megabytes() -> None:
    out = subprocess.run([sys.executable, "-c", CHILD, str(Path(__file__).parent)], capture_output=True, text=True, timeout=120, check=True).stdout
    scenes, grown_mb = out.split()
    assert int(scenes) > 500 and float(grown_mb) < 100  # all pairs would be 20,000^2 float32: 1.6 GB


def test_one_conversation_shorter_than_a_segment_is_one_graph() -> None:
    facts, vectors = _facts(_conversation(600))
    assert {segment_of(0, f.position) for f in facts} == {0}
    together = cluster_facts(facts, vectors)
    assert len(together) > 10 and max(len(c) for c in together) <= hierarchy_module.MAX_SCENE_FACTS


# -- incremental consolidation against a full one, on the hierarchy's own tables ------------------------------


@pytest.fixture
def small_segments(monkeypatch: pytest.MonkeyPatch) -> None:
    """Segments of 60 turns and blocks of 30, so a few hundred turns make many segments (the rules are the same)."""
    monkeypatch.setattr(hierarchy_module, "_SEGMENT", 60 * 1000)
    monkeypatch.setattr(hierarchy_module, "_BLOCK", 30 * 1000)


class Facts:
    """A hierarchy over a real log file, with facts written straight into its table and vectors kept here."""

    def __init__(self, path: Path, seed: int = 1):
        self.hierarchy = Hierarchy(TurnLog(path))
        self.vectors: dict[int, np.ndarray] = {}
        self.turn: dict[int, int] = {}  # fact id -> its turn's position
        self.rng = np.random.default_rng(seed)
        self.topics = _topics(self.rng, 12)
        self.dimensions = {f"dim{k}": self.topics[k] for k in range(5)}  # some scenes fit a dimension, most do not

    def add(self, position: int, session: str, speaker: str = "Ada", sentences: int = 2) -> None:
        db = self.hierarchy.log.db
        for k in range(sentences):
            cur = db.execute(
                "INSERT INTO facts(namespace, turn_seq, turn_id, start, end, speaker, text, time, dates, position, session) VALUES ('ns', ?, ?, 0, 1, ?, ?, ?, '[]', ?, ?)",
                (position, f"t{position}", speaker, f"{speaker}: line {position}.{k}", f"2024-01-{1 + position % 28:02d}", position * 1000 + k, session),
            )
            self.turn[cur.lastrowid] = position
            self.vectors[cur.lastrowid] = _vector(self.rng, self.topics[(position // 7 + k) % len(self.topics)])

    def consolidate(self, **kw):
        with self.hierarchy.log.transaction():
            return self.hierarchy.consolidate("ns", self.vectors, self.dimensions, **kw)

    def forget(self, position: int) -> None:
        with self.hierarchy.log.transaction():
            for fid in self.hierarchy.forget_turns("ns", [position]):
                del self.vectors[fid]

    def scenes(self) -> dict[frozenset[int], int]:
        """Each scene as the set of its facts -> its id."""
        return {frozenset(self.hierarchy.scene_facts(s[0])): s[0] for s in self.hierarchy.scenes("ns")}

    def links(self) -> set:
        """Persona links and reflections, with scenes named by their facts (ids differ between runs)."""
        members = {s: m for m, s in self.scenes().items()}
        db = self.hierarchy.log.db
        speakers = [r[0] for r in db.execute("SELECT DISTINCT speaker FROM scene_speakers")]
        persona = {(sp, d, members[s], round(v, 6)) for sp in speakers for d, links in self.hierarchy.persona("ns", sp).items() for s, v in links}
        notes = {(sp, members[s], note) for s, sp, note in db.execute("SELECT scene, speaker, note FROM reflections")}
        return persona | notes


def _fill(facts: Facts, turns: int, per_session: int = 12) -> None:
    for p in range(turns):
        facts.add(p, f"s{p // per_session}", "Ada" if p % 3 else "Bo")


def _same_as_a_full_rebuild(facts: Facts) -> None:
    scenes, links = facts.scenes(), facts.links()
    facts.consolidate()  # full, on the same facts
    assert set(facts.scenes()) == set(scenes)
    assert facts.links() == links


def test_new_turns_recluster_only_their_segment_and_match_a_full_rebuild(tmp_path: Path, small_segments) -> None:
    facts = Facts(tmp_path / "a.db")
    _fill(facts, 400)
    full = facts.consolidate()
    assert full.full and len(full.segments) == 7
    before = facts.scenes()
    for p in range(400, 410):  # ten more turns: the end of the last session and a new one
        facts.add(p, f"s{p // 12}", "Bo")
    done = facts.consolidate(sessions={"s33", "s34"})
    assert not done.full and done.segments == [6]
    after = facts.scenes()
    untouched = {m: s for m, s in before.items() if all(facts.turn[f] < 360 for f in m)}  # segments 0..5
    assert untouched and all(after.get(m) == s for m, s in untouched.items())  # same facts, same scene id
    last = set(before.values()) - set(untouched.values())  # segment 6: re-clustered; a scene with the same facts stays
    assert set(done.removed) <= last and len(done.removed) + done.kept == len(last)
    assert {s for m, s in after.items() if s in last} == last - set(done.removed)
    _same_as_a_full_rebuild(facts)


def test_forgetting_a_turn_reclusters_only_its_segment(tmp_path: Path, small_segments) -> None:
    facts = Facts(tmp_path / "b.db")
    _fill(facts, 400)
    facts.consolidate()
    before = facts.scenes()
    facts.forget(125)  # segment 2 (turns 120..179)
    done = facts.consolidate(sessions=())  # nothing named: forget_turns marked the segment
    assert done.segments == [2]
    outside = {m: s for m, s in before.items() if not any(120 <= facts.turn[f] < 180 for f in m)}
    after = facts.scenes()
    assert outside and all(after.get(m) == s for m, s in outside.items())
    assert not any(facts.turn[f] == 125 for m in after for f in m)
    _same_as_a_full_rebuild(facts)


def test_forgetting_a_sessions_first_turn_moves_it_and_both_segments_follow(tmp_path: Path, small_segments) -> None:
    facts = Facts(tmp_path / "c.db")
    _fill(facts, 300, per_session=10)  # session s11 = turns 110..119, in segment 1 (60..119)
    facts.consolidate()
    for p in range(110, 115):  # its first half goes: it now starts at 115, still segment 1
        facts.forget(p)
    facts.consolidate(sessions={"s11"})
    _same_as_a_full_rebuild(facts)
    facts.add(121, "s11")  # a late turn of s11 ...
    facts.consolidate(sessions={"s11"})
    for p in range(115, 120):  # ... becomes its first: s11 moves to segment 2
        facts.forget(p)
    done = facts.consolidate(sessions=())
    assert done.segments == [1, 2]
    _same_as_a_full_rebuild(facts)


def test_a_whole_session_forgotten_joins_its_neighbours(tmp_path: Path, small_segments) -> None:
    facts = Facts(tmp_path / "d.db")
    _fill(facts, 200)
    facts.consolidate()
    for p in range(72, 84):  # session s6, all of it
        facts.forget(p)
    done = facts.consolidate(sessions={"s6"})
    assert done.segments == [1]
    _same_as_a_full_rebuild(facts)


def test_a_long_session_is_clustered_in_blocks(tmp_path: Path, small_segments) -> None:
    facts = Facts(tmp_path / "e.db")
    for p in range(150):
        facts.add(p, "chat")  # one session of 150 turns: blocks of 30, segments of 60
    facts.consolidate()
    assert {facts.hierarchy.log.db.execute("SELECT segment FROM scenes WHERE id = ?", (s,)).fetchone()[0] for s in facts.scenes().values()} == {0, 1, 2}
    facts.add(150, "chat")
    done = facts.consolidate(sessions={"chat"})
    assert done.segments == [0, 1, 2]  # the session names every segment it spans
    _same_as_a_full_rebuild(facts)


def test_scenes_from_before_segments_get_a_full_rebuild(tmp_path: Path) -> None:
    facts = Facts(tmp_path / "f.db")
    _fill(facts, 50)
    facts.consolidate()
    facts.hierarchy.log.db.execute("UPDATE scenes SET segment = NULL")
    assert facts.consolidate(sessions=()).full


# -- through the store: scene indexes follow the scenes -------------------------------------------------------


def test_store_consolidation_by_sessions_keeps_scene_indexes_aligned(tmp_path: Path, embedder) -> None:
    with MemoryStore(Config(home=tmp_path / "home", memory="structured"), embedder=embedder) as store:
        store.ingest(sample_path(), "demo")
        scenes = {s[0] for s in store.hierarchy.scenes("demo")}
        store.consolidate("demo", sessions=())  # nothing changed: nothing re-clustered
        assert {s[0] for s in store.hierarchy.scenes("demo")} == scenes
        store.remember([Turn("n1", "I started learning the cello in Porto last week.", "Maya", session="s9"), Turn("n2", "The cello suits you!", "Jonas", session="s9")], "demo")
        store.consolidate("demo", sessions={"s9"})
        table = {s[0] for s in store.hierarchy.scenes("demo")}
        assert store.vectors("demo", "scenes").ids() == table  # the sample is one segment: re-clustered whole
        assert all(f.scene in table for f in store.hierarchy.facts("demo"))
        assert "cello" in " ".join(text for text in (s[1] for s in store.hierarchy.scenes("demo")))
        store.vectors("demo", "scenes").delete(sorted(table)[:2])  # an index a crash left behind the table
        store.consolidate("demo", sessions=())
        assert store.vectors("demo", "scenes").ids() == {s[0] for s in store.hierarchy.scenes("demo")}
        assert store.bm25("demo", "scenes").scores("cello")
