"""The benchmark metrics on hand-computed cases: each expected value is worked out in the comment beside it."""

from __future__ import annotations

import math

import pytest

from hyperloom.evals.metrics import (
    bleu1,
    evidence_recall,
    exact_match,
    first_occurrences,
    locomo_f1,
    ndcg,
    normalize_answer,
    percentile,
    recall_all,
    recall_any,
    span_scores,
)

# (prediction, gold, LoCoMo category, expected F1). Tokens are shown after normalisation and Porter stemming.
F1_CASES = [
    ("Biscuit", "Biscuit", 4, 1.0),
    ("biscuit!", "Biscuit", 4, 1.0),  # case and punctuation go
    ("The puppy", "a puppy", 4, 1.0),  # articles go: [puppi] vs [puppi]
    ("Paris and London", "London, Paris", 2, 1.0),  # `and` and the comma go; order does not matter
    ("", "Biscuit", 4, 0.0),  # nothing predicted
    ("dog", "cat", 4, 0.0),
    ("a golden retriever puppy", "golden retriever", 4, 0.8),  # P 2/3, R 1 -> 2·(2/3)/(5/3)
    ("golden", "golden retriever", 4, 2 / 3),  # P 1, R 1/2
    ("running marathons", "ran a marathon", 4, 0.5),  # [run marathon] vs [ran marathon]: P 1/2, R 1/2
    ("painted", "painting", 4, 1.0),  # both stem to paint
    ("the the cat cat", "cat", 4, 2 / 3),  # multiset: [cat cat] vs [cat], common 1: P 1/2, R 1
    ("cat cat", "cat cat dog", 4, 0.8),  # common 2: P 1, R 2/3
    ("Paris, France", "Paris France", 4, 1.0),  # outside category 1 commas are deleted, not split on
    ("2022", "2022", 2, 1.0),
    ("7 May 2023", "May 7, 2023", 2, 1.0),  # [7 mai 2023] both
    ("in May 2023", "7 May 2023", 2, 2 / 3),  # common [mai 2023]: P 2/3, R 2/3
    ("bicycle, lake", "bicycle, lake", 1, 1.0),
    ("lake", "bicycle, lake", 1, 0.5),  # gold parts: bicycle 0, lake 1 -> mean 1/2
    ("bicycle and lake", "bicycle, lake", 1, 2 / 3),  # one predicted part [bicycl lake] vs each gold part: P 1/2, R 1 -> 2/3, twice
    ("lake, bicycle, garden", "bicycle, lake", 1, 1.0),  # extra predicted parts cost nothing
    ("pottery, painting", "Pottery, camping, painting", 1, 2 / 3),  # 1, 0, 1
    ("kayaking, hiking", "hiking", 1, 1.0),
    ("Likely no", "Likely no; she does not refer to herself as part of it", 3, 1.0),  # gold cut at `;`
    ("Yes", "Yes; she is supportive", 3, 1.0),
    ("she is supportive", "Yes; she is supportive", 3, 0.0),  # gold is only `Yes`
    ("golden retriever", "golden retriever", 3, 1.0),  # no `;`: nothing cut
    ("yes", "Yes; she is supportive", 4, 0.4),  # not open-domain: [ye she i support], common 1: P 1, R 1/4
    ("Not mentioned in the conversation", None, 5, 1.0),
    ("No information available.", None, 5, 1.0),
    ("She said nothing about cats", None, 5, 0.0),
    ("It is NOT MENTIONED", None, 5, 1.0),  # case does not matter
    ("no info available", None, 5, 0.0),  # only the two official phrases count
    ("An apple and a pear", "apple pear", 4, 1.0),  # a, an, and all go
    ("Andrew", "drew", 4, 0.0),  # `and` goes only as a whole word
    ("e-mail", "email", 4, 1.0),  # punctuation inside a word goes
    ("Melanie's dog", "Melanie dog", 4, 1.0),  # melanies and melanie both stem to melani
    ("  golden   retriever ", "golden retriever", 4, 1.0),
    ("1,000 dollars", "1000 dollars", 4, 1.0),  # the comma is deleted before anything else
]


@pytest.mark.parametrize("prediction, gold, category, expected", F1_CASES)
def test_locomo_f1_on_hand_checked_cases(prediction: str, gold: str | None, category: int, expected: float) -> None:
    assert locomo_f1(prediction, gold, category) == pytest.approx(expected)


