"""The fact / scene / persona hierarchy (after Bi-Mem), built without an LLM.

L1 facts are sentences of turns with the speaker and resolved dates made explicit,
each tied to its exact source span. L2 scenes are clusters of facts (label
propagation over a graph of similar and neighbouring facts) with an extractive
summary. L3 persona links each speaker's dimensions to the scenes that support
them, ranked when asked for from each scene's scores; reflection records scenes
that fit no dimension of their speakers, when the scene is made.

Scenes are clustered per *segment*: the sessions that start within one span of
SCENE_SEGMENT_TURNS turn positions (a longer session counts as blocks of
SCENE_BLOCK_TURNS turns). Similar facts are linked only within a session or
between adjacent sessions, so a segment needs small similarity blocks, never a
facts x facts matrix, and a write re-clusters only the segments it touched:
the result is the same as a full rebuild, which clusters every segment the
same way. A conversation shorter than a segment is clustered exactly as one
graph.
"""

from __future__ import annotations

import json
import random
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from hyperloom.memory.extract import Sentence
from hyperloom.memory.log import Turn, TurnLog

SCHEMA = """
CREATE TABLE IF NOT EXISTS facts (
    id INTEGER PRIMARY KEY AUTOINCREMENT, namespace TEXT NOT NULL, turn_seq INTEGER NOT NULL, turn_id TEXT NOT NULL,
    start INTEGER NOT NULL, "end" INTEGER NOT NULL, speaker TEXT NOT NULL, text TEXT NOT NULL, time TEXT,
    dates TEXT NOT NULL DEFAULT '[]', position INTEGER NOT NULL, session TEXT NOT NULL,
    attribute TEXT, value TEXT, valid_from TEXT, valid_to TEXT, superseded_by INTEGER, scene INTEGER
);
CREATE INDEX IF NOT EXISTS facts_by_turn ON facts(turn_seq);
CREATE INDEX IF NOT EXISTS facts_by_ns ON facts(namespace, position);
CREATE INDEX IF NOT EXISTS facts_by_attribute ON facts(namespace, speaker, attribute);
CREATE INDEX IF NOT EXISTS facts_by_attribute_only ON facts(namespace, attribute, position);
CREATE INDEX IF NOT EXISTS facts_by_session ON facts(namespace, session, position);
CREATE INDEX IF NOT EXISTS facts_by_scene ON facts(scene);
CREATE TABLE IF NOT EXISTS scenes (
    id INTEGER PRIMARY KEY AUTOINCREMENT, namespace TEXT NOT NULL, summary TEXT NOT NULL,
    time_first TEXT, time_last TEXT, position INTEGER NOT NULL, segment INTEGER
);
-- persona links are ranked from scene_speakers when asked for (`persona`; the table they were kept in goes in
-- schema version 2): kept, every write that touched a scene re-ranked each speaker's scenes, 0.44 s of a forget
-- at 20k turns and growing with them
CREATE TABLE IF NOT EXISTS reflections (namespace TEXT NOT NULL, scene INTEGER NOT NULL, speaker TEXT NOT NULL, note TEXT NOT NULL);
-- each speaker's side of each scene, scored against every persona dimension
CREATE TABLE IF NOT EXISTS scene_speakers (
    namespace TEXT NOT NULL, scene INTEGER NOT NULL, speaker TEXT NOT NULL, scores TEXT NOT NULL,
    PRIMARY KEY (scene, speaker)
);
CREATE INDEX IF NOT EXISTS scene_speakers_by_speaker ON scene_speakers(namespace, speaker);
-- scenes that lost facts (forget_turns): the next consolidation clusters their segments again
CREATE TABLE IF NOT EXISTS stale_scenes (namespace TEXT NOT NULL, scene INTEGER PRIMARY KEY);
CREATE INDEX IF NOT EXISTS scenes_by_segment ON scenes(namespace, segment);
"""

