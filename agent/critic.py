"""The sufficiency critic (SIM-RAG, RESEARCH.md section 3): does the evidence so far hold the answer?

The default critic needs no LLM: a logistic regression over features of the
evidence, fitted by self-practice (`hyperloom.agent.practice`) and shipped as
`critic.json`. With a capable LLM configured, `LLMCritic` asks the model instead.
Both return P(sufficient); the graph stops at the first round whose probability
reaches the critic's threshold.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Protocol

import numpy as np

from hyperloom.errors import ConfigError
from hyperloom.retrieval.lexical import terms
from hyperloom.retrieval.search import Hit

WEIGHTS_FILE = "critic.json"
QUESTION_WORDS = frozenset(terms("what when where who whom whose which why how did does do is are was were has have had"))
# Questions that ask for a list ("What activities...", "Where has she camped?") need several turns.
_LIST = re.compile(
    r"\b(activities|things|ways|kinds|types|events|books|places|pets|hobbies|both|all|ever|items|instruments|games|artists|bands|sports|countries|cities|movies|songs|gifts|names|members|children|kids|friends|classes)\b|^\s*(what|which) \w+s\b",
    re.IGNORECASE,
)

# Chosen on LoCoMo dev by leave-one-conversation-out AUROC of a critic fitted on practice
# questions (issue 4 note): the shape of the question's fused scores carries most of the
# signal (one clear winner: the evidence is there); term and entity coverage, answer-type
# evidence and cosines added nothing once the shape was known, and were dropped.
FEATURES = (
    "top_score",  # the best fused score (max-normalised dense + BM25 + boosts: ~1 to ~2)
    "score_gap",  # best minus eighth best
    "score_entropy",  # how evenly the best eight share the score (1: a flat field)
    "list_question",
    "evidence_turns",  # what has been gathered so far, which grows each round
)


@dataclass(frozen=True, slots=True)
class Evidence:
    """What a critic reads: the question, the evidence so far (best first), and the question's own score shape."""

    question: str
    hits: Sequence[Hit]
    scores: Sequence[float]  # fused scores of the question's best hits, best first (its first round's ranking)
    round: int = 1


class Critic(Protocol):
    threshold: float

    def probability(self, evidence: Evidence) -> float: ...


def features(evidence: Evidence) -> np.ndarray:
    """The feature vector of FEATURES for one round's evidence."""
    s = np.zeros(8)
    top = np.asarray(evidence.scores[:8], dtype=float)
    s[: len(top)] = top
    share = s / s.sum() if s.sum() > 0 else np.full(8, 1 / 8)
    entropy = float(-(share * np.log(share + 1e-9)).sum() / np.log(8))
    return np.array([s[0], s[0] - s[7], entropy, float(bool(_LIST.search(evidence.question))), float(len(evidence.hits))])


@dataclass(frozen=True)
class LogisticCritic:
    """P(sufficient) = σ(w·standardised(features) + b), with the threshold chosen when it was fitted."""

    weights: np.ndarray
    bias: float
    mean: np.ndarray
    scale: np.ndarray
    threshold: float = 0.5
    trained_on: tuple[str, ...] = ()  # the conversations its practice questions came from

    def probability(self, evidence: Evidence) -> float:
        z = (features(evidence) - self.mean) / self.scale
        return float(1.0 / (1.0 + np.exp(-(z @ self.weights + self.bias))))

    @classmethod
    def load(cls, path: Path | None = None) -> "LogisticCritic":
        """The shipped weights, or a file written by `hyperloom.agent.practice`."""
        try:
            raw = path.read_text() if path else resources.files("hyperloom.agent").joinpath(WEIGHTS_FILE).read_text()
            data = json.loads(raw)
            if list(data["features"]) != list(FEATURES):
                raise ConfigError(f"The critic weights in {path or WEIGHTS_FILE} were fitted on other features; re-train them with `python -m hyperloom.agent.practice`.")
            return cls(np.array(data["weights"]), float(data["bias"]), np.array(data["mean"]), np.array(data["scale"]), float(data["threshold"]), tuple(data.get("trained_on", ())))
        except (OSError, KeyError, ValueError, TypeError) as exc:
            raise ConfigError(f"Cannot read the critic weights {path or WEIGHTS_FILE} ({exc}); re-train them with `python -m hyperloom.agent.practice`.") from None

    def dump(self, path: Path, **extra: object) -> None:
        data = {"features": list(FEATURES), "weights": self.weights.tolist(), "bias": self.bias, "mean": self.mean.tolist(), "scale": self.scale.tolist(), "threshold": self.threshold, "trained_on": list(self.trained_on), **extra}
        path.write_text(json.dumps(data, indent=1) + "\n")


@dataclass(frozen=True)
class FixedCritic:
    """Always the same probability: 1.0 answers after one round (fixed-k retrieval), 0.0 always searches again."""

    value: float = 1.0
    threshold: float = 0.5

    def probability(self, evidence: Evidence) -> float:
        return self.value


@dataclass(frozen=True)
class LLMCritic:
    """Asks a capable model whether the evidence suffices; its stated confidence is the probability."""

    model: str
    options: dict
    threshold: float = 0.5

    def probability(self, evidence: Evidence) -> float:
        from hyperloom.agent import llm
        from hyperloom.agent.prompts import critic_messages
        from hyperloom.retrieval.pack import render

        context = "\n".join(render(h) for h in evidence.hits[:10])
        try:
            verdict = llm.complete_json(critic_messages(evidence.question, context), self.model, **self.options)
            sufficient = bool(verdict.get("sufficient"))
            confidence = min(1.0, max(0.0, float(verdict.get("confidence", 0.8))))
        except (llm.ModelError, AttributeError, TypeError, ValueError):
            return 1.0  # a critic that cannot judge must not keep the agent searching
        return confidence if sufficient else 1.0 - confidence