def test_the_table_is_long_enough() -> None:
    assert len(F1_CASES) >= 30


def test_normalisation_follows_locomo() -> None:
    assert normalize_answer("The Cat, and a Dog!") == "cat dog"
    assert normalize_answer("Theatre and the band") == "theatre band"


def test_exact_match_is_equality_of_normalised_token_sets() -> None:
    assert exact_match("The puppy Biscuit", "Biscuit, puppy")
    assert exact_match("cat cat", "cat")  # a set, as LoCoMo's code compares
    assert not exact_match("puppies", "puppy")  # no stemming


def test_bleu1_hand_computed() -> None:
    assert bleu1("the cat sat", "the cat sat") == 1.0
    assert bleu1("the cat", "the cat sat on the mat") == pytest.approx(math.exp(1 - 6 / 2))  # precision 1, brevity e^(1-6/2)
    assert bleu1("the the the", "the cat") == pytest.approx(1 / 3)  # clipped to one `the`; longer than the reference: no penalty
    assert bleu1("", "cat") == 0.0
    assert bleu1("dog", "cat") == 0.0


def test_evidence_recall_is_the_fraction_in_the_top_k() -> None:
    ranked = ["D1:1", "D2:2", "D1:3", "D3:1"]
    assert evidence_recall(ranked, ["D1:3", "D9:9"], 3) == 0.5
    assert evidence_recall(ranked, ["D1:3", "D9:9"], 2) == 0.0
    assert evidence_recall(ranked, ["D1:1"], 1) == 1.0


def test_recall_any_and_all() -> None:
    assert recall_any(["a", "b", "c"], ["c", "x"], 2) == 0.0
    assert recall_any(["a", "b", "c"], ["c", "x"], 3) == 1.0
    assert recall_all(["a", "b", "c"], ["c", "x"], 3) == 0.0
    assert recall_all(["a", "b", "c"], ["a", "b"], 2) == 1.0


def test_ndcg_uses_longmemevals_discount() -> None:
    # [x a y b], relevant {a b}: DCG = 0 + 1/log2(2) + 0 + 1/log2(4) = 1.5; ideal [1 1] = 1 + 1/log2(2) = 2.
    assert ndcg(["x", "a", "y", "b"], ["a", "b"], 4) == pytest.approx(0.75)
    assert ndcg(["x", "a", "y", "b"], ["a", "b"], 1) == 0.0
    # [a y b]: DCG = 1 + 0 + 1/log2(3); ideal 2.
    assert ndcg(["a", "y", "b"], ["a", "b"], 3) == pytest.approx((1 + 1 / math.log2(3)) / 2)
    # Ranks 1 and 2 weigh the same in LongMemEval's DCG (the textbook nDCG would give 0.63 here).
    assert ndcg(["y", "a"], ["a"], 2) == 1.0
    assert ndcg(["y", "z"], [], 2) == 0.0


def test_sessions_rank_by_their_best_turn() -> None:
    assert first_occurrences(["s1", "s2", "s1", "s3"]) == ["s1", "s2", "s3"]


def test_span_metrics_hand_computed() -> None:
    half = span_scores([("t1", 0, 10)], [("t1", 5, 15)])  # covered 5 of 10; chunks 10; union 15
    assert (half.recall, half.precision, half.iou) == pytest.approx((0.5, 0.5, 1 / 3))
    one_of_two = span_scores([("t1", 0, 10), ("t2", 0, 10)], [("t1", 0, 10)])  # covered 10 of 20; IoU 10/(10+10)
    assert (one_of_two.recall, one_of_two.precision, one_of_two.iou) == pytest.approx((0.5, 1.0, 0.5))
    overlapping = span_scores([("t1", 0, 10)], [("t1", 0, 6), ("t1", 4, 10)])  # chunks overlap: 12 chunk chars
    assert (overlapping.recall, overlapping.precision, overlapping.iou) == pytest.approx((1.0, 10 / 12, 10 / 12))
    elsewhere = span_scores([("t1", 0, 10)], [("t2", 0, 10)])
    assert (elsewhere.recall, elsewhere.precision, elsewhere.iou) == (0.0, 0.0, 0.0)
    assert span_scores([("t1", 0, 10)], []).iou == 0.0


def test_percentile_of_hand_computed_values() -> None:
    assert percentile([5, 1, 3, 2, 4], 50) == 3
    assert percentile(list(range(1, 101)), 95) == 95
    assert percentile([], 50) == 0.0
