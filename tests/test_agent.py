"""The agent: the library API, the graph's rounds, citations that verify against the log, models that fail."""

from __future__ import annotations

import asyncio
import doctest
from pathlib import Path

import pytest

import hyperloom.agent.api
from hyperloom import Agent, Config
from hyperloom.agent.critic import FixedCritic
from hyperloom.agent.llm import ModelError
from hyperloom.errors import InputError

from hyperloom.samples import sample_path
from fakes import OpenAIHandler, Reply, openai_server


@pytest.fixture
def agent(config: Config, store) -> Agent:
    store.ingest(sample_path(), "demo")
    with Agent(config.model_copy(update={"namespace": "demo", "model": "none"}), store=store, critic=FixedCritic(1.0)) as a:
        yield a


def exact(agent: Agent, answer) -> bool:
    return all(agent.turn(c.turn_id).text[c.start : c.end] == c.quote for c in answer.citations)


def test_docstring_example_runs(tmp_path: Path) -> None:
    """The module docstring is the README's first library example; it must stay true."""
    result = doctest.testmod(hyperloom.agent.api, extraglobs={"home": tmp_path / "mem"})
    assert result.attempted >= 5 and result.failed == 0


def test_where_do_i_live_now_and_before(agent: Agent) -> None:
    """Contradictions keep history: now is Porto, before was Lisbon, each quoted from the turn that says so."""
    now = agent.ask("Where does Maya live now?")
    assert now.text == "Porto" and now.citations and exact(agent, now)
    before = agent.ask("Where did Maya live before Porto?")
    assert before.text == "Lisbon" and exact(agent, before)


def test_answer_carries_rounds_trace_timings_and_evidence(agent: Agent) -> None:
    answer = agent.ask("When did Maya move to Porto?")
    assert answer.rounds == 1 == len(answer.trace.rounds)
    assert set(answer.trace.timings) == {"rewrite", "retrieve", "critic", "pack", "answer", "verify", "memorize"}
    assert answer.trace.rounds[0].hits and answer.evidence and answer.latency > 0
    assert answer.text == "two weeks before 20 July 2024"


def test_critic_that_rejects_runs_every_round_with_new_sub_queries(agent: Agent) -> None:
    agent._critic = FixedCritic(0.0)
    answer = agent.ask("Where did Maya live before Porto?")
    assert answer.rounds == agent.config.max_rounds == 3
    assert [r.kind for r in answer.trace.rounds][0] == "initial"
    seen = [turn for r in answer.trace.rounds for turn, _ in r.hits]
    assert len(seen) == len(set(seen)), "a later round adds only turns not already in evidence"
    assert len(answer.evidence) == len(seen) <= 6 + 2 * 10


def test_chat_remembers_both_sides_and_ask_does_not(agent: Agent) -> None:
    before = len(agent.turns())
    agent.ask("What is the cat called?")
    assert len(agent.turns()) == before
    answer = agent.chat("What is the cat called?")
    turns = agent.turns()
    assert len(turns) == before + 2
    assert [t.text for t in turns[-2:]] == ["What is the cat called?", answer.text]
    assert turns[-1].speaker == "hyperloom" and turns[-1].session == agent.session


def test_stream_yields_chunks_then_the_answer(agent: Agent) -> None:
    stream = agent.stream("What is Maya's cat called?", remember=False)
    chunks = list(stream)
    assert "".join(chunks) == stream.answer.text and exact(agent, stream.answer)


def test_async_twins_share_the_implementation(agent: Agent) -> None:
    async def main() -> tuple:
        answer = await agent.aask("Where does Maya live now?")
        chunks = [c async for c in agent.astream("Where does Maya live now?", remember=False)]
        hits = await agent.asearch("Porto", k=3)
        return answer, chunks, hits

    answer, chunks, hits = asyncio.run(main())
    assert answer.text == "".join(chunks) == agent.last_answer.text == "Porto"
    assert hits and hits[0].turn_id


def test_conversation_resumes_after_a_restart(config: Config, embedder) -> None:
    """The checkpointed history survives closing the agent: 'she' still means Maya."""
    settings = {"model": "none", "critic": FixedCritic(1.0)}
    with Agent.open(config.home, "demo", session="s-resume", **settings) as first:
        first.ingest(sample_path())
        first.chat("What is Maya's cat called?")
    with Agent.open(config.home, "demo", session="s-resume", **settings) as again:
        answer = again.ask("Where does she work?")
    assert "Maya" in answer.trace.question


