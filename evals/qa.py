"""Scores one answer: LoCoMo's F1 for its category, BLEU-1 and exact match against the gold answer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hyperloom.evals.datasets import Question
from hyperloom.evals.metrics import bleu1, exact_match, gold_for, locomo_f1
# A custom answer function for QA mode: (the unit's Agent, question) -> the answer text (the agent's own when None).
Answerer = Callable[[Any, Question], str]

# Published QA scores leave these out of the overall figure (LoCoMo reports categories 1-4).
UNSCORED = ("adversarial", "abstention")


def score_answer(question: Question, prediction: str) -> dict[str, float | None]:
    if question.code == 5:
        return {"f1": locomo_f1(prediction, None, 5), "bleu1": None, "em": None}
    if question.answer is None:
        return {"f1": None, "bleu1": None, "em": None}
    gold = gold_for(question.answer, question.code)
    return {
        "f1": locomo_f1(prediction, question.answer, question.code),
        "bleu1": bleu1(prediction, gold),
        "em": float(exact_match(prediction, gold)),
    }
