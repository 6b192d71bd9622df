"""HyperloomStore: a real LangGraph graph remembers through it, it answers as LangGraph's own InMemoryStore does,
and deleting through it (or forgetting around it) leaves nothing in any file."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TypedDict

import pytest
from hypothesis import assume, given, strategies as st
from langgraph.config import get_store
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.store.base import GetOp, InvalidNamespaceError, PutOp, SearchItem
from langgraph.store.memory import InMemoryStore

from hyperloom.integrations import langgraph_keys as keys
from hyperloom.integrations.langgraph_store import HyperloomStore

SECRET = "quokka-5150-secret"


def raw_bytes(home: Path) -> bytes:
    return b"".join(p.read_bytes() for p in home.rglob("*") if p.is_file())


@pytest.fixture
def store(tmp_path: Path, embedder):
    with HyperloomStore(tmp_path / "home", embedder=embedder) as s:
        yield s


# -- a real graph ---------------------------------------------------------------------------------


class State(TypedDict, total=False):
    fact: str
    question: str
    recalled: list[str]


@dataclass(kw_only=True)
class Context:
    user: str


def memorize(state: State, runtime: Runtime[Context]) -> dict:
    if state.get("fact"):
        runtime.store.put(("memories", runtime.context.user), f"m{len(runtime.store.search(('memories', runtime.context.user)))}", {"text": state["fact"]})
    return {}


def recall(state: State) -> dict:
    store = get_store()  # the other way a node reaches the store
    hits = store.search(("memories",), query=state["question"], limit=1)
    return {"recalled": [h.value["text"] for h in hits]}


def graph(store: HyperloomStore):
    builder = StateGraph(State, context_schema=Context)
    builder.add_node(memorize)
    builder.add_node(recall)
    builder.add_edge(START, "memorize")
    builder.add_edge("memorize", "recall")
    builder.add_edge("recall", END)
    return builder.compile(store=store)


def test_a_langgraph_graph_remembers_through_the_store_and_recalls_in_a_later_run(store: HyperloomStore) -> None:
    app = graph(store)
    app.invoke({"fact": "Ada adopted a puppy called Biscuit.", "question": "pets"}, context=Context(user="ada"))
    app.invoke({"fact": "Bo rode his bicycle to the lake.", "question": "bikes"}, context=Context(user="bo"))
    later = app.invoke({"question": "What is the name of Ada's puppy?"}, context=Context(user="ada"))
    assert later["recalled"] == ["Ada adopted a puppy called Biscuit."]
    assert store.list_namespaces() == [("memories", "ada"), ("memories", "bo")]


# -- the same answers as InMemoryStore ------------------------------------------------------------

ITEMS = [
    (("memories", "ada"), "home", {"text": "Ada moved to Porto in March.", "kind": "place", "n": 3, "tags": ["move"]}),
    (("memories", "ada"), "pet", {"text": "Ada has a puppy called Biscuit.", "kind": "pet", "n": 5, "meta": {"source": "chat"}}),
    (("memories", "bo"), "home", {"text": "Bo lives in Lisbon by the river.", "kind": "place", "n": 1}),
    (("profiles", "bo", "v1"), "style", {"text": "Bo likes short answers.", "kind": "pref", "n": 9, "ok": True}),
    (("profiles", "ada", "v1"), "style", {"text": "Ada wants every answer cited.", "kind": "pref", "n": 7, "ok": None}),
]
FILTERS = [None, {"kind": "place"}, {"n": {"$gt": 2}}, {"n": {"$gte": 3, "$lt": 7}}, {"kind": {"$ne": "pet"}}, {"meta": {"source": "chat"}}, {"tags": ["move"]}, {"ok": True}]
LISTS = [{}, {"prefix": ("memories",)}, {"suffix": ("v1",)}, {"prefix": ("profiles", "*", "v1")}, {"max_depth": 1}, {"max_depth": 2, "limit": 2, "offset": 1}, {"prefix": ("nothing",)}]


def view(item) -> tuple | None:
    return None if item is None else (item.namespace, item.key, item.value)


def both(tmp_path: Path, embedder) -> tuple[HyperloomStore, InMemoryStore]:
    reference = InMemoryStore(index={"dims": embedder.dim, "embed": lambda texts: embedder.embed_batch(texts).tolist()})
    ours = HyperloomStore(tmp_path / "home", embedder=embedder)
    for s in (ours, reference):
        for namespace, key, value in ITEMS:
            s.put(namespace, key, value)
    return ours, reference


def test_get_put_delete_list_and_filters_give_what_the_in_memory_store_gives(tmp_path: Path, embedder) -> None:
    ours, reference = both(tmp_path, embedder)
    stores = (ours, reference)
    for s in stores:
        s.put(("memories", "ada"), "home", {"text": "Ada moved again, to Braga.", "kind": "place", "n": 4})  # an update
        s.delete(("memories", "bo"), "home")
        s.delete(("memories", "bo"), "never-there")  # a no-op
    for namespace, key, _ in ITEMS + [(("memories", "cy"), "home", None)]:
        assert view(ours.get(namespace, key)) == view(reference.get(namespace, key))
    for f in FILTERS:
        for offset, limit in ((0, 10), (1, 2)):
            got, want = (s.search((), filter=f, offset=offset, limit=limit) for s in stores)
            assert [view(i) for i in got] == [view(i) for i in want], f
    assert [view(i) for i in ours.search(("profiles",))] == [view(i) for i in reference.search(("profiles",))]
    occupied = occupied_only(reference)
    for kw in LISTS:
        assert ours.list_namespaces(**kw) == occupied.list_namespaces(**kw), kw
    ours.close()


def occupied_only(reference: InMemoryStore) -> InMemoryStore:
    """The same items in a fresh InMemoryStore. Its namespaces are a defaultdict: a `get` of a missing namespace,
    or deleting the last item of one, leaves it listed forever; we list the namespaces that hold items, as
    LangGraph's Postgres store does."""
    fresh = InMemoryStore()
    for item in reference.search((), limit=1000):
        fresh.put(item.namespace, item.key, item.value)
    return fresh


