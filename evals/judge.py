"""LLM judges through litellm: LoCoMo's lenient CORRECT/WRONG prompt and a strict variant, LongMemEval's yes/no prompts.

Every verdict is cached on disk under sha256(model, filled-in prompt), and the
prompt fills in the question, the gold answer and the answer, so a re-run makes
no call it made before. The prompts live in `evals/prompts/*.txt`; the report
names the judge model and each prompt's sha256.
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from platformdirs import user_cache_dir

from hyperloom.errors import BackendUnavailable, ConfigError, StorageError
from hyperloom.evals.datasets import Question

PROMPTS = Path(__file__).parent / "prompts"
LOCOMO_PROMPTS = ("locomo_lenient", "locomo_strict")
_LONGMEMEVAL_OWN = {"temporal-reasoning", "knowledge-update", "single-session-preference"}
_LABEL = re.compile(r"\b(CORRECT|WRONG)\b")
MAX_TOKENS = 128  # room for the one sentence of reasoning the CORRECT/WRONG prompts ask for


def default_cache() -> Path:
    return Path(user_cache_dir("hyperloom", appauthor=False)) / "judge.sqlite"


def template(name: str) -> str:
    try:
        return (PROMPTS / f"{name}.txt").read_text(encoding="utf-8")
    except OSError:
        raise StorageError(f"The judge prompt {name}.txt is missing from {PROMPTS}; reinstall hyperloom.") from None


def prompt_sha(name: str) -> str:
    return hashlib.sha256(template(name).encode("utf-8")).hexdigest()


def prompts_for(dataset: str, question: Question) -> list[str]:
    """The prompts a question is judged by: LongMemEval's one per type, else lenient and strict (none without a gold answer)."""
    if dataset == "longmemeval":
        if question.excluded == "abstention":
            return ["longmemeval_abstention"]
        return [f"longmemeval_{question.category}" if question.category in _LONGMEMEVAL_OWN else "longmemeval_default"]
    return list(LOCOMO_PROMPTS) if question.answer is not None and question.code != 5 else []


def _litellm():
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # never fetch the price list at import
    import litellm

    return litellm


def require_key(model: str) -> None:
    """Fail before a run, in one sentence, when the judge model's provider key is not set."""
    try:
        env = _litellm().validate_environment(model=model)
    except Exception:  # a provider litellm cannot check: the first call reports what is wrong
        return
    # A missing *_API_BASE is not fatal: ollama and friends default to localhost.
    missing = [k for k in env.get("missing_keys") or [] if any(w in k for w in ("KEY", "TOKEN", "SECRET"))]
    if missing:
        raise ConfigError(f"The judge model {model!r} needs {', '.join(missing)} in the environment; set it or choose another --judge model.")


@dataclass(frozen=True)
class Verdict:
    correct: bool
    response: str
    cached: bool
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0


class Judge:
    """One judge model; extra keyword arguments go to `litellm.completion` (tests pass `mock_response`)."""

    def __init__(self, model: str, cache: Path | None = None, **completion_kwargs: object):
        require_key(model)
        self.model = model
        self._kwargs = completion_kwargs
        self._db = _open_cache(cache or default_cache())

    def close(self) -> None:
        self._db.close()

    def verdict(self, prompt_name: str, question: str, gold: str, answer: str) -> Verdict:
        prompt = template(prompt_name).format(question=question, gold=gold, answer=answer)
        key = hashlib.sha256(f"{self.model}\0{prompt}".encode("utf-8")).hexdigest()
        row = self._db.execute("SELECT response FROM verdicts WHERE key = ?", (key,)).fetchone()
        if row is not None:
            return Verdict(_label(prompt_name, row[0]), row[0], cached=True)
        response, prompt_tokens, completion_tokens, cost = self._complete(prompt)
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO verdicts VALUES (?, ?, ?, ?)", (key, self.model, prompt_name, response))
        return Verdict(_label(prompt_name, response), response, False, prompt_tokens, completion_tokens, cost)

    def grade(self, dataset: str, question: Question, prediction: str) -> dict:
        """{"verdicts": {prompt: correct}, "usage": {...}} for one answer."""
        verdicts = {name: self.verdict(name, question.text, question.answer or "", prediction) for name in prompts_for(dataset, question)}
        fresh = [v for v in verdicts.values() if not v.cached]
        usage = {
            "calls": len(fresh),
            "cached": len(verdicts) - len(fresh),
            "prompt_tokens": sum(v.prompt_tokens for v in fresh),
            "completion_tokens": sum(v.completion_tokens for v in fresh),
            "dollars": sum(v.cost for v in fresh),
        }
        return {"verdicts": {name: v.correct for name, v in verdicts.items()}, "usage": usage}

    def _complete(self, prompt: str) -> tuple[str, int, int, float]:
        litellm = _litellm()
        try:
            response = litellm.completion(model=self.model, messages=[{"role": "user", "content": prompt}], temperature=0, max_tokens=MAX_TOKENS, **self._kwargs)
        except litellm.AuthenticationError:
            raise ConfigError(f"The judge model {self.model!r} refused the key in the environment; check the key or choose another --judge model.") from None
        except Exception as exc:  # litellm raises many provider-specific types
            raise BackendUnavailable(f"The judge model {self.model!r} failed ({type(exc).__name__}); check the model name, key and server.") from None
        usage = getattr(response, "usage", None)
        try:
            cost = float(litellm.completion_cost(response))
        except Exception:  # a model without a known price costs "unknown", counted as 0
            cost = 0.0
        return (response.choices[0].message.content or "", getattr(usage, "prompt_tokens", 0) or 0, getattr(usage, "completion_tokens", 0) or 0, cost)


def _label(prompt_name: str, response: str) -> bool:
    if prompt_name.startswith("longmemeval"):
        return "yes" in response.lower()  # LongMemEval's own test
    labels = _LABEL.findall(response.upper())
    return bool(labels) and labels[-1] == "CORRECT"  # the prompt asks for the label last


def _open_cache(path: Path) -> sqlite3.Connection:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, timeout=30, check_same_thread=False)
        db.execute("PRAGMA journal_mode = WAL")  # worker processes share the cache
        db.execute("CREATE TABLE IF NOT EXISTS verdicts (key TEXT PRIMARY KEY, model TEXT, prompt TEXT, response TEXT)")
    except (OSError, sqlite3.Error) as exc:
        raise StorageError(f"Cannot open the judge cache {path} ({exc}); check that its directory is writable.") from None
    return db
