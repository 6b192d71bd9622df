"""The one door for every LLM call (DESIGN.md invariant 6): litellm for every provider, the local model included.

`complete`, `stream` and `complete_json` add what litellm leaves to callers: one
named error whose message never holds a secret, retries with backoff on 429/5xx,
and usage and cost recorded per call. litellm is imported on first use: it takes
seconds, and the CLI and UI must start without it.
"""

from __future__ import annotations

import json
import os
import random
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from hyperloom.errors import HyperloomError

LOCAL_MODEL = "local/smollm2"
NO_MODEL = "none"  # extractive answers: the best span, trimmed by rules
READER = "reader"  # the reader: typed candidate spans ranked by a fitted model (agent/reader.py)
NO_LLM = (NO_MODEL, READER)  # answerers that call no LLM
DEFAULT_TIMEOUT = 60.0


class ModelError(HyperloomError):
    """An LLM call failed; `reason` is one of: no_model, unknown_model, missing_key, auth, timeout,
    rate_limit, malformed, provider. The message never contains an API key."""

    def __init__(self, message: str, reason: str = "provider"):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True, slots=True)
class Completion:
    """One call's answer; `cost` is in US dollars, None when litellm knows no price for the model."""

    text: str
    usage: Usage
    cost: float | None
    model: str = ""


@dataclass
class Ledger:
    """Every call made with it, in order; pass one per conversation or run to total the spend."""

    calls: list[Completion] = field(default_factory=list)

    def record(self, completion: Completion) -> None:
        self.calls.append(completion)

    @property
    def cost(self) -> float:
        return sum(c.cost or 0.0 for c in self.calls)

    @property
    def usage(self) -> Usage:
        return Usage(sum(c.usage.prompt_tokens for c in self.calls), sum(c.usage.completion_tokens for c in self.calls))


@dataclass(frozen=True, slots=True)
class Retry:
    """How often to try a call that failed with 429 or 5xx, and how long to wait in between."""

    attempts: int = 3
    backoff: float = 0.5  # seconds before the second attempt; doubles each time
    cap: float = 8.0

    def delay(self, attempt: int) -> float:
        # Jitter keeps many clients that failed together from retrying together.
        return min(self.cap, self.backoff * 2**attempt) * random.uniform(0.8, 1.2)


def check_model(model: str, **kw: Any) -> None:
    """Fail now, clearly, for an unknown model name or a missing API key (the local model is not loaded)."""
    if model in NO_LLM:
        return
    if model.startswith("local/"):
        if model != LOCAL_MODEL:
            raise ModelError(f"Unknown local model {model!r}; the embedded one is {LOCAL_MODEL!r}.", "unknown_model")
        return
    _litellm_for(model, kw)


def complete(messages: Sequence[dict], model: str, *, timeout: float = DEFAULT_TIMEOUT, retry: Retry = Retry(), ledger: Ledger | None = None, **kw: Any) -> Completion:
    """One chat completion. `kw` goes to litellm (api_base, api_key, max_tokens, temperature, mock_response, ...)."""
    response = _call(messages, model, timeout, retry, kw)
    result = Completion(response.choices[0].message.content or "", _usage(response), _cost(response), model)
    if ledger is not None:
        ledger.record(result)
    return result


def stream(messages: Sequence[dict], model: str, *, timeout: float = DEFAULT_TIMEOUT, retry: Retry = Retry(), ledger: Ledger | None = None, **kw: Any) -> Iterator[str]:
    """Text chunks as they arrive. A bad model or key fails here, at the call; later failures while iterating."""
    chunks = _call(messages, model, timeout, retry, {**kw, "stream": True})
    return _texts(chunks, messages, model, timeout, _secrets(kw), ledger)


def complete_json(messages: Sequence[dict], model: str, **kw: Any) -> Any:
    """A completion parsed as JSON (code fences and prose around one object or array are tolerated)."""
    return parse_json(complete(messages, model, **kw).text, model)


def parse_json(text: str, model: str = "the model") -> Any:
    body = re.sub(r"^\s*```(?:json)?\s*|\s*```\s*$", "", text)
    try:
        return json.loads(body)
    except json.JSONDecodeError as first:
        start = min((i for i in (body.find("{"), body.find("[")) if i >= 0), default=-1)
        end = max(body.rfind("}"), body.rfind("]"))
        if 0 <= start < end:
            try:
                return json.loads(body[start : end + 1])
            except json.JSONDecodeError:
                pass
        excerpt = text[:80] + ("…" if len(text) > 80 else "")
        raise ModelError(f"{model} returned malformed JSON ({first.msg} at character {first.pos}): {excerpt!r}", "malformed") from None


# -- the call itself ----------------------------------------------------------------------------


