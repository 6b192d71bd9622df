"""Evidence ids in the forms other LoCoMo-format files use: ranges, lists, run-together ids, stray punctuation."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import locomo_sample, write_locomo
from hyperloom.evals.datasets import load_dataset


def _load(tmp_path: Path, *raw_ids: str):
    sample = locomo_sample()
    session_1 = sample["conversation"]["session_1"]
    session_1 += [{"speaker": "Bo", "dia_id": f"D1:{n}", "text": f"Line {n}."} for n in range(4, 7)]
    sample["qa"] = [{"question": f"Q{i}?", "answer": "x", "evidence": [raw], "category": 4} for i, raw in enumerate(raw_ids)]
    dataset = load_dataset("locomo", write_locomo(tmp_path / "l.json", [sample]))
    return [q.evidence for q in dataset.units[0].questions], dataset.notes


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("D1:3-D1:5", ("D1:3", "D1:4", "D1:5")),  # a range is every turn in it
        ("D1:4-6", ("D1:4", "D1:5", "D1:6")),  # the session named once
        ("D1:6-D2:1", ("D1:6", "D2:1")),  # across sessions, in conversation order
        ("D1:2;D2:1", ("D1:2", "D2:1")),
        ("D1:2; D2:1", ("D1:2", "D2:1")),
        ("D1:2 ; D2:1;", ("D1:2", "D2:1")),
        ("D1:2,D2:2", ("D1:2", "D2:2")),
        ("D1:5:D2:1", ("D1:5", "D2:1")),  # two ids run together by a colon
        ("D1:3.", ("D1:3",)),  # trailing punctuation
        ("(D2:2)", ("D2:2",)),
        ("d1 : 4", ("D1:4",)),
        ("D:2:1", ("D2:1",)),  # a stray colon after the D (LoCoMo dev, conv-43)
    ],
)
def test_each_form_is_parsed_and_noted(tmp_path: Path, raw: str, expected: tuple[str, ...]) -> None:
    (evidence,), notes = _load(tmp_path, raw)
    assert evidence == expected
    assert notes["parsed_evidence"] == [f"conv-t q0: {raw!r}"] and not notes["skipped_evidence"] and not notes["unparsed_evidence"]


def test_a_plain_id_is_not_noted(tmp_path: Path) -> None:
    (evidence,), notes = _load(tmp_path, "D1:6")
    assert evidence == ("D1:6",) and not any(notes.values())


def test_ids_naming_no_turn_are_skipped_and_text_without_ids_is_unparsed(tmp_path: Path) -> None:
    evidences, notes = _load(tmp_path, "D1:2-D1:99", "D9:1; D1:2", "see session 2", "")
    assert evidences == [(), ("D1:2",), (), ()]  # a range with a missing end names nothing for sure
    assert notes["skipped_evidence"] == ["conv-t q0: 'D1:2-D1:99'", "conv-t q1: 'D9:1; D1:2'"]
    assert notes["unparsed_evidence"] == ["conv-t q2: 'see session 2'", "conv-t q3: ''"]


def test_the_report_counts_each_outcome() -> None:
    from hyperloom.evals.report import evidence_ids

    notes = {"parsed_evidence": ["a", "b"], "skipped_evidence": ["c"], "unparsed_evidence": []}
    assert evidence_ids(notes)["counts"] == {"parsed": 2, "skipped": 1, "unparsed": 0}