# Bi-Mem's persona dimensions, each described by the words a person would use about it.
DIMENSIONS = {
    "basic info": "who they are: name, age, gender identity, where they live, where they are from, their job and studies",
    "interests": "hobbies, interests and activities they enjoy: painting, hiking, music, sports, reading, cooking, travel",
    "personality": "personality and feelings: how they feel, what they are like, emotions, character, mood",
    "values": "values and beliefs: what matters to them, causes they support, faith, goals, dreams, principles",
    "relationships": "relationships: family, children, partner, friends, pets, mentors and the people in their life",
}
PERSONA_MIN_COSINE = 0.2  # Bi-Mem keeps a dimension-scene link only above this cosine
REFLECTION_MIN_COSINE = 0.15
SCENE_EDGE_COSINE = 0.5
MAX_SCENE_FACTS = 40
SCENE_SEGMENT_TURNS = 1000  # sessions starting within this many turn positions are clustered together
SCENE_BLOCK_TURNS = 200  # a longer session is clustered as consecutive blocks of this many turns, each like a session
LPA_MAX_SWEEPS = 100  # label propagation stops here if it has not settled (it settles in a few sweeps)
_SEGMENT = SCENE_SEGMENT_TURNS * 1000  # fact positions are turn position * 1000 + sentence index
_BLOCK = SCENE_BLOCK_TURNS * 1000
_BAND = 512  # facts per similarity product while clustering (a band of blocks against itself and the next block)

# First-person statements of a changing attribute: a newer one closes the older (valid_to).
# What a question asks about, when it asks about one of those attributes.
ATTRIBUTE_QUESTIONS = {
    "residence": re.compile(r"\b(live|lives|living|reside|resides|based|home town|moved)\b", re.IGNORECASE),
    "workplace": re.compile(r"\b(work|works|working|employer|company)\b", re.IGNORECASE),
    "job": re.compile(r"\b(job|occupation|profession|career|work as)\b", re.IGNORECASE),
    "relationship": re.compile(r"\b(single|married|dating|relationship|partner)\b", re.IGNORECASE),
}
ATTRIBUTES = {
    "residence": re.compile(r"\bI(?:'ve| have)? (?:just |recently |finally )?(?:live|living|moved|relocated|moving)(?: back)? (?:in|to) (?P<value>[A-Z][\w'’-]*(?: [A-Z][\w'’-]*)*)"),
    "workplace": re.compile(r"\bI(?:'ve| have)? (?:just |recently )?(?:work|working|started working|joined) (?:at|for) (?P<value>[A-Z][\w'’&-]*(?: [A-Z][\w'’&-]*)*)"),
    "job": re.compile(r"\bI(?:'m| am) (?:now |currently )?(?:working as |employed as )(?:an? )?(?P<value>[a-z][a-z -]{2,40}?)(?=[.,!?]|$| at | in )"),
    "relationship": re.compile(r"\bI(?:'m| am) (?:now )?(?P<value>single|married|engaged|divorced|dating [A-Z]\w+)"),
}


@dataclass(frozen=True, slots=True)
class Fact:
    id: int
    turn_id: str
    start: int
    end: int
    speaker: str
    text: str
    time: str | None
    dates: tuple[str, ...]
    position: int
    session: str
    attribute: str | None = None
    value: str | None = None
    valid_from: str | None = None
    valid_to: str | None = None
    superseded_by: int | None = None
    scene: int | None = None
    turn_seq: int = -1


@dataclass(frozen=True, slots=True)
class FactRef:
    """What ranking needs of a fact: its turn, whether a newer fact replaced it, whether it resolves a date."""

    turn_seq: int
    superseded_by: int | None
    dated: bool


def fact_text(turn: Turn, sentence: Sentence) -> str:
    """The sentence with who said it and what its relative dates resolve to (the turn's own time is `Fact.time`)."""
    dates = "; ".join(f"{m.text} = {m.label()}" for m in sentence.times)
    return f"{turn.speaker}: {sentence.text}" + (f" [{dates}]" if dates else "")


def attribute_of(sentence: str) -> tuple[str, str] | None:
    for name, pattern in ATTRIBUTES.items():
        if match := pattern.search(sentence):
            return name, match.group("value").strip()
    return None


@dataclass
class Consolidation:
    """What one consolidation changed: the scenes it made (with centroid vectors) and the ones it removed."""

    centroids: dict[int, np.ndarray] = field(default_factory=dict)  # new scene id -> unit centroid
    removed: list[int] = field(default_factory=list)  # scene ids that no longer exist
    scene_of: dict[int, int] = field(default_factory=dict)  # fact id -> new scene, for every re-clustered fact
    segments: list[int] = field(default_factory=list)  # the segments clustered
    kept: int = 0  # re-clustered scenes that came out with the same facts (and keep their ids)
    full: bool = True


Vectors = Mapping[int, np.ndarray] | Callable[[Sequence[int]], Mapping[int, np.ndarray]]


