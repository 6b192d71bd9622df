"""The promises of DESIGN.md, tried as an attacker would: forgetting leaves no trace on any path,
namespaces are sealed at every id, and bad input changes nothing."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from test_cli import assert_one_line_error, run

from hyperloom import Agent
from hyperloom.agent.critic import FixedCritic
from hyperloom.errors import InputError
from hyperloom.memory.hierarchy import DIMENSIONS
from hyperloom.samples import sample_path

SECRET = "zebra-4711-secret"


def raw_bytes(home: Path) -> bytes:
    return b"".join(p.read_bytes() for p in home.rglob("*") if p.is_file())


def open_agent(home: Path, namespace: str = "vault", embedder=None, **kw) -> Agent:
    return Agent.open(home, namespace, model="none", critic=FixedCritic(1.0), embedder=embedder, **kw)


def remember_secret(agent: Agent) -> tuple[str, bytes]:
    """The secret turn's id and its vector's bytes as the index stores them (to look for in the files)."""
    turn = agent.remember(f"My locker code is {SECRET}.", speaker="dana", time="2024-03-01T10:00:00")
    agent.remember("I keep my bike in the basement.", speaker="dana", time="2024-03-01T10:01:00")
    vector = agent.store.vectors(agent.namespace).get([turn.seq])[0]
    return turn.id, np.asarray(vector, dtype=np.float32).tobytes()


def cli(home: Path, *args: str, namespace: str = "vault"):
    """The real `hyperloom` command, in its own process."""
    return run(*args, "--home", str(home), "--namespace", namespace)


@pytest.mark.parametrize("how", ["turn", "session", "entity", "everything"])
def test_every_cli_forget_leaves_no_trace_of_a_secret_it_was_asked_about(tmp_path: Path, embedder, how: str) -> None:
    home = tmp_path / "home"
    with open_agent(home, embedder=embedder) as agent:
        turn_id, vector = remember_secret(agent)
        session = agent.turn(turn_id).session
        agent.chat("What is dana's locker code?")  # an answer that quotes the secret
        agent.ask("What is the locker code?")
    assert SECRET.encode() in raw_bytes(home)
    target = {"turn": ["--turn", turn_id], "session": ["--session", session], "entity": ["--entity", "dana"], "everything": ["--everything"]}[how]
    result = cli(home, "forget", *target, "--yes")
    assert result.returncode == 0, result.stderr
    data = raw_bytes(home)
    assert SECRET.encode() not in data and vector not in data  # the log, its WAL, and every index file


def test_forgetting_a_turn_forgets_the_answers_that_quoted_it(tmp_path: Path, embedder) -> None:
    with open_agent(tmp_path / "home", embedder=embedder) as agent:
        turn_id, _ = remember_secret(agent)
        answer = agent.chat("What is dana's locker code?")
        assert any(c.turn_id == turn_id for c in answer.citations) and SECRET in answer.text
        said = [t for t in agent.turns() if t.role == "assistant"]
        agent.forget(turn=turn_id)
        assert all(SECRET not in t.text for t in agent.turns())
        assert said[0].id not in {t.id for t in agent.turns()}
        assert all(SECRET not in h.text for h in agent.search("locker code", k=10))
    assert SECRET.encode() not in raw_bytes(tmp_path / "home")


def test_questions_and_answers_are_logged_but_never_evidence(tmp_path: Path, embedder) -> None:
    with open_agent(tmp_path / "home", embedder=embedder) as agent:
        agent.chat("Who is Quorvex?")
        agent.chat("I moved to Porto last week.")
        roles = [t.role for t in agent.turns()]
        assert roles == ["question", "assistant", "user", "assistant"]
        found = agent.search("Quorvex", k=5) + agent.search("Porto", k=5)
        assert {h.text for h in found} == {"I moved to Porto last week."}


def test_a_line_that_tells_is_noted_and_answers_later_questions(tmp_path: Path, embedder) -> None:
    """What the user states is kept as evidence and acknowledged, not searched for; a request is asked."""
    with open_agent(tmp_path / "home", embedder=embedder) as agent:
        told = agent.chat("I moved to Berlin last week.")
        assert told.text == "Noted." and told.citations == [] and told.rounds == 0
        asked = agent.chat("Where do I live?")
        assert asked.text == "Berlin" and [c.quote for c in asked.citations] == ["I moved to Berlin last week."]
        request = agent.chat("Tell me where I live")
        assert request.rounds >= 1 and request.text != "Noted."
        assert [t.role for t in agent.turns()][:2] == ["user", "assistant"]
        unkept = agent.ask("I have a dog called Rex.")
        assert unkept.text.startswith("That is not a question") and all("Rex" not in t.text for t in agent.turns())


def test_a_forget_in_a_fresh_process_rebuilds_nothing(tmp_path: Path, embedder) -> None:
    home = tmp_path / "home"
    with open_agent(home, "demo", embedder=embedder) as agent:
        agent.ingest(sample_path())
        first = agent.turns()[0].id
    with open_agent(home, "demo", embedder=embedder) as agent:
        calls = count_embeddings(agent)
        assert agent.forget(turn=first) == 1
        # Nothing re-embedded but the persona dimensions' five descriptions, once per process.
        assert agent.store.notices == [] and calls[0] <= len(DIMENSIONS)


def count_embeddings(agent: Agent) -> list[int]:
    """A counter of texts embedded from now on (the real embedder, wrapped in place of the store's)."""
    calls = [0]
    inner = agent.store.embedder

    class Counting(type(inner)):  # the real interface, counting as it goes
        def __init__(self):
            self.__dict__.update(inner.__dict__)

        def embed_batch(self, texts):
            calls[0] += len(texts)
            return inner.embed_batch(texts)

    agent.store.embedder = Counting()
    return calls


def test_after_a_crash_only_what_differs_is_indexed_again(tmp_path: Path, embedder) -> None:
    home = tmp_path / "home"
    with open_agent(home, "demo", embedder=embedder) as agent:
        agent.ingest(sample_path())
        n = len(agent.turns())
    code = f"""
import os
from hyperloom import Agent
agent = Agent.open({str(home)!r}, "demo", model="none")
agent.store.save = lambda namespace=None: None  # the process dies before any index file is written
agent.remember("A line said just before the crash about Valparaiso.", speaker="Maya")
os._exit(0)
"""
    subprocess.run([sys.executable, "-c", code], check=True)
    with open_agent(home, "demo", embedder=embedder) as agent:
        calls = count_embeddings(agent)
        hits = agent.search("Valparaiso", k=1)
        assert hits[0].text.startswith("A line said just before the crash") and len(agent.turns()) == n + 1
        assert 0 < calls[0] <= 4  # the query, the lost turn and its facts: not the whole namespace


def test_the_data_directory_is_private(tmp_path: Path, embedder) -> None:
    home = tmp_path / "home"
    with open_agent(home, embedder=embedder) as agent:
        remember_secret(agent)
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    for path in home.rglob("*"):
        expected = 0o700 if path.is_dir() else 0o600
        assert stat.S_IMODE(path.stat().st_mode) == expected, path


# -- namespaces sealed at every id ----------------------------------------------------------


@pytest.fixture(scope="module")
def sealed(tmp_path_factory, embedder):
    """Namespace alpha with the demo conversation; a snapshot to compare against after anything done elsewhere."""
    home = tmp_path_factory.mktemp("sealed") / "home"
    alpha = open_agent(home, "alpha", embedder=embedder)
    alpha.ingest(sample_path())
    yield home, alpha
    alpha.close()


def snapshot(alpha: Agent) -> tuple:
    turns = tuple((t.id, t.text) for t in alpha.turns())
    facts = tuple((f.id, f.text) for f in alpha.facts())
    hits = tuple(h.turn_id for h in alpha.search("Where does Maya live now?", k=5))
    return turns, facts, tuple(alpha.scenes()), hits, alpha.stats()


NAMES = st.sampled_from(["beta", "ALPHA", "Alpha", "alpha.x", "alpha-facts", "alpha:turns", "alpha_", "a", "alpha@2", "alph"]) | st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,12}", fullmatch=True)
OPS = st.lists(st.sampled_from(["remember", "search", "forget_turn", "forget_session", "forget_entity", "forget_all", "correct", "fact", "scene"]), min_size=1, max_size=4)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(name=NAMES, ops=OPS)
def test_nothing_of_one_namespace_is_visible_changed_or_deleted_from_another(sealed, embedder, name: str, ops: list[str]) -> None:
    home, alpha = sealed
    if name == "alpha":
        return
    before = snapshot(alpha)
    theirs = alpha.turns()
    with open_agent(home, name, embedder=embedder) as other:
        for op in ops:
            run_op(other, op, alpha, theirs)
        assert all(h.namespace == name for h in other.search("Maya Porto cat", k=10))
    alpha.store.sync("alpha")
    assert snapshot(alpha) == before


