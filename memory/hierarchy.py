"""The fact / scene / persona hierarchy (after Bi-Mem), built without an LLM.

L1 facts are sentences of turns with the speaker and resolved dates made explicit,
each tied to its exact source span. L2 scenes are clusters of facts (label
propagation over a graph of similar and neighbouring facts) with an extractive
summary. L3 persona links each speaker's dimensions to the scenes that support
them; reflection records scenes that fit no dimension of their speakers.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hyperloom.memory.extract import Sentence
from hyperloom.memory.log import Turn, TurnLog

SCHEMA = """
CREATE TABLE IF NOT EXISTS facts (
    id INTEGER PRIMARY KEY AUTOINCREMENT, namespace TEXT NOT NULL, turn_seq INTEGER NOT NULL, turn_id TEXT NOT NULL,
    start INTEGER NOT NULL, end INTEGER NOT NULL, speaker TEXT NOT NULL, text TEXT NOT NULL, time TEXT,
    dates TEXT NOT NULL DEFAULT '[]', position INTEGER NOT NULL, session TEXT NOT NULL,
    attribute TEXT, value TEXT, valid_from TEXT, valid_to TEXT, superseded_by INTEGER, scene INTEGER
);
CREATE INDEX IF NOT EXISTS facts_by_turn ON facts(turn_seq);
CREATE INDEX IF NOT EXISTS facts_by_ns ON facts(namespace, position);
CREATE INDEX IF NOT EXISTS facts_by_attribute ON facts(namespace, speaker, attribute);
CREATE TABLE IF NOT EXISTS scenes (
    id INTEGER PRIMARY KEY AUTOINCREMENT, namespace TEXT NOT NULL, summary TEXT NOT NULL,
    time_first TEXT, time_last TEXT, position INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS persona (
    namespace TEXT NOT NULL, speaker TEXT NOT NULL, dimension TEXT NOT NULL, scene INTEGER NOT NULL, score REAL NOT NULL,
    PRIMARY KEY (namespace, speaker, dimension, scene)
);
CREATE TABLE IF NOT EXISTS reflections (namespace TEXT NOT NULL, scene INTEGER NOT NULL, speaker TEXT NOT NULL, note TEXT NOT NULL);
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


def fact_text(turn: Turn, sentence: Sentence) -> str:
    """The sentence with who said it and what its relative dates resolve to (the turn's own time is `Fact.time`)."""
    dates = "; ".join(f"{m.text} = {m.label()}" for m in sentence.times)
    return f"{turn.speaker}: {sentence.text}" + (f" [{dates}]" if dates else "")


def attribute_of(sentence: str) -> tuple[str, str] | None:
    for name, pattern in ATTRIBUTES.items():
        if match := pattern.search(sentence):
            return name, match.group("value").strip()
    return None


class Hierarchy:
    def __init__(self, log: TurnLog):
        self.log = log
        self.log.db.executescript(SCHEMA)

    # -- L1: facts (inside the caller's transaction) -------------------------------

    def add_facts(self, namespace: str, turn: Turn, sentences: Sequence[Sentence]) -> list[Fact]:
        """One fact per sentence; a changing attribute closes the speaker's previous value of it."""
        facts = []
        for k, s in enumerate(sentences):
            attribute = attribute_of(s.text)
            dates = tuple(m.label() for m in s.times)
            row = (namespace, turn.seq, turn.id, s.start, s.end, turn.speaker, fact_text(turn, s), turn.created_at, json.dumps(dates), turn.position * 1000 + k, turn.session)
            cur = self.log.db.execute(
                "INSERT INTO facts(namespace, turn_seq, turn_id, start, end, speaker, text, time, dates, position, session, attribute, value, valid_from) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*row, *(attribute or (None, None)), turn.created_at),
            )
            if attribute:
                self._supersede(namespace, turn.speaker, attribute[0], cur.lastrowid, turn.created_at)
            facts.append(self.fact(cur.lastrowid))
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

    def with_attribute(self, namespace: str, attribute: str) -> list[Fact]:
        with self.log.lock:
            rows = self.log.db.execute(f"SELECT {_FACT_COLUMNS} FROM facts WHERE namespace = ? AND attribute = ? ORDER BY position", (namespace, attribute)).fetchall()
        return [_fact(r) for r in rows]

    def fact(self, fact_id: int) -> Fact:
        return self.facts_by_id([fact_id])[fact_id]

    def facts_by_id(self, ids: Sequence[int]) -> dict[int, Fact]:
        out = {}
        with self.log.lock:
            for chunk in (list(ids)[i : i + 500] for i in range(0, len(ids), 500)):
                rows = self.log.db.execute(f"SELECT {_FACT_COLUMNS} FROM facts WHERE id IN ({','.join('?' * len(chunk))})", chunk).fetchall()
                out.update((r[0], _fact(r)) for r in rows)
        return out

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
            db.execute(f"DELETE FROM facts WHERE turn_seq IN ({marks})", chunk)
        db.execute("UPDATE facts SET valid_to = NULL, superseded_by = NULL WHERE namespace = ? AND superseded_by NOT IN (SELECT id FROM facts)", (namespace,))
        return ids

    def forget_namespace(self, namespace: str) -> None:
        for table in ("facts", "scenes", "persona", "reflections"):
            self.log.db.execute(f"DELETE FROM {table} WHERE namespace = ?", (namespace,))

    # -- L2 and L3: consolidation ----------------------------------------------------

    def consolidate(self, namespace: str, vectors: dict[int, np.ndarray], dimension_vectors: dict[str, np.ndarray]) -> dict[int, np.ndarray]:
        """Rebuild scenes, persona links and reflections from the facts; returns scene centroid vectors."""
        facts = [f for f in self.facts(namespace) if f.id in vectors]
        clusters = cluster_facts(facts, vectors)
        db = self.log.db
        for table in ("scenes", "persona", "reflections"):
            db.execute(f"DELETE FROM {table} WHERE namespace = ?", (namespace,))
        centroids = {}
        for members in clusters:
            scene, centroid = self._write_scene(namespace, members, vectors)
            centroids[scene] = centroid
        self._link_persona(namespace, facts, vectors, centroids, dimension_vectors)
        return centroids

    def _write_scene(self, namespace: str, members: list[Fact], vectors: dict[int, np.ndarray]) -> tuple[int, np.ndarray]:
        matrix = np.stack([vectors[f.id] for f in members])
        centroid = matrix.mean(axis=0)
        centroid /= max(float(np.linalg.norm(centroid)), 1e-12)
        # Extractive summary: the most central facts, in order; short ones ("Wow!") say little.
        informative = np.array([min(1.0, len(f.text.split()) / 10) for f in members])
        central = sorted(np.argsort(-(matrix @ centroid) * informative)[:3])
        summary = " ".join(members[i].text for i in central)
        times = [f.time for f in members if f.time]
        cur = self.log.db.execute(
            "INSERT INTO scenes(namespace, summary, time_first, time_last, position) VALUES (?, ?, ?, ?, ?)",
            (namespace, summary, min(times, default=None), max(times, default=None), members[0].position),
        )
        self.log.db.executemany("UPDATE facts SET scene = ? WHERE id = ?", [(cur.lastrowid, f.id) for f in members])
        return cur.lastrowid, centroid

    def _link_persona(self, namespace: str, facts: list[Fact], vectors, centroids: dict[int, np.ndarray], dimensions: dict[str, np.ndarray]) -> None:
        by_speaker: dict[str, dict[int, list[np.ndarray]]] = defaultdict(lambda: defaultdict(list))
        scene_of = {f.id: s for s, f in self._scene_members(namespace)}
        for f in facts:
            by_speaker[f.speaker][scene_of[f.id]].append(vectors[f.id])
        db = self.log.db
        for speaker, scenes in by_speaker.items():
            ids = list(scenes)
            own = np.stack([_unit(np.mean(scenes[s], axis=0)) for s in ids])  # the speaker's side of each scene
            keep = max(5, round(0.2 * len(ids)))
            best_fit = np.full(len(ids), -1.0)
            for name, vector in dimensions.items():
                cosines = own @ vector
                best_fit = np.maximum(best_fit, cosines)
                top = [j for j in np.argsort(-cosines)[:keep] if cosines[j] > PERSONA_MIN_COSINE]
                db.executemany("INSERT INTO persona VALUES (?, ?, ?, ?, ?)", [(namespace, speaker, name, ids[j], float(cosines[j])) for j in top])
            misfits = [(namespace, ids[j], speaker, f"fits no persona dimension of {speaker} (best cosine {best_fit[j]:.2f})") for j in range(len(ids)) if best_fit[j] < REFLECTION_MIN_COSINE]
            db.executemany("INSERT INTO reflections VALUES (?, ?, ?, ?)", misfits)

    def _scene_members(self, namespace: str) -> list[tuple[int, Fact]]:
        return [(f.scene, f) for f in self.facts(namespace) if f.scene is not None]

    def scenes(self, namespace: str) -> list[tuple[int, str, str | None, str | None]]:
        with self.log.lock:
            return self.log.db.execute("SELECT id, summary, time_first, time_last FROM scenes WHERE namespace = ? ORDER BY position", (namespace,)).fetchall()

    def scene_facts(self, scene: int) -> list[int]:
        with self.log.lock:
            return [r[0] for r in self.log.db.execute("SELECT id FROM facts WHERE scene = ? ORDER BY position", (scene,))]

    def persona(self, namespace: str, speaker: str) -> dict[str, list[tuple[int, float]]]:
        with self.log.lock:
            rows = self.log.db.execute("SELECT dimension, scene, score FROM persona WHERE namespace = ? AND speaker = ? ORDER BY score DESC", (namespace, speaker)).fetchall()
        out: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for dimension, scene, score in rows:
            out[dimension].append((scene, score))
        return dict(out)

    def reflections(self, namespace: str) -> list[tuple[int, str, str]]:
        with self.log.lock:
            return self.log.db.execute("SELECT scene, speaker, note FROM reflections WHERE namespace = ?", (namespace,)).fetchall()


def cluster_facts(facts: list[Fact], vectors: dict[int, np.ndarray]) -> list[list[Fact]]:
    """Scenes by topic and time: label propagation over similar facts of nearby sessions and neighbouring facts."""
    if not facts:
        return []
    matrix = np.stack([vectors[f.id] for f in facts])
    sims = matrix @ matrix.T
    import networkx as nx  # here, not at import: it pulls in scipy, and the CLI and UI start without it

    g = nx.Graph()
    g.add_nodes_from(range(len(facts)))
    sessions = {s: i for i, s in enumerate(dict.fromkeys(f.session for f in facts))}
    order = [sessions[f.session] for f in facts]
    for i in range(len(facts)):
        if i + 1 < len(facts) and facts[i + 1].session == facts[i].session:
            g.add_edge(i, i + 1, weight=0.6)  # what is said next usually continues the topic
        near = np.nonzero(sims[i, i + 1 :] > SCENE_EDGE_COSINE)[0] + i + 1
        for j in near:
            if abs(order[j] - order[i]) <= 1:
                g.add_edge(i, int(j), weight=float(sims[i, j]))
    communities = nx.community.asyn_lpa_communities(g, weight="weight", seed=7)  # seeded: same input, same scenes
    clusters = []
    for community in sorted(communities, key=min):
        members = [facts[i] for i in sorted(community)]
        clusters += [members[k : k + MAX_SCENE_FACTS] for k in range(0, len(members), MAX_SCENE_FACTS)]
    return clusters


_FACT_COLUMNS = "id, turn_id, start, end, speaker, text, time, dates, position, session, attribute, value, valid_from, valid_to, superseded_by, scene, turn_seq"


def _fact(row: tuple) -> Fact:
    values = list(row)
    values[7] = tuple(json.loads(values[7]))
    return Fact(*values)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-12)
