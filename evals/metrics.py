"""The benchmark metrics, each exactly as its protocol defines it (RESEARCH.md, "Benchmarks and their exact protocols").

Retrieval: LoCoMo's evidence recall@k; LongMemEval's recall_any@k, recall_all@k
and nDCG@k; the character-span metrics of RESEARCH.md section 7. QA: LoCoMo's
official F1 with its per-category rules, BLEU-1 and LoCoMo's exact match.
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

# -- retrieval -------------------------------------------------------------------


def evidence_recall(ranked: Sequence[str], evidence: Sequence[str], k: int) -> float:
    """LoCoMo's recall@k: the fraction of the question's evidence ids in the top k."""
    top = set(ranked[:k])
    return sum(e in top for e in evidence) / len(evidence)


def recall_any(ranked: Sequence[str], relevant: Sequence[str], k: int) -> float:
    """LongMemEval: 1 if any relevant id is in the top k."""
    top = set(ranked[:k])
    return float(any(r in top for r in relevant))


def recall_all(ranked: Sequence[str], relevant: Sequence[str], k: int) -> float:
    """LongMemEval: 1 if every relevant id is in the top k."""
    top = set(ranked[:k])
    return float(all(r in top for r in relevant))


def dcg(relevances: Sequence[float]) -> float:
    """LongMemEval's DCG: rank 1 is undiscounted and rank i >= 2 is divided by log2(i), so ranks 1 and 2 weigh the same."""
    return sum(rel if i == 0 else rel / math.log2(i + 1) for i, rel in enumerate(relevances))


def ndcg(ranked: Sequence[str], relevant: Sequence[str], k: int) -> float:
    """nDCG@k with binary relevance, against an ideal ranking that puts every relevant id first."""
    wanted = set(relevant)
    ideal = dcg([1.0] * min(len(wanted), k))
    return dcg([1.0 if r in wanted else 0.0 for r in ranked[:k]]) / ideal if ideal else 0.0


def first_occurrences(ids: Iterable[str]) -> list[str]:
    """A ranking of sessions from a ranking of turns: each session at the rank of its best turn."""
    return list(dict.fromkeys(ids))


Span = tuple[str, int, int]  # (document id, start, end) over characters


@dataclass(frozen=True)
class SpanScores:
    recall: float
    precision: float
    iou: float


def span_scores(references: Sequence[Span], chunks: Sequence[Span]) -> SpanScores:
    """RESEARCH.md section 7: recall = covered / Σ|r|, precision = covered / Σ|c|, IoU = covered / (Σ|c| + uncovered).

    `covered` counts the reference characters that some chunk covers; chunks that
    overlap each other count twice in Σ|c|, as in Chroma's chunking evaluation.
    """
    merged: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for doc, start, end in chunks:
        merged[doc].append((start, end))
    merged = {doc: _union(ranges) for doc, ranges in merged.items()}
    reference_chars = sum(end - start for _, start, end in references)
    chunk_chars = sum(end - start for _, start, end in chunks)
    covered = sum(_overlap(start, end, merged.get(doc, [])) for doc, start, end in references)
    union = chunk_chars + reference_chars - covered
    return SpanScores(
        recall=covered / reference_chars if reference_chars else 0.0,
        precision=covered / chunk_chars if chunk_chars else 0.0,
        iou=covered / union if union else 0.0,
    )


def _union(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def _overlap(start: int, end: int, ranges: list[tuple[int, int]]) -> int:
    return sum(max(0, min(end, e) - max(start, s)) for s, e in ranges)


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank percentile (no interpolation); 0 for no values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))] if ordered else 0.0


# -- question answering -------------------------------------------------------------

STEMMER = "PyStemmer porter"  # written into reports: F1 depends on the stemmer (see porter_stem)
_PUNCTUATION = set(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the|and)\b")
_ADVERSARIAL_PHRASES = ("no information available", "not mentioned")


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer  # PyStemmer, already a dependency through bm25s

    return Stemmer.Stemmer("porter")


def porter_stem(word: str) -> str:
    """The original Porter algorithm (Snowball's `porter`).

    LoCoMo's code uses nltk's PorterStemmer, whose default NLTK_EXTENSIONS mode
    differs on about 3% of LoCoMo's vocabulary (day→day vs dai, one→one vs on);
    nltk is not a dependency, so F1 here can differ from LoCoMo's script on such words.
    """
    return _stemmer().stemWord(word)


def normalize_answer(text: str) -> str:
    """LoCoMo's normalisation: delete commas, lowercase, drop punctuation, drop a/an/the/and, collapse whitespace."""
    text = text.replace(",", "").lower()
    text = "".join(ch for ch in text if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def answer_tokens(text: str) -> list[str]:
    return [porter_stem(w) for w in normalize_answer(text).split()]


def token_f1(prediction: str, gold: str) -> float:
    """Multiset token F1 over normalised, Porter-stemmed tokens (LoCoMo's `f1_score`)."""
    predicted, wanted = answer_tokens(prediction), answer_tokens(gold)
    same = sum((Counter(predicted) & Counter(wanted)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(predicted), same / len(wanted)
    return 2 * precision * recall / (precision + recall)


def gold_for(answer: str, category: int | None) -> str:
    """Open-domain (3) gold answers are cut at the first `;` (the rest is an explanation)."""
    return answer.split(";")[0].strip() if category == 3 else answer


def locomo_f1(prediction: str, gold: str | None, category: int | None) -> float:
    """LoCoMo's official per-question F1 for its numeric category (None: plain token F1)."""
    if category == 5:
        said = prediction.lower()
        return float(any(phrase in said for phrase in _ADVERSARIAL_PHRASES))
    if gold is None:
        raise ValueError("a gold answer is needed outside category 5")
    gold = gold_for(gold, category)
    if category == 1:
        # Multi-hop: each comma-separated gold part is matched by its best predicted part.
        predictions = [p.strip() for p in prediction.split(",")]
        parts = [g.strip() for g in gold.split(",")]
        return sum(max(token_f1(p, g) for p in predictions) for g in parts) / len(parts)
    return token_f1(prediction, gold)


def exact_match(prediction: str, gold: str) -> bool:
    """LoCoMo's exact match: the normalised answers have the same set of tokens (no stemming)."""
    return set(normalize_answer(prediction).split()) == set(normalize_answer(gold).split())


def bleu_tokens(text: str) -> list[str]:
    return re.findall(r"\w+|[^\w\s]", text.lower())


def bleu1(prediction: str, gold: str) -> float:
    """BLEU-1 (Papineni et al. 2002) for one reference: clipped unigram precision times the brevity penalty.

    Tokens are lowercased words and punctuation marks; no smoothing, so no shared
    token scores 0 (nltk's smoothing would give a tiny positive number instead).
    """
    predicted, wanted = bleu_tokens(prediction), bleu_tokens(gold)
    if not predicted or not wanted:
        return 0.0
    clipped = sum((Counter(predicted) & Counter(wanted)).values())
    brevity = 1.0 if len(predicted) > len(wanted) else math.exp(1 - len(wanted) / len(predicted))
    return brevity * clipped / len(predicted)
