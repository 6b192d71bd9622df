"""The LLM door: litellm mock responses, a real HTTP path to a loopback server, and the real local model."""

from __future__ import annotations

import time

import numpy as np
import pytest

from fakes import OpenAIHandler, Reply, openai_server
from hyperloom.agent import local
from hyperloom.agent.llm import Ledger, ModelError, Retry, complete, complete_json, parse_json, stream
from hyperloom.agent.quotes import verify_quote

USER = [{"role": "user", "content": "Where do I live?"}]
SECRET = "sk-test-abcdefghijklmnop1234"
FAST_RETRY = Retry(attempts=3, backoff=0.01)


@pytest.fixture
def api_base():
    with openai_server() as url:
        yield url


def fake(api_base: str, **kw):
    """Keyword arguments that point litellm at the loopback server."""
    return {"api_base": api_base, "api_key": SECRET, "retry": FAST_RETRY, **kw}


# -- litellm's own mock_response: the real litellm path, no network ------------------------------


def test_complete_returns_text_usage_and_cost():
    ledger = Ledger()
    result = complete(USER, "openai/gpt-4o-mini", mock_response="In Porto.", ledger=ledger)
    assert result.text == "In Porto."
    assert result.usage.total_tokens > 0
    assert result.cost is not None and result.cost > 0  # gpt-4o-mini has a price in litellm's map
    assert ledger.calls == [result]


def test_stream_yields_the_whole_text_in_pieces():
    ledger = Ledger()
    pieces = list(stream(USER, "openai/gpt-4o-mini", mock_response="In Porto, since last week.", ledger=ledger))
    assert len(pieces) > 1
    assert "".join(pieces) == "In Porto, since last week."
    assert ledger.calls[0].text == "In Porto, since last week."


def test_complete_json_parses_fenced_json():
    assert complete_json(USER, "openai/gpt-4o-mini", mock_response='```json\n{"city": "Porto"}\n```') == {"city": "Porto"}


def test_parse_json_tolerates_prose_around_an_object():
    assert parse_json('Sure! {"a": [1, 2]} Hope that helps.') == {"a": [1, 2]}


def test_model_none_is_refused():
    with pytest.raises(ModelError, match="extractive") as err:
        complete(USER, "none")
    assert err.value.reason == "no_model"


def test_unknown_model_name():
    with pytest.raises(ModelError, match="Unknown model 'gpt-nonexistent-9'") as err:
        complete(USER, "gpt-nonexistent-9")
    assert err.value.reason == "unknown_model"


