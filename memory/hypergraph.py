"""The entity hypergraph (after HGMem): entities are vertices, memory points are hyperedges over any number of them.

Unlike HGMem's per-query graph written by an LLM, this one persists for the whole
conversation and is built without one: every fact becomes a point over the
speaker and the entities it mentions; consolidation merges cohesive points.
Tables live in the turn log's SQLite file; `graph()` gives a networkx view.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hyperloom.errors import InputError
from hyperloom.memory.extract import Entity
from hyperloom.memory.log import TurnLog

if TYPE_CHECKING:
    import networkx as nx

SCHEMA = """
CREATE TABLE IF NOT EXISTS entities (
    id INTEGER PRIMARY KEY AUTOINCREMENT, namespace TEXT NOT NULL, name TEXT NOT NULL, kind TEXT NOT NULL,
    UNIQUE (namespace, name)
);
CREATE TABLE IF NOT EXISTS aliases (
    namespace TEXT NOT NULL, alias TEXT NOT NULL, entity INTEGER NOT NULL REFERENCES entities(id) ON DELETE CASCADE,
    PRIMARY KEY (namespace, alias)
);
CREATE TABLE IF NOT EXISTS points (
    id INTEGER PRIMARY KEY AUTOINCREMENT, namespace TEXT NOT NULL, description TEXT NOT NULL,
    time_first TEXT, time_last TEXT, position INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS point_entities (
    point INTEGER NOT NULL REFERENCES points(id) ON DELETE CASCADE,
    entity INTEGER NOT NULL REFERENCES entities(id) ON DELETE CASCADE,
    PRIMARY KEY (point, entity)
);
CREATE TABLE IF NOT EXISTS point_facts (   -- a point's source spans are its facts' spans
    point INTEGER NOT NULL REFERENCES points(id) ON DELETE CASCADE,
    fact INTEGER NOT NULL,
    PRIMARY KEY (point, fact)
);
CREATE INDEX IF NOT EXISTS point_facts_by_fact ON point_facts(fact);
-- what the things a fact mentions are (memory/classes.py): "fishing" is a sport (depth 2), "Chicago" a city
CREATE TABLE IF NOT EXISTS fact_classes (
    namespace TEXT NOT NULL, fact INTEGER NOT NULL, word TEXT NOT NULL, class TEXT NOT NULL, depth INTEGER NOT NULL,
    PRIMARY KEY (fact, word, class)
);
CREATE INDEX IF NOT EXISTS fact_classes_by_class ON fact_classes(namespace, class);
-- the same classes as labels of the entity vertices they name
CREATE TABLE IF NOT EXISTS entity_classes (
    entity INTEGER NOT NULL REFERENCES entities(id) ON DELETE CASCADE, class TEXT NOT NULL, PRIMARY KEY (entity, class)
);
CREATE INDEX IF NOT EXISTS point_entities_by_entity ON point_entities(entity);
"""

# Merge rules (HGMem): merge only cohesive points, never grow an already large point, never force a merge.
MAX_MERGED_ENTITIES = 6
MAX_MERGED_FACTS = 4
MIN_SHARED_ENTITIES = 2  # the speaker plus at least one thing they talk about


@dataclass(frozen=True, slots=True)
class Point:
    id: int
    description: str
    entities: tuple[str, ...]
    facts: tuple[int, ...]
    time_first: str | None
    time_last: str | None
    position: int


class Hypergraph:
    def __init__(self, log: TurnLog):
        self.log = log
        self.log.db.executescript(SCHEMA)
        self._graphs: dict[str, "nx.Graph"] = {}

    # -- writing (inside the caller's transaction) --------------------------------

    def insert(self, namespace: str, entities: Iterable[Entity], description: str, facts: Sequence[int], time: str | None, position: int, classes: Sequence[tuple[str, str, int]] = ()) -> int:
        """A new memory point over `entities` (created as needed), sourced from `facts`; `classes` are
        (word, class, depth) of what the facts mention, filed for the facts and for the entities named by a word."""
        if not facts:
            raise InputError("A memory point needs at least one source fact; pass the fact it came from.")
        db = self.log.db
        point = db.insert("INSERT INTO points(namespace, description, time_first, time_last, position) VALUES (?, ?, ?, ?, ?)", (namespace, description, time, time, position))
        named = {e.name.lower(): self.entity_id(namespace, e) for e in entities}
        db.executemany("INSERT INTO point_entities(point, entity) VALUES (?, ?) ON CONFLICT DO NOTHING", [(point, i) for i in set(named.values())])
        db.executemany("INSERT INTO point_facts(point, fact) VALUES (?, ?) ON CONFLICT DO NOTHING", [(point, f) for f in facts])
        self._file_classes(namespace, named, facts, classes)
        self._graphs.pop(namespace, None)
        return point

    def _file_classes(self, namespace: str, named: dict[str, int], facts: Sequence[int], classes: Sequence[tuple[str, str, int]]) -> None:
        if not classes:
            return
        db = self.log.db
        rows = [(namespace, f, w, c, d) for f in facts for w, c, d in classes]
        db.executemany("INSERT INTO fact_classes(namespace, fact, word, class, depth) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING", rows)
        labels = {(named[key], c) for w, c, _ in classes if (key := _bare(w)) in named}
        db.executemany("INSERT INTO entity_classes(entity, class) VALUES (?, ?) ON CONFLICT DO NOTHING", sorted(labels))

    def update(self, point: int, *, description: str | None = None, entities: Iterable[Entity] | None = None, facts: Sequence[int] | None = None) -> None:
        """Replace a point's description, entity set and/or sources; refuses to leave it without a source."""
        namespace = self._namespace_of(point)
        db = self.log.db
        if facts is not None:
            if not facts:
                raise InputError(f"Updating memory point {point} would orphan its source spans; keep at least one source fact.")
            db.execute("DELETE FROM point_facts WHERE point = ?", (point,))
            db.executemany("INSERT INTO point_facts(point, fact) VALUES (?, ?)", [(point, f) for f in facts])
        if description is not None:
            db.execute("UPDATE points SET description = ? WHERE id = ?", (description, point))
        if entities is not None:
            db.execute("DELETE FROM point_entities WHERE point = ?", (point,))
            db.executemany("INSERT INTO point_entities(point, entity) VALUES (?, ?) ON CONFLICT DO NOTHING", [(point, self.entity_id(namespace, e)) for e in entities])
        self._graphs.pop(namespace, None)

    def merge(self, points: Sequence[int], description: str | None = None) -> int:
        """Points that form one unit become one point over the union of their entities and sources."""
        found = [self.point(p) for p in points]
        if len(found) < 2:
            raise InputError("A merge needs at least two memory points.")
        namespace = self._namespace_of(points[0])
        if any(self._namespace_of(p) != namespace for p in points):
            raise InputError("Memory points of different namespaces cannot be merged.")
        facts = sorted({f for p in found for f in p.facts})
        if not facts:
            raise InputError(f"Merging points {list(points)} would leave no source span; nothing was merged.")
        db = self.log.db
        text = description or " ".join(p.description for p in sorted(found, key=lambda p: p.position))
        first = min((p.time_first for p in found if p.time_first), default=None)
        last = max((p.time_last for p in found if p.time_last), default=None)
        merged = db.insert("INSERT INTO points(namespace, description, time_first, time_last, position) VALUES (?, ?, ?, ?, ?)", (namespace, text, first, last, min(p.position for p in found)))
        db.execute(f"INSERT INTO point_entities SELECT ?, entity FROM point_entities WHERE point IN ({_marks(points)}) ON CONFLICT DO NOTHING", (merged, *points))
        db.executemany("INSERT INTO point_facts(point, fact) VALUES (?, ?)", [(merged, f) for f in facts])
        db.execute(f"DELETE FROM points WHERE id IN ({_marks(points)})", tuple(points))
        self._graphs.pop(namespace, None)
        return merged

    def entity_id(self, namespace: str, entity: Entity) -> int:
        db = self.log.db
        row = db.execute("SELECT entity FROM aliases WHERE namespace = ? AND alias = ?", (namespace, entity.name.lower())).fetchone()
        if row:
            return row[0]
        db.execute("INSERT INTO entities(namespace, name, kind) VALUES (?, ?, ?) ON CONFLICT DO NOTHING", (namespace, entity.name, entity.kind))
        (eid,) = db.execute("SELECT id FROM entities WHERE namespace = ? AND name = ?", (namespace, entity.name)).fetchone()
        db.execute("INSERT INTO aliases(namespace, alias, entity) VALUES (?, ?, ?) ON CONFLICT DO NOTHING", (namespace, entity.name.lower(), eid))
        return eid

    def add_alias(self, namespace: str, alias: str, name: str) -> None:
        """Make `alias` ("Mel") name the entity `name` ("Melanie"), folding any separate entity it had."""
        db = self.log.db
        target = self.entity_id(namespace, Entity(name, "person"))
        row = db.execute("SELECT id FROM entities WHERE namespace = ? AND name = ?", (namespace, alias)).fetchone()
        if row and row[0] != target:
            # Points over both keep one link (the old one goes with the entity, by cascade), as UPDATE OR IGNORE did.
            db.execute("UPDATE point_entities SET entity = ? WHERE entity = ? AND point NOT IN (SELECT point FROM point_entities WHERE entity = ?)", (target, row[0], target))
            db.execute("UPDATE entity_classes SET entity = ? WHERE entity = ? AND class NOT IN (SELECT class FROM entity_classes WHERE entity = ?)", (target, row[0], target))
            db.execute("DELETE FROM entities WHERE id = ?", (row[0],))
        db.execute("INSERT INTO aliases(namespace, alias, entity) VALUES (?, ?, ?) ON CONFLICT (namespace, alias) DO UPDATE SET entity = excluded.entity", (namespace, alias.lower(), target))
        self._graphs.pop(namespace, None)

    def forget_facts(self, namespace: str, facts: Sequence[int]) -> None:
        """Drop the facts as sources; points left without a source and entities left without a point go too."""
        db = self.log.db
        for chunk in _chunks(list(facts)):
            db.execute(f"DELETE FROM point_facts WHERE fact IN ({_marks(chunk)})", tuple(chunk))
            db.execute(f"DELETE FROM fact_classes WHERE fact IN ({_marks(chunk)})", tuple(chunk))
        db.execute("DELETE FROM points WHERE namespace = ? AND id NOT IN (SELECT point FROM point_facts)", (namespace,))
        db.execute("DELETE FROM entities WHERE namespace = ? AND id NOT IN (SELECT entity FROM point_entities)", (namespace,))
        self._graphs.pop(namespace, None)

    def forget_namespace(self, namespace: str) -> None:
        db = self.log.db
        db.execute("DELETE FROM point_facts WHERE point IN (SELECT id FROM points WHERE namespace = ?)", (namespace,))
        db.execute("DELETE FROM points WHERE namespace = ?", (namespace,))
        db.execute("DELETE FROM fact_classes WHERE namespace = ?", (namespace,))
        db.execute("DELETE FROM aliases WHERE namespace = ?", (namespace,))
        db.execute("DELETE FROM entities WHERE namespace = ?", (namespace,))
        self._graphs.pop(namespace, None)

    # -- consolidation ------------------------------------------------------------

    def consolidate(self, namespace: str, scene_of_fact: dict[int, int], speakers: Sequence[str], *, whole: bool = True) -> int:
        """Fold name prefixes into speakers' names, then merge cohesive points of one scene; returns merges made.

        `whole=False` (scenes re-clustered only in part): only the points of the facts in `scene_of_fact`
        are read, not every point of the namespace, with the same merges for them.
        """
        for alias, name in _prefix_aliases(self.entity_names(namespace), speakers):
            self.add_alias(namespace, alias, name)
        points = self.points(namespace) if whole else self._points_of_facts(list(scene_of_fact))
        merges = 0
        for group in _cohesive_groups(points, scene_of_fact):
            self.merge(group)
            merges += 1
        return merges

    def _points_of_facts(self, fact_ids: list[int]) -> list[Point]:
        """The points citing any of these facts, in (position, id) order as `points` gives them."""
        ids: set[int] = set()
        with self.log.lock:
            for k in range(0, len(fact_ids), 500):
                chunk = fact_ids[k : k + 500]
                ids |= {r[0] for r in self.log.db.execute(f"SELECT point FROM point_facts WHERE fact IN ({','.join('?' * len(chunk))})", chunk)}
            points = [self.point(i) for i in ids]
        return sorted(points, key=lambda p: (p.position, p.id))

    # -- reading ------------------------------------------------------------------

    def point(self, point: int) -> Point:
        db = self.log.db
        row = db.execute("SELECT id, description, time_first, time_last, position FROM points WHERE id = ?", (point,)).fetchone()
        if row is None:
            raise InputError(f"There is no memory point {point}; it may have been merged or forgotten.")
        names = tuple(r[0] for r in db.execute("SELECT e.name FROM point_entities pe JOIN entities e ON e.id = pe.entity WHERE pe.point = ? ORDER BY e.name", (point,)))
        facts = tuple(r[0] for r in db.execute("SELECT fact FROM point_facts WHERE point = ? ORDER BY fact", (point,)))
        return Point(row[0], row[1], names, facts, row[2], row[3], row[4])

    def facts_of(self, points: Iterable[int]) -> set[int]:
        """Source facts of many points at once."""
        points, out = list(points), set()
        with self.log.lock:
            for chunk in _chunks(points):
                out |= {r[0] for r in self.log.db.execute(f"SELECT fact FROM point_facts WHERE point IN ({_marks(chunk)})", chunk)}
        return out

    def descriptions(self, points: Iterable[int]) -> dict[int, str]:
        """Descriptions of many points in one query (a point's full record is `point`)."""
        points, out = list(points), {}
        with self.log.lock:
            for chunk in _chunks(points):
                out |= dict(self.log.db.execute(f"SELECT id, description FROM points WHERE id IN ({_marks(chunk)})", chunk).fetchall())
        return out

    def facts_mentioning(self, namespace: str, kind: str, among: Iterable[int], besides: Sequence[str] = ()) -> set[int]:
        """Which of the facts `among` have memory points holding an entity of this kind (person, place,
        activity...) other than `besides`. Asked of a search's candidates only: all of a kind's facts
        were 4,000 rows a question at 20k turns."""
        besides, found = list(besides), set()
        unless = f" AND e.name NOT IN ({_marks(besides)})" if besides else ""  # PostgreSQL refuses an empty IN ()
        with self.log.lock:
            for chunk in _chunks(list(among)):
                rows = self.log.db.execute(
                    # CROSS JOIN keeps SQLite's join order, from the few facts asked about: its own choice,
                    # from every entity of the kind, took 1.2 s against 6 ms at 20k turns (PostgreSQL plans freely).
                    "SELECT DISTINCT pf.fact FROM point_facts pf CROSS JOIN point_entities pe CROSS JOIN entities e "
                    f"WHERE pe.point = pf.point AND e.id = pe.entity AND pf.fact IN ({_marks(chunk)}) AND e.namespace = ? AND e.kind = ?{unless}",
                    (*chunk, namespace, kind, *besides),
                )
                found |= {r[0] for r in rows}
        return found

    def facts_of_classes(self, namespace: str, classes: Sequence[str], among: Iterable[int], modifiers: Sequence[str] = (), min_depth: int = 1) -> dict[int, int]:
        """Which of the facts `among` mention an instance of one of `classes` (a hypernym at least `min_depth`
        up: a fact naming "sport" itself is no instance of it) -> 1, or 2 when a class of it also carries a
        modifier ("outdoor_sport")."""
        found: dict[int, int] = {}
        if not classes:
            return found
        with self.log.lock:
            for chunk in _chunks(list(among)):
                # `namespace || ''` keeps SQLite on the primary key, from the facts asked about: through
                # (namespace, class) it read every fact of a common class, 42 ms against 5 ms at 20k turns.
                rows = self.log.db.execute(
                    f"SELECT DISTINCT fact FROM fact_classes WHERE fact IN ({_marks(chunk)}) AND namespace || '' = ? AND class IN ({_marks(classes)}) AND depth >= ?",
                    (*chunk, namespace, *classes, min_depth),
                ).fetchall()
                found.update((f, 1) for (f,) in rows)
            for modifier in modifiers:
                for chunk in _chunks(list(found)):
                    narrowed = self.log.db.execute(
                        f"SELECT DISTINCT fact FROM fact_classes WHERE fact IN ({_marks(chunk)}) AND namespace || '' = ? AND (class LIKE ? ESCAPE '\\' OR class = ?)",
                        (*chunk, namespace, modifier.replace("_", "\\_") + "\\_%", modifier),
                    )
                    for (f,) in narrowed:
                        found[f] = 2
        return found

    def entity_classes(self, namespace: str, name: str) -> list[str]:
        """The class labels of one entity vertex ("Chicago" -> city, municipality, ...)."""
        with self.log.lock:
            rows = self.log.db.execute("SELECT c.class FROM entity_classes c JOIN entities e ON e.id = c.entity WHERE e.namespace = ? AND e.name = ? ORDER BY c.class", (namespace, name))
            return [r[0] for r in rows]

    def points(self, namespace: str) -> list[Point]:
        with self.log.lock:
            ids = [r[0] for r in self.log.db.execute("SELECT id FROM points WHERE namespace = ? ORDER BY position, id", (namespace,))]
            return [self.point(i) for i in ids]

    def entity_names(self, namespace: str) -> dict[str, str]:
        """name -> kind of every entity in the namespace."""
        with self.log.lock:
            return dict(self.log.db.execute("SELECT name, kind FROM entities WHERE namespace = ?", (namespace,)).fetchall())

    def aliases(self, namespace: str) -> dict[str, str]:
        """alias (lower case) -> entity name."""
        with self.log.lock:
            rows = self.log.db.execute("SELECT a.alias, e.name FROM aliases a JOIN entities e ON e.id = a.entity WHERE a.namespace = ?", (namespace,))
            return dict(rows.fetchall())

    def graph(self, namespace: str) -> nx.Graph:
        """Bipartite view: entity nodes ("e", name) and point nodes ("p", id); cached until the next write."""
        if namespace not in self._graphs:
            import networkx as nx  # here, not at import: it pulls in scipy, and the CLI and UI start without it

            g = nx.Graph()
            with self.log.lock:
                rows = self.log.db.execute(
                    "SELECT pe.point, e.name FROM point_entities pe JOIN entities e ON e.id = pe.entity JOIN points p ON p.id = pe.point WHERE p.namespace = ?",
                    (namespace,),
                ).fetchall()
            g.add_edges_from((("p", point), ("e", name)) for point, name in rows)
            self._graphs[namespace] = g
        return self._graphs[namespace]

    def mentioned(self, namespace: str, text: str) -> set[str]:
        """Entity names whose name or alias occurs in `text` as whole words."""
        lowered = text.lower()
        return {name for alias, name in self.aliases(namespace).items() if alias and re.search(rf"(?<!\w){re.escape(alias)}(?!\w)", lowered)}

    def neighbourhood(self, namespace: str, names: Iterable[str], hops: int = 2, first: int | None = None) -> set[int]:
        """Points within `hops` point-steps of the entities: hop 1 = points over them, hop 2 = points sharing an entity with those.
        `first`: only the `first` lowest point ids of them (read in id order, so the walk stops there).

        In SQL, not over the networkx view: an `ask` built that graph of the whole namespace after every
        write, 250 MB and seconds at 100k turns, to walk two steps of it.
        """
        names = sorted(set(names))
        if not names:
            return set()
        # The entities' points, then (per further hop) the points of every entity of those points.
        # Semi-joins through the (few) entities, never a join of points with points.
        entities = f"SELECT id FROM entities WHERE namespace = ? AND name IN ({_marks(names)})"
        reach = f"SELECT DISTINCT point FROM point_entities WHERE entity IN ({entities})"
        for _ in range(hops - 1):
            reach = f"SELECT DISTINCT point FROM point_entities WHERE entity IN (SELECT DISTINCT entity FROM point_entities WHERE point IN ({reach}))"
        if hops < 1:
            return set()
        args: tuple = (namespace, *names)
        if first is not None:
            reach, args = f"{reach} ORDER BY point LIMIT ?", (*args, first)
        with self.log.lock:
            return {r[0] for r in self.log.db.execute(reach, args)}

    def pagerank(self, namespace: str, names: Iterable[str], alpha: float = 0.85) -> dict[int, float]:
        """Personalised PageRank from the entities, read off at the points."""
        g = self.graph(namespace)
        seeds = {("e", n): 1.0 for n in names if ("e", n) in g}
        if not seeds:
            return {}
        import networkx as nx

        ranks = nx.pagerank(g, alpha=alpha, personalization=seeds)
        return {node[1]: score for node, score in ranks.items() if node[0] == "p"}

    def _namespace_of(self, point: int) -> str:
        row = self.log.db.execute("SELECT namespace FROM points WHERE id = ?", (point,)).fetchone()
        if row is None:
            raise InputError(f"There is no memory point {point}; it may have been merged or forgotten.")
        return row[0]


def _cohesive_groups(points: list[Point], scene_of_fact: dict[int, int]) -> list[list[int]]:
    """Groups of points to merge: within each scene (of a point's first fact), in conversation order."""
    by_scene: dict[int, list[Point]] = {}
    for p in points:
        scene = scene_of_fact.get(p.facts[0]) if p.facts else None
        if scene is not None:
            by_scene.setdefault(scene, []).append(p)
    groups = []
    for members in by_scene.values():
        groups += _greedy_groups(sorted(members, key=lambda p: p.position))
    return groups


def _greedy_groups(members: list[Point]) -> list[list[int]]:
    """Consecutive points of one scene that share enough entities, within the size caps."""
    groups, current, entities, facts = [], [], set(), 0
    for p in members:
        fits = current and len(set(p.entities) & entities) >= MIN_SHARED_ENTITIES
        fits = fits and len(entities | set(p.entities)) <= MAX_MERGED_ENTITIES and facts + len(p.facts) <= MAX_MERGED_FACTS
        if fits:
            current.append(p.id)
            entities |= set(p.entities)
            facts += len(p.facts)
            continue
        if len(current) > 1:
            groups.append(current)
        current, entities, facts = [p.id], set(p.entities), len(p.facts)
    if len(current) > 1:
        groups.append(current)
    return groups


def _prefix_aliases(names: dict[str, str], speakers: Sequence[str]) -> list[tuple[str, str]]:
    """("Mel", "Melanie"): a person name of 3+ letters that starts exactly one speaker's name."""
    pairs = []
    for name, kind in names.items():
        if kind != "person" or name in speakers or len(name) < 3 or " " in name:
            continue
        owners = [s for s in speakers if s.lower().startswith(name.lower()) and s.lower() != name.lower()]
        if len(owners) == 1:
            pairs.append((name, owners[0]))
    return pairs


def _bare(word: str) -> str:
    """A recognised name as the hypergraph names its entity ("the Grand Canyon" -> "grand canyon")."""
    word = word.lower().removesuffix("'s").removesuffix("’s")
    return word[4:] if word.startswith("the ") else word


def _marks(items: Sequence) -> str:
    return ",".join("?" * len(items))


def _chunks(items: list, size: int = 500) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