class Hierarchy:
    def __init__(self, log: TurnLog):
        self.log = log
        self.log.db.executescript(SCHEMA)  # a file from before segments got its column when the log migrated it (db.py)

    # -- L1: facts (inside the caller's transaction) -------------------------------

    def add_facts(self, namespace: str, turn: Turn, sentences: Sequence[Sentence]) -> list[Fact]:
        """One fact per sentence; a changing attribute closes the speaker's previous value of it."""
        facts = []
        for k, s in enumerate(sentences):
            attribute = attribute_of(s.text)
            dates = tuple(m.label() for m in s.times)
            row = (namespace, turn.seq, turn.id, s.start, s.end, turn.speaker, fact_text(turn, s), turn.created_at, json.dumps(dates), turn.position * 1000 + k, turn.session)
            fact_id = self.log.db.insert(
                'INSERT INTO facts(namespace, turn_seq, turn_id, start, "end", speaker, text, time, dates, position, session, attribute, value, valid_from) '
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*row, *(attribute or (None, None)), turn.created_at),
            )
            if attribute:
                self._supersede(namespace, turn.speaker, attribute[0], fact_id, turn.created_at)
            facts.append(self.fact(fact_id))
        return facts

    def _supersede(self, namespace: str, speaker: str, attribute: str, newer: int, when: str | None) -> None:
        self.log.db.execute(
            "UPDATE facts SET valid_to = ?, superseded_by = ? WHERE namespace = ? AND speaker = ? AND attribute = ? AND id != ? AND superseded_by IS NULL",
            (when, newer, namespace, speaker, attribute, newer),
        )

    def spoken_by(self, namespace: str, speaker: str) -> list[tuple[int, int]]:
        """(fact id, turn seq) of everything one speaker said."""
        with self.log.lock:
            return self.log.db.execute("SELECT id, turn_seq FROM facts WHERE namespace = ? AND speaker = ? ORDER BY position", (namespace, speaker)).fetchall()

    def session_starts(self, namespace: str, sessions: Iterable[str]) -> dict[str, int]:
        """The position of each session's first turn with facts (a fact's position is its turn's times 1,000 plus its
        sentence): the agent's own questions and answers hold no facts, so a session opens with what a person said."""
        sessions = sorted(set(sessions))
        out: dict[str, int] = {}
        with self.log.lock:
            for chunk in _chunks(sessions):
                rows = self.log.db.execute(
                    f"SELECT session, min(position) FROM facts WHERE namespace = ? AND session IN ({','.join('?' * len(chunk))}) GROUP BY session", (namespace, *chunk)
                ).fetchall()
                out.update((session, first // 1000) for session, first in rows)
        return out

    def with_attribute(self, namespace: str, attribute: str, speaker: str | None = None) -> list[Fact]:
        """Facts stating an attribute (residence, workplace), of one speaker if given: a search asks about one
        person's, and all of them at 100k turns were 386 rows (7 ms) where that person's are 24 (0.6 ms)."""
        where, args = ("speaker = ? AND ", [speaker]) if speaker is not None else ("", [])
        with self.log.lock:
            rows = self.log.db.execute(f"SELECT {_FACT_COLUMNS} FROM facts WHERE namespace = ? AND {where}attribute = ? ORDER BY position", [namespace, *args, attribute]).fetchall()
        return [_fact(r) for r in rows]

    def fact(self, fact_id: int) -> Fact:
        return self.facts_by_id([fact_id])[fact_id]

    def facts_by_id(self, ids: Sequence[int], namespace: str | None = None) -> dict[int, Fact]:
        """Facts by id; given a namespace, only that namespace's (another's id is simply not found)."""
        out = {}
        # `namespace || ''`: SQLite then looks the ids up by key; on (namespace, position) it read every fact
        # of the namespace (25 ms against 2 ms for 500 ids at 20k turns).
        where, scope = ("namespace || '' = ? AND ", [namespace]) if namespace is not None else ("", [])
        with self.log.lock:
            for chunk in _chunks(list(ids)):
                rows = self.log.db.execute(f"SELECT {_FACT_COLUMNS} FROM facts WHERE {where}id IN ({','.join('?' * len(chunk))})", [*scope, *chunk]).fetchall()
                out.update((r[0], _fact(r)) for r in rows)
        return out

    def fact_refs(self, ids: Sequence[int], namespace: str) -> dict[int, FactRef]:
        """`FactRef`s of this namespace's facts among `ids`: a search ranks 800 candidate facts, and whole
        facts (text, dates decoded) were a third of its time at 20k turns."""
        out = {}
        with self.log.lock:
            for chunk in _chunks(list(ids)):
                rows = self.log.db.execute(
                    f"SELECT id, turn_seq, superseded_by, dates <> '[]' FROM facts WHERE namespace || '' = ? AND id IN ({','.join('?' * len(chunk))})",
                    [namespace, *chunk],
                ).fetchall()
                out.update((r[0], FactRef(r[1], r[2], bool(r[3]))) for r in rows)
        return out

    def facts_of_turns(self, namespace: str, seqs: Sequence[int], speakers: Sequence[str]) -> dict[int, int]:
        """fact id -> turn seq of the facts of these turns that these speakers said."""
        out: dict[int, int] = {}
        seqs, speakers = list(seqs), list(speakers)
        if not seqs or not speakers:
            return out
        with self.log.lock:
            for chunk in _chunks(seqs):
                rows = self.log.db.execute(
                    f"SELECT id, turn_seq FROM facts WHERE namespace || '' = ? AND speaker || '' IN ({','.join('?' * len(speakers))}) AND turn_seq IN ({','.join('?' * len(chunk))})",
                    [namespace, *speakers, *chunk],
                )
                out.update(rows.fetchall())
        return out

    def turns_with_facts(self, namespace: str) -> set[int]:
        with self.log.lock:
            return {r[0] for r in self.log.db.execute("SELECT DISTINCT turn_seq FROM facts WHERE namespace = ?", (namespace,))}

    def fact_ids(self, namespace: str) -> list[int]:
        with self.log.lock:
            return [r[0] for r in self.log.db.execute("SELECT id FROM facts WHERE namespace = ? ORDER BY position", (namespace,))]

    def facts(self, namespace: str) -> list[Fact]:
        with self.log.lock:
            rows = self.log.db.execute(f"SELECT {_FACT_COLUMNS} FROM facts WHERE namespace = ? ORDER BY position", (namespace,)).fetchall()
        return [_fact(r) for r in rows]

    def forget_turns(self, namespace: str, seqs: Sequence[int]) -> list[int]:
        """Delete the facts of these turns; returns their ids (for the hypergraph and the indexes)."""
        db, ids = self.log.db, []
        for chunk in (list(seqs)[i : i + 500] for i in range(0, len(seqs), 500)):
            marks = ",".join("?" * len(chunk))
            ids += [r[0] for r in db.execute(f"SELECT id FROM facts WHERE turn_seq IN ({marks})", chunk)]
            # The scenes these facts leave must be clustered again (consolidate reads this).
            db.execute(f"INSERT INTO stale_scenes(namespace, scene) SELECT DISTINCT namespace, scene FROM facts WHERE turn_seq IN ({marks}) AND scene IS NOT NULL ON CONFLICT DO NOTHING", chunk)
            db.execute(f"DELETE FROM facts WHERE turn_seq IN ({marks})", chunk)
        for chunk in (ids[i : i + 500] for i in range(0, len(ids), 500)):
            db.execute(f"UPDATE facts SET valid_to = NULL, superseded_by = NULL WHERE namespace = ? AND superseded_by IN ({','.join('?' * len(chunk))})", (namespace, *chunk))
        return ids

    def forget_namespace(self, namespace: str) -> None:
        for table in ("facts", "scenes", "reflections", "scene_speakers", "stale_scenes"):
            self.log.db.execute(f"DELETE FROM {table} WHERE namespace = ?", (namespace,))

    # -- L2 and L3: consolidation (inside the caller's transaction) ------------------

    def consolidate(self, namespace: str, vectors: Vectors, dimension_vectors: dict[str, np.ndarray], *, sessions: Iterable[str] | None = None) -> Consolidation:
        """Scenes, their speakers' sides and reflections from the facts.

        `vectors` maps fact ids to vectors, or is a function giving that map for a list of ids
        (facts it has no vector for are left out, as they always were). `sessions=None` rebuilds
        every scene of the namespace. Otherwise only the segments holding these sessions, or that
        are known to have changed (facts not yet in a scene, scenes that lost facts to
        `forget_turns`), are clustered again; every other scene keeps its id. Both give the
        scenes a full rebuild gives; a re-clustered scene with exactly the facts it had keeps its id too.
        """
        fetch = _vector_source(vectors)
        db = self.log.db
        firsts = self._session_starts(namespace)
        legacy = db.execute("SELECT 1 FROM scenes WHERE namespace = ? AND segment IS NULL LIMIT 1", (namespace,)).fetchone()
        result = Consolidation(full=sessions is None or legacy is not None)
        if result.full:
            result.removed = [r[0] for r in db.execute("SELECT id FROM scenes WHERE namespace = ?", (namespace,))]
            for table in ("scenes", "reflections", "scene_speakers", "stale_scenes"):
                db.execute(f"DELETE FROM {table} WHERE namespace = ?", (namespace,))
            db.execute("UPDATE facts SET scene = NULL WHERE namespace = ? AND scene IS NOT NULL", (namespace,))
            bounds = db.execute("SELECT min(position), max(position) FROM facts WHERE namespace = ?", (namespace,)).fetchone()
            todo = set(range(bounds[0] // _SEGMENT, bounds[1] // _SEGMENT + 1)) if bounds[0] is not None else set()
        else:
            todo = self._stale_segments(namespace, set(sessions or ()), firsts)
        done: set[int] = set()
        while todo:
            held = {} if result.full else self._held_scenes(namespace, todo, result)
            for segment in sorted(todo):
                self._cluster_segment(namespace, segment, firsts, fetch, dimension_vectors, result, held)
            self._drop_scenes(namespace, list(held.values()), result)  # the old scenes no cluster repeated
            done |= todo
            # Facts whose scene was dropped but that now belong to another segment (their session's first turn went).
            todo = self._segments_of_unplaced(namespace, firsts) - done
        db.execute("DELETE FROM stale_scenes WHERE namespace = ?", (namespace,))
        result.segments = sorted(done)
        return result

    def scene_centroids(self, namespace: str, scenes: Sequence[int], vectors: Vectors) -> dict[int, np.ndarray]:
        """Unit centroids of these scenes' facts (what the scene index holds), e.g. to repair that index."""
        fetch, members = _vector_source(vectors), defaultdict(list)
        with self.log.lock:
            for part in _chunks(list(scenes)):
                for scene, fact in self.log.db.execute(f"SELECT scene, id FROM facts WHERE scene IN ({','.join('?' * len(part))}) ORDER BY position", part):
                    members[scene].append(fact)
        found = fetch([f for ids in members.values() for f in ids]) if members else {}
        out = {}
        for scene, ids in members.items():
            own = [found[i] for i in ids if i in found]
            if own:
                out[scene] = _unit(np.stack(own).mean(axis=0))
        return out

    def _session_starts(self, namespace: str) -> dict[str, int]:
        """The first fact position of every session (what places a session in its segment)."""
        return dict(self.log.db.execute("SELECT session, min(position) FROM facts WHERE namespace = ? GROUP BY session", (namespace,)).fetchall())

    def _stale_segments(self, namespace: str, sessions: set[str], firsts: dict[str, int]) -> set[int]:
        db, out = self.log.db, set()
        for chunk in _chunks(sorted(sessions)):
            marks = ",".join("?" * len(chunk))
            rows = db.execute(f"SELECT session, position FROM facts WHERE namespace = ? AND session IN ({marks})", (namespace, *chunk))
            out |= {segment_of(firsts[s], p) for s, p in rows}
            out |= {r[0] for r in db.execute(f"SELECT DISTINCT s.segment FROM facts f JOIN scenes s ON s.id = f.scene WHERE f.namespace = ? AND f.session IN ({marks})", (namespace, *chunk))}
        out |= {r[0] for r in db.execute("SELECT s.segment FROM stale_scenes x JOIN scenes s ON s.id = x.scene WHERE x.namespace = ?", (namespace,))}
        orphans = "SELECT DISTINCT segment FROM scenes s WHERE namespace = ? AND NOT EXISTS (SELECT 1 FROM facts f WHERE f.scene = s.id)"
        out |= {r[0] for r in db.execute(orphans, (namespace,))}
        return out | self._segments_of_unplaced(namespace, firsts)

    def _segments_of_unplaced(self, namespace: str, firsts: dict[str, int]) -> set[int]:
        """Segments of facts in no scene: new facts, and facts a dropped scene left behind."""
        rows = self.log.db.execute("SELECT session, position FROM facts WHERE scene IS NULL AND namespace = ?", (namespace,))
        return {segment_of(firsts[s], p) for s, p in rows}

    def _held_scenes(self, namespace: str, segments: set[int], result: Consolidation) -> dict[tuple[int, frozenset[int]], int]:
        """(segment, fact ids) -> id of the scenes these segments have now that may be kept if clustered again;
        scenes that lost facts (their summary and scores would be out of date) go at once."""
        db, members = self.log.db, defaultdict(set)
        ids = {}
        for chunk in _chunks(sorted(segments)):
            ids.update(db.execute(f"SELECT id, segment FROM scenes WHERE namespace = ? AND segment IN ({','.join('?' * len(chunk))})", (namespace, *chunk)).fetchall())
        stale = {r[0] for r in db.execute("SELECT scene FROM stale_scenes WHERE namespace = ?", (namespace,))}
        for part in _chunks(list(ids)):
            for scene, fact in db.execute(f"SELECT scene, id FROM facts WHERE scene IN ({','.join('?' * len(part))})", part):
                members[scene].add(fact)
        self._drop_scenes(namespace, [i for i in ids if i not in members or i in stale], result)
        return {(ids[i], frozenset(m)): i for i, m in members.items() if i not in stale}

    def _drop_scenes(self, namespace: str, ids: list[int], result: Consolidation) -> None:
        """Delete these scenes with their speakers' sides and reflections; their remaining facts wait for a scene."""
        db = self.log.db
        for part in _chunks(ids):
            marks = ",".join("?" * len(part))
            db.execute(f"UPDATE facts SET scene = NULL WHERE scene IN ({marks})", part)
            for table, column in (("scene_speakers", "scene"), ("reflections", "scene"), ("scenes", "id")):
                db.execute(f"DELETE FROM {table} WHERE namespace = ? AND {column} IN ({marks})", (namespace, *part))
        result.removed += ids

    def _cluster_segment(self, namespace: str, segment: int, firsts: dict[str, int], fetch, dimensions: dict[str, np.ndarray], result: Consolidation, held: dict) -> None:
        """Cluster one segment's facts into scenes and write the new ones (`held`: scenes kept if repeated,
        taken out of it when they are)."""
        with self.log.lock:
            rows = self.log.db.execute(
                f"SELECT {_FACT_COLUMNS} FROM facts WHERE namespace = ? AND position >= ? AND position < ? ORDER BY position",
                (namespace, segment * _SEGMENT, (segment + 1) * _SEGMENT + _BLOCK),  # a segment's blocks start inside it
            ).fetchall()
        facts = [f for f in map(_fact, rows) if segment_of(firsts[f.session], f.position) == segment]
        vectors = fetch([f.id for f in facts]) if facts else {}
        facts = [f for f in facts if f.id in vectors]
        for members in _segment_clusters(facts, vectors, firsts):
            if held.pop((segment, frozenset(f.id for f in members)), None) is not None:
                result.kept += 1  # the same facts as before: the same scene, summary and scores
                continue
            scene, centroid = self._write_scene(namespace, members, vectors, segment, dimensions)
            result.centroids[scene] = centroid
            result.scene_of.update((f.id, scene) for f in members)

    def _write_scene(self, namespace: str, members: list[Fact], vectors: Mapping[int, np.ndarray], segment: int, dimensions: dict[str, np.ndarray]) -> tuple[int, np.ndarray]:
        matrix = np.stack([vectors[f.id] for f in members])
        centroid = matrix.mean(axis=0)
        centroid /= max(float(np.linalg.norm(centroid)), 1e-12)
        # Extractive summary: the most central facts, in order; short ones ("Wow!") say little.
        informative = np.array([min(1.0, len(f.text.split()) / 10) for f in members])
        central = sorted(np.argsort(-(matrix @ centroid) * informative)[:3])
        summary = " ".join(members[i].text for i in central)
        times = [f.time for f in members if f.time]
        db = self.log.db
        scene = db.insert(
            "INSERT INTO scenes(namespace, summary, time_first, time_last, position, segment) VALUES (?, ?, ?, ?, ?, ?)",
            (namespace, summary, min(times, default=None), max(times, default=None), members[0].position, segment),
        )
        db.executemany("UPDATE facts SET scene = ? WHERE id = ?", [(scene, f.id) for f in members])
        # Each speaker's side of the scene, scored against each persona dimension (Bi-Mem's dimension-scene cosine).
        sides: dict[str, list[np.ndarray]] = defaultdict(list)
        for f in members:
            sides[f.speaker].append(vectors[f.id])
        rows, notes = [], []
        for speaker, own in sides.items():
            side = _unit(np.mean(own, axis=0))
            scores = {name: float(side @ vector) for name, vector in dimensions.items()}
            rows.append((namespace, scene, speaker, json.dumps(scores)))
            best = max(scores.values(), default=-1.0)
            if best < REFLECTION_MIN_COSINE:  # Bi-Mem: a scene that fits none of the speaker's dimensions is a reflection
                notes.append((namespace, scene, speaker, f"fits no persona dimension of {speaker} (best cosine {best:.2f})"))
        db.executemany("INSERT INTO scene_speakers(namespace, scene, speaker, scores) VALUES (?, ?, ?, ?)", rows)
        db.executemany("INSERT INTO reflections VALUES (?, ?, ?, ?)", notes)
        return scene, centroid

    def sizes(self, namespace: str) -> dict[str, int]:
        """How many facts and scenes the namespace holds (what its indexes of those levels should hold)."""
        with self.log.lock:
            return {table: self.log.db.execute(f"SELECT count(*) FROM {table} WHERE namespace = ?", (namespace,)).fetchone()[0] for table in ("facts", "scenes")}

    def scenes(self, namespace: str, ids: Sequence[int] | None = None) -> list[tuple[int, str, str | None, str | None]]:
        """(id, summary, first time, last time) of the namespace's scenes (only `ids`, if given), in conversation order."""
        sql = "SELECT id, summary, time_first, time_last, position FROM scenes WHERE namespace = ?"
        with self.log.lock:
            if ids is None:
                rows = self.log.db.execute(sql, (namespace,)).fetchall()
            else:
                rows = [r for chunk in _chunks(list(ids)) for r in self.log.db.execute(f"{sql} AND id IN ({','.join('?' * len(chunk))})", (namespace, *chunk)).fetchall()]
        return [r[:4] for r in sorted(rows, key=lambda r: (r[4], r[0]))]

    def scene_facts(self, scene: int) -> list[int]:
        with self.log.lock:
            return [r[0] for r in self.log.db.execute("SELECT id FROM facts WHERE scene = ? ORDER BY position", (scene,))]

    def persona(self, namespace: str, speaker: str) -> dict[str, list[tuple[int, float]]]:
        """dimension -> (scene, cosine) links of one speaker, best first: Bi-Mem's rule, per dimension the
        speaker's best max(5, 20%) scenes above PERSONA_MIN_COSINE, ranked from their sides' scores."""
        with self.log.lock:
            rows = self.log.db.execute(
                "SELECT p.scene, p.scores FROM scene_speakers p JOIN scenes s ON s.id = p.scene WHERE p.namespace = ? AND p.speaker = ? ORDER BY s.position, s.id",
                (namespace, speaker),
            ).fetchall()
        if not rows:
            return {}
        ids = [r[0] for r in rows]
        parsed = json.loads("[" + ",".join(r[1] for r in rows) + "]")  # one parse for all of the speaker's scenes
        keep = max(5, round(0.2 * len(ids)))
        out: dict[str, list[tuple[int, float]]] = {}
        for name in DIMENSIONS:
            cosines = np.array([p.get(name, -1.0) for p in parsed], dtype=np.float64)
            links = [(ids[j], float(cosines[j])) for j in np.argsort(-cosines, kind="stable")[:keep] if cosines[j] > PERSONA_MIN_COSINE]
            if links:
                out[name] = links
        return out

    def reflections(self, namespace: str) -> list[tuple[int, str, str]]:
        with self.log.lock:
            return self.log.db.execute("SELECT scene, speaker, note FROM reflections WHERE namespace = ?", (namespace,)).fetchall()


def segment_of(session_start: int, position: int) -> int:
    """The segment of a fact at `position` in a session whose first fact is at `session_start`.

    A session belongs to the segment its first turn falls in; a session longer than a block
    is cut into blocks of SCENE_BLOCK_TURNS turns from its start, each placed by where it starts.
    Positions never move, so a write changes the segments of what it wrote (and of a session
    whose first turn it forgot), never the others.
    """
    return (session_start + (position - session_start) // _BLOCK * _BLOCK) // _SEGMENT


def cluster_facts(facts: list[Fact], vectors: Mapping[int, np.ndarray]) -> list[list[Fact]]:
    """Scenes by topic and time: label propagation over similar facts of nearby sessions and neighbouring facts.

    `facts` in conversation order (every fact of the sessions involved); each segment is clustered
    on its own (see `segment_of`), so memory grows with a segment, not with the conversation.
    """
    firsts: dict[str, int] = {}
    for f in facts:
        firsts[f.session] = min(f.position, firsts.get(f.session, f.position))
    segments: dict[int, list[Fact]] = defaultdict(list)
    for f in facts:
        segments[segment_of(firsts[f.session], f.position)].append(f)
    return [c for segment in sorted(segments) for c in _segment_clusters(segments[segment], vectors, firsts)]


def _segment_clusters(facts: list[Fact], vectors: Mapping[int, np.ndarray], firsts: dict[str, int]) -> list[list[Fact]]:
    """The scenes of one segment's facts (in conversation order).

    The graph: consecutive facts of a session (weight 0.6: what is said next usually continues
    the topic), and facts of the same or adjacent sessions (blocks) with cosine above
    SCENE_EDGE_COSINE (weight: the cosine). Its similarities come block by block (a session
    against itself and the next one), never as one matrix; the edges are added in the order
    the networkx version added them, and label propagation replays its seeded choices, so the
    scenes are the ones it found.
    """
    if not facts:
        return []
    n = len(facts)
    units: dict[tuple[str, int], list[int]] = {}  # (session, block start) -> fact indexes, in order of first appearance
    for i, f in enumerate(facts):
        start = firsts[f.session]
        units.setdefault((f.session, start + (f.position - start) // _BLOCK * _BLOCK), []).append(i)
    blocks = list(units.values())
    unit = np.empty(n, dtype=np.int64)
    for u, ix in enumerate(blocks):
        unit[ix] = u
    matrix = np.stack([vectors[f.id] for f in facts]).astype(np.float32, copy=False)
    weights: dict[tuple[int, int], float] = {}
    for i in range(n - 1):
        if facts[i + 1].session == facts[i].session:
            weights[(i, i + 1)] = 0.6
    # Bands of consecutive blocks (~BAND rows) against themselves and the next block: a few products per
    # segment, each a few MB; only pairs in one block (i < j) or in adjacent blocks count.
    u = 0
    while u < len(blocks):
        v, size = u, len(blocks[u])
        while v + 1 < len(blocks) and size + len(blocks[v + 1]) <= _BAND:
            v += 1
            size += len(blocks[v])
        rows = np.concatenate(blocks[u : v + 1])
        cols = np.concatenate(blocks[u : v + 2])
        sims = matrix[rows] @ matrix[cols].T
        ru, cu = unit[rows][:, None], unit[cols][None, :]
        keep = (sims > SCENE_EDGE_COSINE) & ((cu == ru + 1) | ((cu == ru) & (rows[:, None] < cols[None, :])))
        for x, y in zip(*np.nonzero(keep)):
            i, j = int(rows[x]), int(cols[y])
            weights[(i, j) if i < j else (j, i)] = float(sims[x, y])
        u = v + 1
    neighbours: list[list[tuple[int, float]]] = [[] for _ in range(n)]
    for (i, j), w in weights.items():
        neighbours[i].append((j, w))
        neighbours[j].append((i, w))
    for adjacent in neighbours:
        adjacent.sort()  # networkx kept each node's neighbours in the order the edges were added: ascending
    labels = _propagate(neighbours)
    communities: dict[int, list[int]] = {}
    for node, label in enumerate(labels):
        communities.setdefault(label, []).append(node)
    clusters = []
    for community in sorted(communities.values(), key=min):
        members = [facts[i] for i in community]
        clusters += [members[k : k + MAX_SCENE_FACTS] for k in range(0, len(members), MAX_SCENE_FACTS)]
    return clusters


def _propagate(neighbours: list[list[tuple[int, float]]], seed: int = 7) -> list[int]:
    """Asynchronous weighted label propagation, step for step networkx's `asyn_lpa_communities(g, "weight", seed)`.

    Each sweep visits the nodes in a seeded random order; a node takes the label of greatest
    weight among its neighbours unless its own label is one of the greatest (ties: a seeded
    random choice). Seeded, so the same facts give the same scenes.
    """
    rng = random.Random(seed)
    n = len(neighbours)
    labels = list(range(n))
    for _ in range(LPA_MAX_SWEEPS):
        changed = False
        nodes = list(range(n))
        rng.shuffle(nodes)
        for node in nodes:
            adjacent = neighbours[node]
            if not adjacent:
                continue
            freq: dict[int, float] = {}
            for v, w in adjacent:
                label = labels[v]
                freq[label] = freq.get(label, 0.0) + w
            best = max(freq.values())
            if freq.get(labels[node]) != best:
                labels[node] = rng.choice([label for label, f in freq.items() if f == best])
                changed = True
        if not changed:
            break
    return labels


def _vector_source(vectors: Vectors) -> Callable[[Sequence[int]], Mapping[int, np.ndarray]]:
    if callable(vectors):
        return vectors
    return lambda ids: {i: vectors[i] for i in ids if i in vectors}


def _chunks(items: list, size: int = 500) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


_FACT_COLUMNS = 'id, turn_id, start, "end", speaker, text, time, dates, position, session, attribute, value, valid_from, valid_to, superseded_by, scene, turn_seq'


def _fact(row: tuple) -> Fact:
    values = list(row)
    values[7] = () if values[7] == "[]" else tuple(json.loads(values[7]))  # most facts resolve no date
    return Fact(*values)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-12)
