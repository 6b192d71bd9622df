"""The LoCoMo retrieval benchmark: evidence parsing, recall@k as LoCoMo defines it, and the report's shape."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import locomo_sample, write_locomo
from hyperloom.config import Config
from hyperloom.errors import InputError
from hyperloom.evals.locomo import load_locomo
from hyperloom.evals.retrieval import evidence_recall, percentile, run_retrieval


def test_recall_is_the_fraction_of_evidence_in_the_top_k() -> None:
    ranked = ["D1:1", "D2:2", "D1:3", "D3:1"]
    assert evidence_recall(ranked, ["D1:3", "D9:9"], 3) == 0.5
    assert evidence_recall(ranked, ["D1:3", "D9:9"], 2) == 0.0
    assert evidence_recall(ranked, ["D1:1"], 1) == 1.0


def test_percentile_of_hand_computed_values() -> None:
    assert percentile([5, 1, 3, 2, 4], 50) == 3
    assert percentile(list(range(1, 101)), 95) == 95


def test_malformed_evidence_is_parsed_or_skipped_and_recorded(tmp_path: Path) -> None:
    (sample,) = load_locomo(write_locomo(tmp_path / "l.json", [locomo_sample()]))
    by_text = {q.text: q for q in sample.questions}
    assert by_text["What did Bo repair and where did he ride it?"].evidence == ["D1:2", "D2:1"]
    assert by_text["What breed is the puppy?"].evidence == ["D1:3"]
    assert sample.parsed_evidence == ["conv-t q2: 'D1:2; D2:1'"]
    assert sample.skipped_evidence == ["conv-t q3: 'D9:99'"]
    assert [s.id for s in sample.conversation.sessions] == ["session_1", "session_2"]  # a date with no turns is no session
    assert sample.conversation.turns[2].caption.startswith("a photo of a golden retriever")
    assert sample.conversation.turns[0].created_at == "2023-05-08T13:56:00"


def test_run_retrieval_report(tmp_path: Path, embedder) -> None:
    path = write_locomo(tmp_path / "l.json", [locomo_sample("conv-a"), locomo_sample("conv-b")])
    report = run_retrieval(load_locomo(path), (1, 5), config=Config(home=tmp_path / "unused"))
    assert report["dataset"] == "locomo" and report["questions"] == 8  # category 5 is not asked
    assert set(report["retrieval"]["by_category"]) == {"multi-hop", "open-domain", "single-hop"}
    assert report["retrieval"]["recall@k"]["5"] == 1.0  # five turns: everything is in the top 5
    assert 0.0 <= report["retrieval"]["recall@k"]["1"] <= 1.0
    assert report["ingest"]["turns"] == 10 and report["latency_ms"]["search"]["p95"] > 0
    assert not (tmp_path / "unused").exists()  # evaluation never touches the user's data directory


def test_missing_file_says_where_locomo_is_published(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="snap-research/locomo"):
        load_locomo(tmp_path / "locomo10.json")


def test_truncated_file_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "l.json"
    path.write_text(json.dumps([locomo_sample()])[:-40])
    with pytest.raises(InputError, match="not valid JSON"):
        load_locomo(path)


def test_question_with_unknown_category_is_refused(tmp_path: Path) -> None:
    sample = locomo_sample()
    sample["qa"][0]["category"] = 7
    with pytest.raises(InputError, match="`category` in 1-5"):
        load_locomo(write_locomo(tmp_path / "l.json", [sample]))