def test_forgetting_removes_checkpointed_conversation_state(config: Config) -> None:
    with Agent.open(config.home, "demo", model="none", critic=FixedCritic(1.0)) as agent:
        agent.ingest(sample_path())
        agent.chat("Zanzibarquest is what?")
        agent.forget(namespace=True)
        assert agent.turns() == []
    raw = b"".join(p.read_bytes() for p in config.home.rglob("*") if p.is_file())
    assert b"Zanzibarquest" not in raw


def test_correcting_a_fact_rewrites_its_turn_everywhere(agent: Agent) -> None:
    fact = next(f for f in agent.facts() if "Pixel" in f.text and f.speaker == "Maya")
    spoken = agent.turn(fact.turn_id).text[fact.start : fact.end]
    turn = agent.correct(fact.id, spoken.replace("Pixel", "Quanta"))
    assert "Quanta" in turn.text and "Pixel" not in agent.turn(fact.turn_id).text[fact.start : fact.start + len(spoken) + 1]
    assert any(h.turn_id == fact.turn_id for h in agent.search("Quanta", k=3))


def test_bad_input_is_one_sentence_and_changes_nothing(agent: Agent) -> None:
    before = len(agent.turns())
    with pytest.raises(InputError, match="empty"):
        agent.ask("  ")
    with pytest.raises(InputError, match="Say what to forget"):
        agent.forget()
    with pytest.raises(InputError, match="no turn"):
        agent.forget(turn="nope")
    with pytest.raises(InputError, match="no session"):
        agent.forget(session="nope")
    assert len(agent.turns()) == before


def test_unknown_model_and_missing_key_fail_at_open(config: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ModelError, match="Unknown local model"):
        Agent.open(config.home, model="local/nothing")
    with pytest.raises(ModelError, match="Unknown model"):
        Agent.open(config.home, model="no-such-provider/x")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ModelError, match="OPENAI_API_KEY"):
        Agent.open(config.home, model="openai/gpt-4o-mini")


# -- an API model on a loopback OpenAI-compatible server -------------------------------------------


@pytest.fixture
def api_agent(agent: Agent, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    with openai_server() as base:
        agent.config = agent.config.model_copy(update={"api_base": base})
        agent.use_model("openai/fake-model")
        agent._critic = FixedCritic(1.0)
        yield agent


def test_api_model_quotes_are_verified_repaired_or_removed(api_agent: Agent) -> None:
    OpenAIHandler.enqueue(Reply('Porto [s3:1] "I moved to Porto two weeks ago." [s3:1] "I moved to porto 2 weeks ago" [s1:1] "Maya lives on the moon"'))
    answer = api_agent.ask("Where does Maya live now?")
    assert answer.text == "Porto"
    assert [c.quote for c in answer.citations] == ["I moved to Porto two weeks ago."]
    assert exact(api_agent, answer)
    assert "removed" in answer.notice and answer.usage.calls == 1 and answer.usage.completion_tokens > 0


def test_model_failing_mid_conversation_falls_back_to_extractive(api_agent: Agent) -> None:
    OpenAIHandler.enqueue(*[Reply(status=500)] * 3)
    answer = api_agent.ask("Where does Maya live now?")
    assert answer.text == "Porto" and exact(api_agent, answer)
    assert "extractive" in answer.notice and "sk-test" not in answer.notice


def test_model_timing_out_falls_back_too(api_agent: Agent) -> None:
    api_agent.config = api_agent.config.model_copy(update={"llm_timeout": 0.5})
    OpenAIHandler.enqueue(*[Reply("late", delay=2.0)] * 3)
    answer = api_agent.ask("Where does Maya live now?")
    assert "extractive" in answer.notice and answer.text == "Porto"


# -- the embedded local model -----------------------------------------------------------------------


def test_local_model_quotes_verbatim(agent: Agent) -> None:
    """SmolLM2 with the quote constraint: whatever it writes in quotes comes from the evidence exactly."""
    agent.use_model("local/smollm2")
    agent._critic = FixedCritic(1.0)
    answer = agent.ask("Where does Maya live now?")
    assert answer.model == "local/smollm2" and answer.text
    assert exact(agent, answer)
    assert answer.notice is None or "removed" not in answer.notice
