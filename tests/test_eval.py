"""The LoCoMo benchmark: evidence parsing, categories by numeric id, and the report's shape."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import locomo_sample, write_locomo
from hyperloom.config import Config
from hyperloom.errors import InputError
from hyperloom.evals.datasets import load_dataset
from hyperloom.evals.runner import RunOptions, run_eval


def test_malformed_evidence_is_parsed_or_skipped_and_recorded(tmp_path: Path) -> None:
    dataset = load_dataset("locomo", write_locomo(tmp_path / "l.json", [locomo_sample()]))
    (unit,) = dataset.units
    by_text = {q.text: q for q in unit.questions}
    assert by_text["What did Bo repair and where did he ride it?"].evidence == ("D1:2", "D2:1")
    assert by_text["What did Bo repair and where did he ride it?"].evidence_sessions == ("session_1", "session_2")
    assert by_text["What breed is the puppy?"].evidence == ("D1:3",)
    assert dataset.notes["parsed_evidence"] == ["conv-t q2: 'D1:2; D2:1'"]
    assert dataset.notes["skipped_evidence"] == ["conv-t q3: 'D9:99'"]
    assert [s.id for s in unit.conversation.sessions] == ["session_1", "session_2"]  # a date with no turns is no session
    assert unit.conversation.turns[2].caption.startswith("a photo of a golden retriever")
    assert unit.conversation.turns[0].created_at == "2023-05-08T13:56:00"


def test_categories_by_numeric_id_and_exclusions(tmp_path: Path) -> None:
    sample = locomo_sample()
    sample["qa"].append({"question": "Is Ada kind?", "answer": 2022, "evidence": [], "category": 2})
    (unit,) = load_dataset("locomo", write_locomo(tmp_path / "l.json", [sample])).units
    q = {q.key: q for q in unit.questions}
    assert [q[f"conv-t/q{i}"].category for i in range(5)] == ["single-hop", "single-hop", "multi-hop", "open-domain", "adversarial"]
    assert q["conv-t/q4"].excluded == "adversarial" and q["conv-t/q4"].answer is None
    assert q["conv-t/q5"].excluded == "no evidence" and q["conv-t/q5"].answer == "2022"  # a bare number becomes text


def test_run_report(tmp_path: Path) -> None:
    path = write_locomo(tmp_path / "l.json", [locomo_sample("conv-a"), locomo_sample("conv-b")])
    options = RunOptions(ks=(1, 5), config=Config(home=tmp_path / "unused"))
    report = run_eval(load_dataset("locomo", path), options, tmp_path / "out")
    assert report["dataset"] == "locomo" and report["questions"] == 8 and report["complete"]  # category 5 is not asked
    assert report["excluded"] == {"adversarial": 2}
    assert set(report["retrieval"]["by_category"]) == {"multi-hop", "open-domain", "single-hop"}
    assert report["retrieval"]["recall@k"]["5"] == 1.0  # five turns: everything is in the top 5
    assert report["retrieval"]["session"]["recall_all@k"]["5"] == 1.0
    assert 0.0 <= report["retrieval"]["recall@k"]["1"] <= 1.0
    assert report["ingest"]["turns"] == 10 and report["latency_ms"]["search"]["p95"] > 0
    assert report["evidence_ids"]["skipped"] == ["conv-a q3: 'D9:99'", "conv-b q3: 'D9:99'"]
    assert report["run"]["config"]["memory"] == "structured" and "home" not in report["run"]["config"]
    assert report["run"]["versions"]["hyperloom"] and "revision" in report["run"]["git"]
    assert not (tmp_path / "unused").exists()  # evaluation never touches the user's data directory
    assert json.loads((tmp_path / "out" / "report.json").read_text()) == report


def test_missing_file_says_where_locomo_is_published(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="snap-research/locomo"):
        load_dataset("locomo", tmp_path / "locomo10.json")


def test_truncated_file_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "l.json"
    path.write_text(json.dumps([locomo_sample()])[:-40])
    with pytest.raises(InputError, match="not valid JSON"):
        load_dataset("locomo", path)


def test_question_with_unknown_category_is_refused(tmp_path: Path) -> None:
    sample = locomo_sample()
    sample["qa"][0]["category"] = 7
    with pytest.raises(InputError, match="`category` in 1-5"):
        load_dataset("locomo", write_locomo(tmp_path / "l.json", [sample]))


def test_question_without_an_evidence_list_is_refused(tmp_path: Path) -> None:
    sample = locomo_sample()
    del sample["qa"][1]["evidence"]
    with pytest.raises(InputError, match="no `evidence` list"):
        load_dataset("locomo", write_locomo(tmp_path / "l.json", [sample]))


def test_report_counts_temporal_questions_whose_date_was_resolved(tmp_path: Path) -> None:
    sample = locomo_sample()
    sample["qa"] += [
        {"question": "When did Ada adopt Biscuit?", "answer": "7 May 2023", "evidence": ["D1:1"], "category": 2},  # "yesterday" on 8 May
        {"question": "When did Bo ride to the lake?", "answer": "June 2019", "evidence": ["D2:1"], "category": 2},  # no such date said
    ]
    options = RunOptions(ks=(1, 5), config=Config(home=tmp_path / "unused"))
    report = run_eval(load_dataset("locomo", write_locomo(tmp_path / "l.json", [sample])), options, tmp_path / "out")
    assert report["temporal_dates"] == {"questions": 2, "share": 0.5}
    assert "resolved dates of the top-10 evidence: 0.500 of 2" in (tmp_path / "out" / "report.md").read_text()
