"""Scores one question's search hits at every k: turn and session rankings, and the cited character spans."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from hyperloom.evals.datasets import Question
from hyperloom.evals.metrics import evidence_recall, first_occurrences, ndcg, recall_all, recall_any, span_scores
from hyperloom.memory.log import Turn
from hyperloom.retrieval.search import Hit
from hyperloom.retrieval.spans import sentences


def search_depth(ks: Sequence[int]) -> int:
    """How many turns to retrieve: enough that the top turns usually span max(k) distinct sessions."""
    return max(50, 2 * max(ks))


def level_scores(ranked: Sequence[str], relevant: Sequence[str], ks: Sequence[int]) -> dict[str, dict[str, float]]:
    return {
        "recall": {str(k): evidence_recall(ranked, relevant, k) for k in ks},
        "recall_any": {str(k): recall_any(ranked, relevant, k) for k in ks},
        "recall_all": {str(k): recall_all(ranked, relevant, k) for k in ks},
        "ndcg": {str(k): ndcg(ranked, relevant, k) for k in ks},
    }


def score_hits(question: Question, hits: Sequence[Hit], turns: Mapping[str, Turn], ks: Sequence[int]) -> dict:
    """Every retrieval metric of one question; a level without evidence is None."""
    ranked = [h.turn_id for h in hits]
    sessions = first_occurrences(h.session for h in hits)
    return {
        "turn": level_scores(ranked, question.evidence, ks) if question.evidence else None,
        "session": level_scores(sessions, question.evidence_sessions, ks) if question.evidence_sessions else None,
        "span": span_level(question, hits, turns, ks) if question.evidence else None,
    }


def references(question: Question, turns: Mapping[str, Turn]) -> list[tuple[str, int, int]]:
    """The evidence as character spans: the data set's spans, or else the whole text of each evidence turn."""
    return list(question.spans) or [(t, 0, len(turns[t].text)) for t in question.evidence]


def span_level(question: Question, hits: Sequence[Hit], turns: Mapping[str, Turn], ks: Sequence[int]) -> dict:
    """Span recall / precision / IoU of the spans cited by the top k hits, and precision Ω of the span cutter alone."""
    refs = references(question, turns)
    out: dict = {"recall": {}, "precision": {}, "iou": {}}
    for k in ks:
        scores = span_scores(refs, [(h.turn_id, s.start, s.end) for h in hits[:k] for s in h.spans])
        out["recall"][str(k)], out["precision"][str(k)], out["iou"][str(k)] = scores.recall, scores.precision, scores.iou
    # Oracle retrieval: every sentence (the unit spans are cut from) that touches a reference.
    oracle = [(t, s, e) for t, rs, re_ in refs for s, e in sentences(turns[t].text) if s < re_ and e > rs]
    out["precision_omega"] = span_scores(refs, list(dict.fromkeys(oracle))).iou
    return out