def _call(messages: Sequence[dict], model: str, timeout: float, retry: Retry, kw: dict) -> Any:
    secrets = _secrets(kw)
    litellm = _litellm_for(model, kw)
    # Our loop does the retrying: litellm's and the OpenAI client's own retries would multiply it.
    kw = {"num_retries": 0, "max_retries": 0, **kw}
    for attempt in range(max(1, retry.attempts)):
        try:
            return litellm.completion(model=model, messages=list(messages), timeout=timeout, **kw)
        except Exception as exc:  # noqa: BLE001 — the edge: every provider failure becomes one ModelError
            error = _model_error(exc, model, timeout, secrets, attempt + 1) if not _retryable(exc) or attempt + 1 >= retry.attempts else None
        # Raised outside the except block, so the original exception (which may quote a key) is not its context.
        if error is not None:
            raise error
        time.sleep(retry.delay(attempt))
    raise AssertionError("unreachable")


def _litellm_for(model: str, kw: dict) -> Any:
    if not model or model in NO_LLM:
        raise ModelError(f"No LLM is configured (model {model!r}): answer extractively instead of calling the LLM.", "no_model")
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # never fetch the price list over the network
    import litellm

    litellm.suppress_debug_info = True  # its "Give Feedback" banners would land in the user's terminal
    if model.startswith("local/"):
        from hyperloom.agent import local

        local.register(litellm, model)  # fails clearly for an unknown local model or a bad model file
        return litellm
    try:
        litellm.get_llm_provider(model, api_base=kw.get("api_base"))
    except Exception:  # noqa: BLE001 — litellm raises BadRequestError with a long provider list
        raise ModelError(f"Unknown model {model!r}: name it as provider/model, e.g. 'openai/gpt-4o-mini', 'ollama/qwen2.5' or {LOCAL_MODEL!r}.", "unknown_model") from None
    _check_key(litellm, model, kw)
    return litellm


def _check_key(litellm: Any, model: str, kw: dict) -> None:
    if kw.get("api_key") or kw.get("mock_response") is not None:
        return
    missing = [k for k in litellm.validate_environment(model).get("missing_keys", []) if k.endswith(("_KEY", "_TOKEN"))]
    if missing:
        raise ModelError(f"{model} needs an API key: set {' or '.join(missing)} in the environment, or pass api_key.", "missing_key")


def _texts(chunks: Any, messages: Sequence[dict], model: str, timeout: float, secrets: list[str], ledger: Ledger | None) -> Iterator[str]:
    seen, error = [], None
    try:
        for chunk in chunks:
            seen.append(chunk)
            if chunk.choices and (text := chunk.choices[0].delta.content):
                yield text
    except Exception as exc:  # noqa: BLE001 — a stream that breaks midway is the same kind of failure
        error = _model_error(exc, model, timeout, secrets, 1)
    if error is not None:
        raise error
    if ledger is not None and seen:
        ledger.record(_streamed(seen, messages, model))


def _streamed(chunks: list, messages: Sequence[dict], model: str) -> Completion:
    import litellm

    response = litellm.stream_chunk_builder(chunks, messages=list(messages))
    return Completion(response.choices[0].message.content or "", _usage(response), _cost(response), model)


def _usage(response: Any) -> Usage:
    usage = getattr(response, "usage", None)
    return Usage(getattr(usage, "prompt_tokens", 0) or 0, getattr(usage, "completion_tokens", 0) or 0)


def _cost(response: Any) -> float | None:
    import litellm

    try:
        return float(litellm.completion_cost(completion_response=response))
    except Exception:  # noqa: BLE001 — no price known (local or custom models): cost unknown, not an error
        return None


# -- errors -------------------------------------------------------------------------------------


def _retryable(exc: Exception) -> bool:
    import litellm

    if isinstance(exc, litellm.Timeout):
        return False  # a timeout retried would only multiply the wait
    status = getattr(exc, "status_code", None)
    return isinstance(status, int) and (status == 429 or status >= 500)


def _model_error(exc: Exception, model: str, timeout: float, secrets: list[str], attempts: int) -> ModelError:
    import litellm

    detail = _redact(_first_line(exc), secrets)
    if isinstance(exc, litellm.Timeout):
        return ModelError(f"{model} did not answer within {timeout:g} s; raise the timeout or check the server.", "timeout")
    if isinstance(exc, litellm.AuthenticationError):
        return ModelError(f"{model} rejected the API key; check the key for its provider ({detail}).", "auth")
    if isinstance(exc, litellm.NotFoundError):
        return ModelError(f"{model} is not a model its provider serves ({detail}).", "unknown_model")
    if isinstance(exc, litellm.RateLimitError):
        return ModelError(f"{model} is rate-limited (429) after {attempts} attempt(s); wait and try again.", "rate_limit")
    return ModelError(f"{model} failed: {type(exc).__name__}: {detail}", "provider")


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


_KEY_PATTERN = re.compile(r"\b(?:sk|pk|rk|xai|gsk|hf|key)[-_][A-Za-z0-9_\-]{8,}|Bearer\s+\S+", re.IGNORECASE)
_SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD", re.IGNORECASE)


def _secrets(kw: dict) -> list[str]:
    """Every value that must never be shown: the key passed in and any secret-looking environment variable."""
    found = [str(kw["api_key"])] if kw.get("api_key") else []
    found += [v for k, v in os.environ.items() if _SECRET_NAME.search(k) and len(v) >= 8]
    return sorted(found, key=len, reverse=True)


def _redact(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "[redacted]")
    return _KEY_PATTERN.sub("[redacted]", text)