def run_op(other: Agent, op: str, alpha: Agent, theirs: list) -> None:
    """One operation from another namespace, aimed at alpha's ids; refusals are fine, effects on alpha are not."""
    fact, scene = alpha.facts()[0], alpha.scenes()[0][0]
    try:
        if op == "remember":
            other.remember("Hello from elsewhere.", speaker="Maya", session=theirs[0].session)
        elif op == "search":
            assert all(h.namespace == other.namespace for h in other.search("Where does Maya live?", k=5))
        elif op == "forget_turn":
            other.forget(turn=theirs[0].id)
        elif op == "forget_session":
            other.forget(session=theirs[0].session)
        elif op == "forget_entity":
            other.forget(entity="Maya")
        elif op == "forget_all":
            other.forget(namespace=True)
        elif op == "correct":
            other.correct(fact.id, "Quanta")
        elif op == "fact":
            other.fact(fact.id)
        elif op == "scene":
            other.scene_facts(scene)
        elif op == "ingest":
            other.ingest(sample_path())
            return
        else:
            raise AssertionError(op)
    except InputError:
        return
    assert op in ("remember", "search") or other.turns() == [] or op.startswith("forget"), f"{op} on alpha's id succeeded from {other.namespace!r}"


@pytest.mark.parametrize("name", ["alpha\x1ffacts", "", "a b", "../etc", "x" * 200, "alpha/x"])
def test_a_namespace_name_outside_the_documented_set_is_one_clear_error(tmp_path: Path, name: str) -> None:
    with pytest.raises(InputError, match="namespace .* is not valid"):
        Agent.open(tmp_path / "home", name, model="none")
    assert_one_line_error(cli(tmp_path / "home", "search", "anything", namespace=name), "is not valid")