def test_a_batch_reads_the_store_as_it_was_and_its_last_put_wins_like_the_in_memory_store(tmp_path: Path, embedder) -> None:
    ours, reference = both(tmp_path, embedder)
    ops = [PutOp(("memories", "ada"), "home", {"text": "first"}), GetOp(("memories", "ada"), "home"), PutOp(("memories", "ada"), "home", {"text": "second"}), PutOp(("memories", "ada"), "pet", None)]
    assert [view(r) for r in ours.batch(ops)] == [view(r) for r in reference.batch(ops)]
    for key in ("home", "pet"):
        assert view(ours.get(("memories", "ada"), key)) == view(reference.get(("memories", "ada"), key))
    ours.close()


def test_search_by_query_ranks_like_the_in_memory_store_and_returns_the_same_item_shapes(tmp_path: Path, embedder) -> None:
    ours, reference = both(tmp_path, embedder)
    for query, prefix, f in (("Where does Ada live?", ("memories",), None), ("puppy", (), None), ("answers", ("profiles",), {"n": {"$gt": 8}})):
        got, want = (s.search(prefix, query=query, filter=f, limit=3) for s in (ours, reference))
        assert len(got) == len(want) and got[0].key == want[0].key and got[0].namespace == want[0].namespace, query
        for item in got:
            assert isinstance(item, SearchItem) and isinstance(item.score, float) and isinstance(item.created_at, datetime)
            assert set(item.dict()) == set(want[0].dict())
    assert [i.key for i in ours.search((), query="Porto", limit=2, offset=1)] == [i.key for i in ours.search((), query="Porto", limit=3)][1:]
    ours.close()


def test_an_item_put_with_index_false_is_found_by_filter_but_never_ranked(store: HyperloomStore) -> None:
    store.put(("notes",), "plain", {"text": "Porto has many bridges."}, index=False)
    store.put(("notes",), "indexed", {"text": "Lisbon has trams."})
    assert [(i.key, i.score is None) for i in store.search(("notes",), query="Porto bridges")] == [("indexed", False), ("plain", True)]
    assert [i.key for i in store.search(("notes",), filter={"text": "Porto has many bridges."})] == ["plain"]


def test_index_paths_choose_the_text_search_indexes(store: HyperloomStore) -> None:
    store.put(("docs",), "d1", {"title": "Fig tree care", "body": {"text": "Water weekly."}, "n": 2}, index=["title"])
    store.put(("docs",), "d2", {"title": "Bikes", "body": {"text": "Oil the chain."}, "n": 3})
    agent = store.namespaces.agent(keys.hyperloom_name("lg", ("docs",)))
    assert agent.turn("d1:t").text == "Fig tree care"
    assert agent.turn("d2:t").text == "Bikes\nOil the chain."  # no index=: every string of the value
    assert agent.turn("d1:v").text == keys.dumps({"title": "Fig tree care", "body": {"text": "Water weekly."}, "n": 2})


def test_values_come_back_exactly_as_they_were_put(store: HyperloomStore) -> None:
    value = {"text": "Zoë said “ciao” 👋", "n": -1.5, "big": 2**53, "flags": [True, False, None], "nested": {"a": [{"b": "c"}]}, "empty": {}}
    store.put(("users", "zoë", "notes v1"), "k/1 ?#", value)
    item = store.get(("users", "zoë", "notes v1"), "k/1 ?#")
    assert item.value == value and item.key == "k/1 ?#" and item.namespace == ("users", "zoë", "notes v1")
    assert item.created_at <= item.updated_at