def test_missing_key_names_the_variable(monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(ModelError, match="ANTHROPIC_API_KEY") as err:
        complete(USER, "anthropic/claude-3-5-haiku-20241022")
    assert err.value.reason == "missing_key"


# -- the real HTTP path: litellm -> OpenAI client -> loopback server -----------------------------


def test_http_completion_and_usage(api_base):
    ledger = Ledger()
    result = complete(USER, "openai/fake", ledger=ledger, **fake(api_base))
    assert result.text == "echo: Where do I live?"
    assert result.usage.completion_tokens == 5
    assert result.cost is None  # no price for a made-up model: tolerated, not an error
    assert OpenAIHandler.requests[-1]["auth"] == f"Bearer {SECRET}"


def test_http_stream(api_base):
    OpenAIHandler.enqueue(Reply(content="You live in Porto."))
    assert list(stream(USER, "openai/fake", **fake(api_base))) == ["You ", "live ", "in ", "Porto."]


def test_retries_a_429_then_succeeds(api_base):
    OpenAIHandler.enqueue(Reply(status=429), Reply(status=503), Reply(content="third time"))
    assert complete(USER, "openai/fake", **fake(api_base)).text == "third time"
    assert len(OpenAIHandler.requests) == 3  # exactly our attempts: no hidden client retries


def test_gives_up_after_the_last_attempt(api_base):
    OpenAIHandler.enqueue(*[Reply(status=429)] * 3)
    with pytest.raises(ModelError, match="rate-limited") as err:
        complete(USER, "openai/fake", **fake(api_base))
    assert err.value.reason == "rate_limit"
    assert len(OpenAIHandler.requests) == 3


def test_a_client_error_is_not_retried(api_base):
    OpenAIHandler.enqueue(Reply(status=400))
    with pytest.raises(ModelError):
        complete(USER, "openai/fake", **fake(api_base))
    assert len(OpenAIHandler.requests) == 1


def test_timeout(api_base):
    OpenAIHandler.enqueue(Reply(content="too late", delay=1.5))
    started = time.monotonic()
    with pytest.raises(ModelError, match="did not answer within 0.3 s") as err:
        complete(USER, "openai/fake", timeout=0.3, **fake(api_base))
    assert err.value.reason == "timeout"
    assert time.monotonic() - started < 1.2  # not retried


def test_malformed_json_is_a_clear_error(api_base):
    OpenAIHandler.enqueue(Reply(content='{"city": "Porto",'))
    with pytest.raises(ModelError, match="malformed JSON") as err:
        complete_json(USER, "openai/fake", **fake(api_base))
    assert err.value.reason == "malformed"


def test_a_broken_response_body_is_a_model_error(api_base):
    OpenAIHandler.enqueue(*[Reply(raw=b"{not json at all")] * 3)  # litellm calls it a 500, so it is retried
    with pytest.raises(ModelError):
        complete(USER, "openai/fake", **fake(api_base))


def test_model_the_server_does_not_have(api_base):
    OpenAIHandler.enqueue(Reply(status=404))
    with pytest.raises(ModelError, match="not a model its provider serves") as err:
        complete(USER, "openai/no-such-model", **fake(api_base))
    assert err.value.reason == "unknown_model"


@pytest.mark.parametrize("status", [401, 500])
def test_the_key_never_appears_in_an_error(api_base, status, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env-zyxwvutsrqponm98765")
    OpenAIHandler.enqueue(*[Reply(status=status, echo_key=True)] * 3)
    with pytest.raises(ModelError) as err:
        complete(USER, "openai/fake", **fake(api_base))
    shown = f"{err.value} {err.value!r} {err.value.__cause__} {err.value.__context__}"
    assert SECRET not in shown and "sk-env-zyxwvutsrqponm98765" not in shown
    assert "[redacted]" in str(err.value)


def test_a_server_that_is_not_there():
    with pytest.raises(ModelError, match="openai/fake"):
        complete(USER, "openai/fake", api_base="http://127.0.0.1:9/v1", api_key=SECRET, timeout=2, retry=Retry(attempts=1))


# -- the embedded local model (real SmolLM2 weights, in-process) ---------------------------------

EVIDENCE = "I moved to Porto last week. Before that I lived in Lisbon for six years."
ASK = [
    {"role": "system", "content": "Answer with an exact quote from the evidence."},
    {"role": "user", "content": f"Evidence: {EVIDENCE}\nQuestion: Where do I live now?"},
]


def closed_quote(text: str) -> str:
    """The quote of a quote_only answer: everything before its closing quote mark."""
    return text.split('"')[0].strip()


def test_local_model_completes_a_few_tokens():
    ledger = Ledger()
    result = complete(ASK, "local/smollm2", max_tokens=6, ledger=ledger)
    assert result.text.strip()
    assert 0 < result.usage.completion_tokens <= 6
    assert ledger.calls == [result]


def test_local_model_streams():
    pieces = list(stream(ASK, "local/smollm2", max_tokens=6))
    assert len(pieces) >= 2 and "".join(pieces).strip()


def test_local_constrained_quote_is_verbatim():
    result = complete(ASK, "local/smollm2", max_tokens=24, evidence=EVIDENCE, quote_only=True)
    quote = closed_quote(result.text)
    assert quote and verify_quote(quote, EVIDENCE) is not None, result.text


def test_local_constrained_quote_streams_verbatim():
    text = "".join(stream(ASK, "local/smollm2", max_tokens=24, evidence=[EVIDENCE, "Unrelated second turn."], quote_only=True))
    assert verify_quote(closed_quote(text), EVIDENCE) is not None, text


def test_quote_constraint_masks_all_but_evidence_continuations():
    """Outside a quote nothing is masked; inside, only tokens that follow the quote somewhere in the evidence, or a close."""
    llama = local.load()
    constraint = local.QuoteConstraint(llama, EVIDENCE)
    evidence = llama.tokenize(EVIDENCE.encode(), add_bos=False, special=False)
    prompt = llama.tokenize(b"Answer:", add_bos=False, special=False)
    scores = np.zeros(llama.n_vocab(), dtype=np.float32)
    assert np.isfinite(constraint(np.array(prompt), scores)).all()
    opening, word = next(iter(constraint.opens)), evidence[3]
    allowed = set(np.flatnonzero(np.isfinite(constraint(np.array([*prompt, opening, word]), scores))).tolist())
    followers = {evidence[k + 1] for k in range(len(evidence) - 1) if evidence[k] == word}
    assert allowed == followers | constraint.closes


def test_unknown_local_model():
    with pytest.raises(ModelError, match="local/smollm2") as err:
        complete(USER, "local/nonexistent")
    assert err.value.reason == "unknown_model"