def test_the_cli_in_one_namespace_never_touches_another(tmp_path: Path, embedder) -> None:
    home = tmp_path / "home"
    with open_agent(home, "alpha", embedder=embedder) as alpha:
        alpha.ingest(sample_path())
        before = snapshot(alpha)
        first = alpha.turns()[0]
    for args in (["ingest", str(sample_path())], ["forget", "--turn", first.id, "--yes"], ["forget", "--session", first.session, "--yes"], ["forget", "--everything", "--yes"]):
        cli(home, *args, namespace="ALPHA")
    with open_agent(home, "alpha", embedder=embedder) as alpha:
        assert snapshot(alpha) == before


# -- bad input: one sentence, nothing changed ------------------------------------------------


def test_bad_library_input_is_one_sentence_and_changes_nothing(tmp_path: Path, embedder) -> None:
    with open_agent(tmp_path / "home", embedder=embedder) as agent:
        remember_secret(agent)
        before = agent.turns()
        for call in (lambda: agent.search("locker", k="5"), lambda: agent.remember("hi", time="garbage"), lambda: agent.search("locker", since="not-a-date"), lambda: agent.forget(turn="nope"), lambda: agent.forget(session="nope")):
            with pytest.raises(InputError) as caught:
                call()
            assert str(caught.value).count(". ") == 0 and str(caught.value).endswith(".")
        assert agent.turns() == before
    with open_agent(tmp_path / "home", "empty", embedder=embedder) as agent:
        with pytest.raises(InputError, match="no namespace"):
            agent.forget(namespace=True)