def test_an_update_keeps_when_the_item_was_created(store: HyperloomStore) -> None:
    store.put(("memories",), "k", {"text": "one"})
    first = store.get(("memories",), "k")
    store.put(("memories",), "k", {"text": "two"})
    second = store.get(("memories",), "k")
    assert second.value == {"text": "two"} and second.created_at == first.created_at and second.updated_at > first.updated_at


def test_async_twins_run_the_same_code(store: HyperloomStore) -> None:
    import asyncio

    async def run() -> tuple:
        await store.aput(("memories", "ada"), "home", {"text": "Ada lives in Porto."})
        return await store.aget(("memories", "ada"), "home"), await store.asearch(("memories",), query="Porto"), await store.alist_namespaces()

    item, hits, namespaces = asyncio.run(run())
    assert item.value == {"text": "Ada lives in Porto."} and [h.key for h in hits] == ["home"] and namespaces == [("memories", "ada")]


# -- namespaces and forgetting --------------------------------------------------------------------


def test_namespaces_are_sealed_from_each_other(store: HyperloomStore) -> None:
    store.put(("memories", "ada"), "k", {"text": f"Ada's code is {SECRET}."})
    store.put(("memories", "bo"), "k", {"text": "Bo has no code."})
    assert [i.value["text"] for i in store.search(("memories", "bo"), query=SECRET)] == ["Bo has no code."]
    store.delete(("memories", "bo"), "k")
    assert store.get(("memories", "ada"), "k").value == {"text": f"Ada's code is {SECRET}."}
    assert store.get(("memories", "bo"), "k") is None


labels = st.text(st.characters(blacklist_characters=".\x00", blacklist_categories=("Cs",)), min_size=1, max_size=6)


@given(a=st.lists(labels, min_size=1, max_size=3), b=st.lists(labels, min_size=1, max_size=3))
def test_two_namespace_tuples_never_share_a_hyperloom_namespace(a: list[str], b: list[str]) -> None:
    try:
        name_a, name_b = keys.hyperloom_name("lg", tuple(a)), keys.hyperloom_name("lg", tuple(b))
    except InvalidNamespaceError:
        assume(False)  # over hyperloom's 128 characters: refused, tested below
    assert keys.langgraph_namespace("lg", name_a) == tuple(a)
    assert (name_a == name_b) == (a == b)


def test_bad_namespaces_are_refused_in_one_sentence(store: HyperloomStore) -> None:
    with pytest.raises(InvalidNamespaceError):
        store.put(("a.b",), "k", {"text": "x"})
    with pytest.raises(InvalidNamespaceError, match="at most 128"):
        store.put(("x" * 130,), "k", {"text": "x"})
    with pytest.raises(InvalidNamespaceError):
        store.batch([PutOp((), "k", {"text": "x"})])


def test_deleting_an_item_leaves_no_trace_of_it_in_any_file(tmp_path: Path, embedder) -> None:
    home = tmp_path / "home"
    with HyperloomStore(home, embedder=embedder) as store:
        store.put(("memories", "ada"), "secret", {"text": f"Ada's locker code is {SECRET}.", "code": SECRET})
        store.put(("memories", "ada"), "other", {"text": "Ada keeps her bike in the basement."})
        assert store.search(("memories",), query="locker code")[0].key == "secret"
        assert SECRET.encode() in raw_bytes(home)
        store.delete(("memories", "ada"), "secret")
        assert store.get(("memories", "ada"), "secret") is None
        assert [i.key for i in store.search(("memories",), query="locker code")] == ["other"]
    assert SECRET.encode() not in raw_bytes(home)  # the log, its WAL, and every index and structure file


def test_forgetting_an_entity_from_outside_the_store_forgets_the_whole_item(tmp_path: Path, embedder) -> None:
    home = tmp_path / "home"
    with HyperloomStore(home, embedder=embedder) as store:
        store.put(("memories", "ada"), "k", {"text": "Ada met Quentin Blake in Porto.", "code": SECRET})
        store.put(("memories", "ada"), "j", {"text": "Ada likes tea."})
        agent = store.namespaces.agent(keys.hyperloom_name("lg", ("memories", "ada")))
        assert agent.forget(entity="Quentin Blake") == 2  # its text turn, and the value turn quoting it
        assert store.get(("memories", "ada"), "k") is None and store.get(("memories", "ada"), "j") is not None
    assert SECRET.encode() not in raw_bytes(home)
