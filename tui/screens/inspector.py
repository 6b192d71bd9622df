"""The memory inspector: timeline, hierarchy, hypergraph and live search, with forget and correct.

Every change goes through the same `Agent` methods as the chat (`forget`, `correct`).
"""

from __future__ import annotations

from dataclasses import dataclass

from textual import on, work
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from rich.text import Text
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Label, Markdown, TabbedContent, TabPane, Tree
from textual.widgets.tree import TreeNode
from textual.worker import get_current_worker

from hyperloom import Agent, HyperloomError
from hyperloom.tui.screens.dialogs import ConfirmDialog, TextDialog
from hyperloom.tui.screens.session import SessionScreen


@dataclass(frozen=True)
class Item:
    """What a tree node stands for: kind is session, turn, scene, fact, entity or point."""

    kind: str
    key: object
    loaded: list = None  # a one-element flag list: lazy children added once

    @property
    def label(self) -> str:
        return f"{self.kind} {self.key}"


def short(text: str, width: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


class InspectorScreen(Screen):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("f", "forget", "Forget"),
        Binding("e", "correct", "Correct fact"),
        Binding("r", "reload", "Reload"),
        Binding("1", "tab('timeline')", "Timeline", show=False),
        Binding("2", "tab('hierarchy')", "Hierarchy", show=False),
        Binding("3", "tab('hypergraph')", "Hypergraph", show=False),
        Binding("4", "tab('search')", "Search", show=False),
    ]

    def __init__(self, agent: Agent) -> None:
        super().__init__()
        self.agent = agent
        self.turns: dict[str, object] = {}

    def compose(self):
        yield Label(f"Memory of namespace {self.agent.namespace}", classes="screen-title")
        with TabbedContent(id="tabs"):
            with TabPane("Timeline", id="timeline"):
                yield Input(placeholder="filter turns (text, speaker, id)…", id="timeline-filter")
                yield Tree("Sessions", id="timeline-tree")
            with TabPane("Hierarchy", id="hierarchy"):
                yield Tree("Memory", id="hierarchy-tree")
            with TabPane("Hypergraph", id="hypergraph"):
                with Horizontal():
                    yield Tree("Entities", id="entity-tree")
                    with VerticalScroll(id="neighbourhood"):
                        yield Markdown("Select an entity to see its neighbourhood.")
            with TabPane("Search", id="search"):
                yield Input(placeholder="search memory (hybrid: vectors + BM25)…", id="search-input")
                yield DataTable(id="hits", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#hits", DataTable).add_columns("score", "turn", "speaker", "date", "text")
        self.reload()

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    def action_reload(self) -> None:
        self.reload()

    def reload(self) -> None:
        self.turns = {t.id: t for t in self.agent.turns()}
        self.fill_timeline(self.query_one("#timeline-filter", Input).value)
        self.fill_hierarchy()
        self.fill_entities()
        if query := self.query_one("#search-input", Input).value:
            self.search(query)

    # -- timeline -------------------------------------------------------------------------------

    def fill_timeline(self, needle: str = "") -> None:
        tree: Tree = self.query_one("#timeline-tree", Tree)
        tree.clear()
        tree.root.expand()
        needle = needle.lower().strip()
        for s in self.agent.sessions():
            turns = [t for t in self.turns.values() if t.session == s.id and (not needle or needle in f"{t.text} {t.speaker} {t.id}".lower())]
            if needle and not turns:
                continue
            label = Text.assemble((s.id, "bold"), (f"  {(s.started_at or '')[:10]}  ", "dim"), s.title or "", (f"  ({len(turns)})", "dim"))
            node = tree.root.add(label, data=Item("session", s.id), expand=bool(needle))
            for t in turns:
                node.add_leaf(Text.assemble((f"{t.speaker}: ", "bold"), short(t.text)), data=Item("turn", t.id))

    @on(Input.Changed, "#timeline-filter")
    def filter_timeline(self, event: Input.Changed) -> None:
        self.fill_timeline(event.value)

    # -- hierarchy: persona → scenes → facts → source turns -------------------------------------

    def fill_hierarchy(self) -> None:
        tree: Tree = self.query_one("#hierarchy-tree", Tree)
        tree.clear()
        tree.root.expand()
        scenes = {sid: (summary, first, last) for sid, summary, first, last in self.agent.scenes()}
        for speaker in self.agent.speakers():
            persona = self.agent.persona(speaker)
            if not persona:
                continue
            who = tree.root.add(Text.assemble(("persona ", "dim"), (speaker, "bold")), data=Item("persona", speaker))
            for dimension, supported in persona.items():
                dim = who.add(f"{dimension} ({len(supported)})", data=Item("dimension", dimension))
                for sid, score in supported:
                    self._scene_node(dim, sid, scenes.get(sid, ("", None, None)), score)
        every = tree.root.add(f"all scenes ({len(scenes)})", data=Item("scenes", None), expand=not any(True for _ in tree.root.children))
        for sid, scene in scenes.items():
            self._scene_node(every, sid, scene)

    def _scene_node(self, parent: TreeNode, sid: int, scene: tuple, score: float | None = None) -> None:
        summary, first, _ = scene
        label = Text.assemble((f"scene {sid}", "bold"), (f"  {(first or '')[:10]}  ", "dim"), short(summary, 60), (f"  {score:.2f}" if score is not None else "", "dim"))
        parent.add(label, data=Item("scene", sid, [False]), allow_expand=True)

    def _fact_node(self, parent: TreeNode, fact) -> None:
        old = fact.valid_to is not None
        label = Text.assemble((f"fact {fact.id} ", "dim"), (short(fact.text, 64), "strike dim" if old else ""), ("  (superseded)" if old else "", "italic dim"))
        node = parent.add(label, data=Item("fact", fact), expand=False)
        turn = self.turns.get(fact.turn_id)
        if turn is not None:
            node.add_leaf(Text.assemble((f"turn {turn.id} ", "dim"), (f"{turn.speaker}: ", "bold"), short(turn.text)), data=Item("turn", turn.id))

    @on(Tree.NodeExpanded)
    def load_children(self, event: Tree.NodeExpanded) -> None:
        item = event.node.data
        if not isinstance(item, Item) or item.loaded is None or item.loaded[0]:
            return
        item.loaded[0] = True
        if item.kind == "scene":
            for fact in sorted(self.agent.scene_facts(item.key), key=lambda f: f.id):
                self._fact_node(event.node, fact)
        elif item.kind == "entity":
            self._entity_points(event.node, item.key)

    # -- hypergraph: entities → memory points → source turns ------------------------------------

    def fill_entities(self) -> None:
        tree: Tree = self.query_one("#entity-tree", Tree)
        tree.clear()
        tree.root.expand()
        aliases: dict[str, list[str]] = {}
        for alias, name in self.agent.aliases().items():
            if alias != name.lower():
                aliases.setdefault(name, []).append(alias)
        for name, kind in sorted(self.agent.entities().items()):
            aka = f"  aka {', '.join(aliases[name])}" if name in aliases else ""
            tree.root.add(Text.assemble((name, "bold"), (f" ({kind}){aka}", "dim")), data=Item("entity", name, [False]), allow_expand=True)

    def _entity_points(self, node: TreeNode, entity: str) -> None:
        facts = {f.id: f for f in self.agent.facts()}
        for p in self.agent.points():
            if entity not in p.entities:
                continue
            point = node.add(Text.assemble((f"point {p.id} ", "dim"), short(p.description, 60), (f"  [{', '.join(p.entities)}]", "dim")), data=Item("point", p.id))
            for turn_id in dict.fromkeys(facts[f].turn_id for f in p.facts if f in facts):
                if (turn := self.turns.get(turn_id)) is not None:
                    point.add_leaf(Text.assemble((f"turn {turn.id} ", "dim"), (f"{turn.speaker}: ", "bold"), short(turn.text)), data=Item("turn", turn.id))

    @on(Tree.NodeHighlighted, "#entity-tree")
    def show_neighbourhood(self, event: Tree.NodeHighlighted) -> None:
        item = event.node.data
        if isinstance(item, Item) and item.kind == "entity":
            self.query_one("#neighbourhood Markdown", Markdown).update(self.neighbourhood_markdown(item.key))

    def neighbourhood_markdown(self, entity: str) -> str:
        points = self.agent.points(entity)
        near: dict[str, int] = {}
        for p in points:
            for e in p.entities:
                if e != entity:
                    near[e] = near.get(e, 0) + 1
        linked = ", ".join(f"**{e}** ({n})" for e, n in sorted(near.items(), key=lambda x: (-x[1], x[0]))) or "none"
        lines = [f"### {entity}", f"{len(points)} memory points within two hops.", "", f"Linked entities: {linked}", ""]
        lines += [f"- {short(p.description, 80)} _({(p.time_first or '')[:10]})_" for p in points[:12]]
        return "\n".join(lines)

    # -- live search ----------------------------------------------------------------------------

    @on(Input.Changed, "#search-input")
    def search_as_you_type(self, event: Input.Changed) -> None:
        self.search(event.value)

    @work(thread=True, exclusive=True, group="inspector-search")
    def search(self, query: str) -> None:
        worker = get_current_worker()
        if not query.strip():
            self.app.call_from_thread(self.query_one("#hits", DataTable).clear)
            return
        with self.app.inflight:
            hits = self.agent.search(query, 15)
        if not worker.is_cancelled:
            self.app.call_from_thread(self.show_hits, hits)

    def show_hits(self, hits) -> None:
        table = self.query_one("#hits", DataTable)
        table.clear()
        for h in hits:
            text = short(h.text, 200)
            table.add_row(f"{h.score:.3f}", h.turn_id, h.speaker, (h.time or "")[:10], text, key=h.turn_id)

    @on(DataTable.RowSelected, "#hits")
    def open_hit(self, event: DataTable.RowSelected) -> None:
        self.open_turn(str(event.row_key.value))

    # -- opening and editing --------------------------------------------------------------------

    @on(Tree.NodeSelected)
    def open_selected_turn(self, event: Tree.NodeSelected) -> None:
        item = event.node.data
        if isinstance(item, Item) and item.kind == "turn":
            self.open_turn(item.key)

    def open_turn(self, turn_id: str) -> None:
        turn = self.turns.get(turn_id)
        if turn is not None:
            self.app.push_screen(SessionScreen(self.agent, turn.session, turn.id))

    def selected(self) -> Item | None:
        focused = self.focused
        if isinstance(focused, Tree) and focused.cursor_node is not None and isinstance(focused.cursor_node.data, Item):
            return focused.cursor_node.data
        if isinstance(focused, DataTable) and focused.row_count:
            return Item("turn", str(focused.coordinate_to_cell_key(focused.cursor_coordinate).row_key.value))
        return None

    def action_forget(self) -> None:
        item = self.selected()
        if item is None or item.kind not in ("turn", "session", "entity", "fact"):
            self.notify("Select a turn, a session, an entity or a fact to forget.", severity="warning")
            return
        kind, key = ("turn", item.key.turn_id) if item.kind == "fact" else (item.kind, item.key)
        why = f"Fact {item.key.id} came from turn {key}: forgetting the fact forgets that turn and everything derived from it." if item.kind == "fact" else "Everything derived from it goes too."
        self.app.push_screen(ConfirmDialog(f"Forget {kind} {key}? This cannot be undone.", why), lambda yes: yes and self.forget(kind, key))

    @work(thread=True, group="memory")
    def forget(self, kind: str, key: str) -> None:
        with self.app.inflight:
            try:
                count = self.agent.forget(**{kind: key})
            except HyperloomError as exc:
                self.app.call_from_thread(self.notify, str(exc), severity="error")
                return
        self.app.call_from_thread(self.notify, f"Forgot {count} turn(s): {kind} {key}.", title="Forgotten")
        self.app.call_from_thread(self.memory_changed)

    def action_correct(self) -> None:
        item = self.selected()
        if item is None or item.kind != "fact":
            self.notify("Select a fact (Hierarchy tab) to correct.", severity="warning")
            return
        fact = item.key
        current = self.turns[fact.turn_id].text[fact.start : fact.end] if fact.turn_id in self.turns else fact.text
        detail = f"Turn {fact.turn_id} is rewritten where this fact came from, and re-derived everywhere."
        self.app.push_screen(TextDialog(f"Correct fact {fact.id}", current, detail), lambda text: text is not None and text != current and self.correct(fact.id, text))

    @work(thread=True, group="memory")
    def correct(self, fact_id: int, text: str) -> None:
        with self.app.inflight:
            try:
                turn = self.agent.correct(fact_id, text)
            except HyperloomError as exc:
                self.app.call_from_thread(self.notify, str(exc), severity="error")
                return
        self.app.call_from_thread(self.notify, f"Corrected fact {fact_id}; turn {turn.id} now reads: {short(turn.text, 80)}", title="Corrected")
        self.app.call_from_thread(self.memory_changed)

    def memory_changed(self) -> None:
        self.reload()
        self.app.chat.memory_changed()