@pytest.mark.parametrize("args", [["forget", "--turn", "nope", "--yes"], ["forget", "--session", "nope", "--yes"], ["search", "locker", "--since", "not-a-date"], ["search", "locker", "-k", "0"]])
def test_bad_cli_input_is_one_sentence_exit_1_and_changes_nothing(tmp_path: Path, embedder, args: list[str]) -> None:
    home = tmp_path / "home"
    with open_agent(home, embedder=embedder) as agent:
        remember_secret(agent)
        before = agent.turns()
    result = cli(home, *args)
    assert_one_line_error(result, "")
    assert "Forgot 0" not in result.stdout
    with open_agent(home, embedder=embedder) as agent:
        assert agent.turns() == before


def test_a_read_only_database_or_a_vectors_file_is_one_sentence(tmp_path: Path, embedder) -> None:
    home = tmp_path / "home"
    with open_agent(home, embedder=embedder) as agent:
        remember_secret(agent)
    (home / "vectors").rename(home / "vectors.bak")
    (home / "vectors").write_text("not a directory")
    assert_one_line_error(cli(home, "search", "locker"), "vectors")


@pytest.fixture
def immutable(tmp_path: Path):
    """Make a file unwritable even to root (CI runs as root, and root ignores file modes): chattr +i."""
    held: list[Path] = []

    def make(path: Path) -> None:
        subprocess.run(["chattr", "+i", str(path)], check=True)
        held.append(path)

    yield make
    for path in held:
        subprocess.run(["chattr", "-i", str(path)], check=True)  # or pytest cannot remove tmp_path


@pytest.mark.parametrize("args", [["ingest", str(sample_path())], ["forget", "--everything", "--yes"], ["forget", "--entity", "dana", "--yes"]])
def test_a_read_only_database_is_one_sentence_exit_1_and_changes_nothing(tmp_path: Path, embedder, immutable, args: list[str]) -> None:
    home = tmp_path / "home"
    with open_agent(home, embedder=embedder) as agent:
        remember_secret(agent)
        before = agent.turns()
    files = {p: p.read_bytes() for p in home.rglob("*") if p.is_file() and p.suffix != ".lock"}
    immutable(home / "hyperloom.db")
    assert_one_line_error(cli(home, *args), "Cannot write the turn log")
    assert {p: p.read_bytes() for p in files} == files  # not a byte of the log or of an index file changed
    with open_agent(home, embedder=embedder) as agent:
        assert agent.turns() == before


def test_a_damaged_index_file_is_rebuilt_from_the_log_and_said_so(tmp_path: Path, embedder) -> None:
    """Flipped bytes in the middle of an index file: never read by hnswlib (no segfault), rebuilt, one note."""
    home = tmp_path / "home"
    with open_agent(home, embedder=embedder) as agent:
        remember_secret(agent)
    for index in (home / "vectors").glob("*.hnsw"):
        data = bytearray(index.read_bytes())
        data[len(data) // 2 : len(data) // 2 + 64] = bytes(64)
        index.write_bytes(bytes(data))
    result = cli(home, "search", "locker code", "--json")
    assert result.returncode == 0, result.stderr
    assert "locker code" in result.stdout and "damaged" in result.stderr and "Traceback" not in result.stderr
    assert cli(home, "reindex").returncode == 0
