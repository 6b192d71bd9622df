"""QA mode with the agent: answers scored by hand, critic and adaptive evidence, resume, workers, judge, bad input.

The agent answers with model "none" (extractive, deterministic) and a fixed critic,
so every number here can be checked by eye against the fixture in conftest.py.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import locomo_sample, write_locomo
from hyperloom.agent.critic import FixedCritic
from hyperloom.config import Config
from hyperloom.errors import HyperloomError
from hyperloom.evals.compare import load_run, rows
from hyperloom.evals.agent_qa import adaptive_recall, critic_label, question_now
from hyperloom.evals.datasets import load_dataset
from hyperloom.evals.report import STAGES, critic_summary
from hyperloom.evals.runner import RunOptions, run_eval
from test_cli import HYPERLOOM, assert_one_line_error, run

JUDGE = "openai/gpt-4o-mini"
TIMINGS = {"latency_ms", "seconds", "peak_rss_mb", "answer_ms", "stages_ms"}


def records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()[1:]]


def stable(rows: list[dict]) -> list[dict]:
    """Records without timings, in key order: what must not depend on workers or on a resume."""
    return sorted(({k: v for k, v in r.items() if k not in TIMINGS} for r in rows), key=lambda r: (r["kind"], r.get("key", r.get("unit"))))


def options(tmp_path: Path, **kw) -> RunOptions:
    config = Config(home=tmp_path / "unused-home", model="none")
    return RunOptions(**{"mode": "qa", "ks": (1, 5), "config": config, "critic": FixedCritic(1.0), **kw})


def one(tmp_path: Path):
    return load_dataset("locomo", write_locomo(tmp_path / "one.json", [locomo_sample()]))


def two(tmp_path: Path):
    return load_dataset("locomo", write_locomo(tmp_path / "two.json", [locomo_sample("conv-a"), locomo_sample("conv-b")]))


# The extractive answers (model "none") to the fixture's questions, and their scores worked out by hand.
# Official F1: drop a/an/the/and and punctuation, Porter-stem, multiset token F1.
#   q0 "i adopt puppi call biscuit yesterday" vs "biscuit": P 1/6, R 1 -> F1 2/7.
#      BLEU-1: 8 tokens (words and "!"), 1 shared, longer than the gold -> 1/8.
#   q1 "i final rode bicycl to lake back" vs "to lake": P 2/7, R 1 -> F1 4/9.
#      BLEU-1: 11 tokens (i finally rode the bicycle to the lake and back .), "to" "the" "lake" shared -> 3/11.
#   q2 multi-hop, gold split on ",": "bicycle" vs the 8 stems of the prediction -> 2/9; "lake" -> 0; mean 1/9.
#   q3 open-domain "golden retriever": nothing shared -> 0.
#   q4 adversarial: the answer does not say "not mentioned" / "no information available" -> 0.
EXPECTED = {
    "conv-t/q0": ("I adopted a puppy called Biscuit yesterday!", "D1:1", 2 / 7, 1 / 8),
    "conv-t/q1": ("I finally rode the bicycle to the lake and back.", "D2:1", 4 / 9, 3 / 11),
    "conv-t/q2": ("Lovely. I spent the weekend fixing my old bicycle.", "D1:2", 1 / 9, None),
    "conv-t/q3": ("I adopted a puppy called Biscuit yesterday!", "D1:1", 0.0, None),
    "conv-t/q4": ("I adopted a puppy called Biscuit yesterday!", "D1:1", 0.0, None),
}


def test_qa_answers_are_scored_as_worked_out_by_hand(tmp_path: Path) -> None:
    report = run_eval(one(tmp_path), options(tmp_path), tmp_path / "out")
    by_key = {r["key"]: r for r in records(tmp_path / "out") if r["kind"] == "question"}
    for key, (prediction, cited, f1, bleu) in EXPECTED.items():
        r = by_key[key]
        assert r["prediction"] == prediction, f"the extractive answer changed; re-check the hand-worked scores ({key}: {r['prediction']!r})"
        assert r["qa"]["f1"] == pytest.approx(f1), key
        if bleu is not None:
            assert r["qa"]["bleu1"] == pytest.approx(bleu) and r["qa"]["em"] == 0.0, key
        assert [c[0] for c in r["citations"]] == [cited] and r["quotes_verified"] is True
        assert r["rounds"] == 1 and r["probabilities"] == [1.0] and r["round_kinds"] == ["initial"]
        assert sorted(r["evidence"]) == ["D1:1", "D1:2", "D1:3", "D2:1", "D2:2"] and r["evidence_turns"] == 5  # the first round finds all five turns
        assert r["usage"] == {"calls": 0, "prompt_tokens": 0, "completion_tokens": 0, "dollars": 0} and r["model"] == "none"
        assert set(r["stages_ms"]) == set(STAGES)
    assert by_key["conv-t/q0"]["citations"] == [["D1:1", 0, 43]]
    # Gold evidence: q0 D1:1, q1 D2:1, q2 D1:2 + D2:1, q3 D1:3 (D9:99 is skipped as no real turn); q4 has none.
    assert [by_key[f"conv-t/q{i}"]["critic_label"] for i in range(5)] == [True, True, True, True, None]
    assert by_key["conv-t/q4"]["adaptive_recall"] is None

    qa = report["qa"]
    assert qa["questions"] == 4  # categories 1-4, as published QA scores count
    assert qa["f1"] == pytest.approx(round((2 / 7 + 4 / 9 + 1 / 9 + 0) / 4, 4))  # 53/252
    assert qa["by_category"]["single-hop"]["f1"] == pytest.approx(round((2 / 7 + 4 / 9) / 2, 4))
    assert qa["by_category"]["multi-hop"]["f1"] == pytest.approx(round(1 / 9, 4))
    assert qa["by_category"]["adversarial"]["f1"] == 0.0 and qa["judge"] is None

    critic = report["critic"]
    assert critic["kind"] == "FixedCritic" and critic["threshold"] == 0.5 and critic["held_out"] is None
    assert critic["questions"] == 4 and critic["positives"] == 4 and critic["auroc"] is None  # one class only: AUROC is undefined
    assert critic["accuracy"] == 1.0 and critic["mean_rounds"] == 1.0 and critic["rounds"] == {"1": 4}  # scored questions only: not the adversarial one
    assert critic["mean_evidence_turns"] == 5.0 and critic["adaptive_recall"] == 1.0 and critic["first_round_recall"] == 1.0
    assert report["quotes_verified"] == 1.0 and report["quotes"]["citations"] == 5
    assert report["cost"]["calls"] == 0 and report["cost"]["dollars"] == 0 and report["cost"]["per_question"]["calls"] == 0
    for stage in (*STAGES, "end_to_end"):
        assert set(report["latency_ms"][stage]) >= {"p50", "p95"}
    assert report["latency_ms"]["end_to_end"]["p50"] >= report["latency_ms"]["retrieve"]["p50"]
    assert report["answers_by"].startswith("agent, critic FixedCritic")

    markdown = (tmp_path / "out" / "report.md").read_text()
    assert "## Answers" in markdown and "| single-hop | 2 | 0.365 |" in markdown
    assert "critic and adaptive retrieval" in markdown and "Latency per graph stage" in markdown and "Official F1 by category" in markdown
    for name in ("rounds_recall.png", "stage_latency.png", "latency.png"):
        assert name in report["plots"] and (tmp_path / "out" / name).read_bytes()[:4] == b"\x89PNG"


def test_a_critic_that_never_suffices_takes_every_round(tmp_path: Path) -> None:
    report = run_eval(one(tmp_path), options(tmp_path, critic=FixedCritic(0.0), limit=2), tmp_path / "out")
    assert report["critic"]["mean_rounds"] == 3.0 and report["critic"]["rounds"] == {"3": 2}  # max_rounds
    assert report["critic"]["accuracy"] == 0.0  # probability 0 says "insufficient"; the first round held everything
    rows = [r for r in records(tmp_path / "out") if r["kind"] == "question"]
    assert all(r["probabilities"] == [0.0, 0.0, 0.0] and r["round_kinds"][0] == "initial" for r in rows)


def test_critic_auroc_and_accuracy_by_hand() -> None:
    # Labels 1, 0, 1, 0 with first-round probabilities 0.9, 0.2, 0.4, 0.6: of the four (positive, negative)
    # pairs, the positive ranks higher in three (0.9>0.2, 0.9>0.6, 0.4>0.2) -> AUROC 0.75; at 0.5, two right -> 0.5.
    rows = [
        {"unit": unit, "critic_label": label, "probabilities": [p, 0.99], "rounds": n, "evidence_turns": t, "adaptive_recall": ar, "first_round_recall": fr}
        for unit, label, p, n, t, ar, fr in [("conv-26", True, 0.9, 1, 8, 1.0, 1.0), ("conv-26", False, 0.2, 2, 13, 1.0, 0.5),
                                             ("conv-99", True, 0.4, 2, 13, 1.0, 1.0), ("conv-99", False, 0.6, 1, 8, 0.0, 0.0)]
    ]
    summary = critic_summary(rows, [{"critic": {"kind": "LogisticCritic", "threshold": 0.5, "trained_on": ["conv-26"]}}])
    assert summary["auroc"] == 0.75 and summary["accuracy"] == 0.5
    assert summary["mean_rounds"] == 1.5 and summary["mean_evidence_turns"] == 10.5 and summary["adaptive_recall"] == 0.75
    assert summary["trained_on"] == ["conv-26"] and summary["rounds"] == {"1": 2, "2": 2}
    # conv-26 is where the critic practised: held out are the last two, ranked the wrong way round.
    assert summary["trained_on_in_run"] == ["conv-26"] and summary["held_out"] == {"questions": 2, "positives": 1, "auroc": 0.0, "accuracy": 0.0}
    assert summary["recall_by_rounds"]["2"] == {"questions": 2, "first_round_recall": 0.75, "adaptive_recall": 1.0, "evidence_turns": 13.0}


def test_question_time_is_the_conversations_latest_turn() -> None:
    from hyperloom.memory.formats import locomo_conversation
    from hyperloom.evals.datasets import Question, Unit

    unit = Unit(locomo_conversation(locomo_sample(), 0), ())
    question = Question("k", "conv-t", "What happened last week?", "x", "temporal")
    assert question_now(question, unit) == "2023-06-20T10:00:00"  # session 2, not session 3 (it has no turns), not today
    assert question_now(Question("k", "conv-t", "q", "x", "temporal", date="2023/05/30 (Tue) 10:00"), unit) == "2023/05/30 (Tue) 10:00"
    assert adaptive_recall(["D1:1", "D2:1"], ["D2:1", "D1:2"]) == 0.5 and adaptive_recall(["D1:1"], []) is None
    assert critic_label(["D1:2", "D2:1"], ["D2:1"]) is True and critic_label(["D1:2"], ["D2:1", "D1:2"]) is False


def test_qa_resume_after_a_crash_gives_the_same_results(tmp_path: Path) -> None:
    dataset = two(tmp_path)
    full = run_eval(dataset, options(tmp_path), tmp_path / "full")
    crashed = tmp_path / "crashed"
    crashed.mkdir()
    lines = (tmp_path / "full" / "results.jsonl").read_text().splitlines()
    (crashed / "results.jsonl").write_text("\n".join(lines[:4]) + "\n" + lines[4][:40])  # manifest, ingest, 2 answers, a cut line
    progress = []
    resumed = run_eval(dataset, options(tmp_path, resume=True), crashed, on_progress=lambda done, total, metric: progress.append((done, metric)))
    assert progress[0][0] == 2 and progress[-1][0] == 10 and "F1" in progress[-1][1]
    assert resumed["complete"] and resumed["run"]["resumed"]
    assert resumed["qa"] == full["qa"] and resumed["critic"] == full["critic"]
    questions = lambda out: stable([r for r in records(out) if r["kind"] == "question"])  # noqa: E731 (conv-a is ingested again)
    assert questions(crashed) == questions(tmp_path / "full")
    with pytest.raises(HyperloomError, match="another `answers`"):
        run_eval(dataset, options(tmp_path, resume=True, critic=FixedCritic(0.0)), crashed)  # answers of two critics never mix


def test_qa_two_workers_give_the_same_results_as_one(tmp_path: Path) -> None:
    dataset = two(tmp_path)
    a = run_eval(dataset, options(tmp_path, workers=1), tmp_path / "one")
    b = run_eval(dataset, options(tmp_path, workers=2), tmp_path / "two")
    assert stable(records(tmp_path / "one")) == stable(records(tmp_path / "two"))
    assert a["qa"] == b["qa"] and a["critic"] == b["critic"] and a["quotes"] == b["quotes"] and b["run"]["workers"] == 2
    table = {measure: (x, y) for measure, x, y in rows(load_run(tmp_path / "one"), load_run(tmp_path / "two"))}
    assert table["QA f1"] == (a["qa"]["f1"], b["qa"]["f1"]) and table["critic mean rounds"] == (1.0, 1.0) and "answer latency p95 (ms)" in table


def test_qa_with_the_agent_and_a_judge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")  # litellm checks that a key is set; mock_response makes no call
    opts = options(tmp_path, judge=JUDGE, judge_cache=tmp_path / "judge.sqlite", judge_kwargs={"mock_response": "Same pet.\nCORRECT"})
    report = run_eval(one(tmp_path), opts, tmp_path / "out")
    judge = report["qa"]["judge"]
    assert judge["lenient"] == 1.0 and judge["strict"] == 1.0 and judge["model"] == JUDGE and len(judge["prompt_sha"]["locomo_lenient"]) == 64
    assert report["cost"]["judge"]["calls"] == 8 and report["cost"]["calls"] == 0  # the judge's calls are not the agent's
    assert "judge lenient" in (tmp_path / "out" / "report.md").read_text()


# -- the command line ---------------------------------------------------------------------------


def test_cli_qa_bad_input_is_one_sentence_and_no_report(tmp_path: Path) -> None:
    data = write_locomo(tmp_path / "l.json", [locomo_sample()])
    out = tmp_path / "out"
    without_key = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    result = subprocess.run([HYPERLOOM, "eval", "locomo", str(data), "--mode", "qa", "--model", "none", "--judge", JUDGE, "--out", str(out)],
                            capture_output=True, text=True, env={**without_key, "HYPERLOOM_HOME": str(tmp_path / "h")}, timeout=300)
    assert_one_line_error(result, "needs OPENAI_API_KEY")
    assert not (out / "report.json").exists() and not (out / "report.md").exists()
    assert_one_line_error(run("eval", "locomo", str(data), "--mode", "qa", "--model", "nosuchmodel", "--out", str(out), home=tmp_path / "h"), "nosuchmodel")
    assert_one_line_error(run("eval", "locomo", str(data), "--model", "none", "--out", str(out), home=tmp_path / "h"), "needs --mode qa")
    assert not (out / "report.json").exists()


def test_cli_qa_with_the_shipped_critic(tmp_path: Path) -> None:
    data = write_locomo(tmp_path / "l.json", [locomo_sample("conv-a"), locomo_sample("conv-b")])
    result = run("eval", "locomo", str(data), "--mode", "qa", "--model", "none", "--k", "1,5", "--workers", "2", "--out", str(tmp_path / "out"), home=tmp_path / "h")
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["complete"] and report["critic"]["kind"] == "LogisticCritic" and report["qa"]["questions"] == 8
    assert "critic LogisticCritic" in result.stdout and "F1" in result.stdout and not (tmp_path / "h").exists()


def test_the_reading_critic_is_reported_by_hand(tmp_path: Path) -> None:
    """P(holds) of the first round and P(right) of the last, against their labels; confidence words; the plots."""
    from hyperloom.evals.plots import critic_plots
    from hyperloom.evals.report import adaptive_vs_fixed, calibration

    rows = [
        {"unit": "conv-a", "critic_label": label, "probabilities": [ph], "p_holds": [ph], "p_right": [0.1, pr], "qa": {"f1": f1}, "confidence": word,
         "rounds": 2, "evidence_turns": 12, "adaptive_recall": 1.0, "first_round_recall": 1.0, "fixed_f1": 0.5, "fixed_k": 10}
        for label, ph, pr, f1, word in [(True, 0.9, 0.8, 1.0, "sure"), (False, 0.3, 0.2, 0.0, "unsure"), (True, 0.7, 0.6, 0.0, "sure"), (False, 0.6, 0.4, 0.5, "likely")]
    ]
    summary = critic_summary(rows, [{"critic": {"kind": "LogisticCritic", "threshold": 0.5, "trained_on": []}}])
    assert summary["holds"]["auroc"] == 1.0 and summary["holds"]["questions"] == 4
    assert summary["right"]["auroc"] == 0.75  # right: 0.8 and 0.4 (F1 1.0, 0.5) over wrong: 0.2 and 0.6; 3 of 4 pairs in order
    assert summary["confidence"] == {"sure": {"answers": 2, "right": 0.5}, "unsure": {"answers": 1, "right": 0.0}, "likely": {"answers": 1, "right": 1.0}}
    assert summary["fixed"] == {"k": 10, "questions": 4, "f1": 0.5, "adaptive_f1": 0.375}
    cal = calibration([1, 0, 1, 0], [0.9, 0.3, 0.7, 0.6])
    assert cal["ece"] == pytest.approx((abs(0.9 - 1) + abs(0.3 - 0) + abs(0.7 - 1) + abs(0.6 - 0)) / 4)  # one question per bin
    report = {"critic": summary, "retrieval": {"recall@k": {"1": 0.5, "5": 0.8, "10": 0.9}}}
    summary["adaptive_vs_fixed"] = adaptive_vs_fixed(report, rows)
    assert summary["adaptive_vs_fixed"]["adaptive"] == {"turns": 12.0, "recall": 1.0, "f1": 0.375}
    written = {p.name for p in critic_plots(summary, tmp_path)}
    assert written == {"critic_reliability.png", "adaptive_vs_fixed.png", "adaptive_vs_fixed_f1.png"}


def test_qa_with_the_reader_compares_adaptive_with_fixed_top_10(tmp_path: Path) -> None:
    config = Config(home=tmp_path / "unused-home", model="reader")
    report = run_eval(two(tmp_path), RunOptions(mode="qa", ks=(1, 5, 10), config=config), tmp_path / "out")
    versus = report["critic"]["adaptive_vs_fixed"]
    assert versus["fixed_f1"]["k"] == 10 and versus["fixed_f1"]["questions"] == 8 and set(versus["fixed_recall"]) == {"1", "5", "10"}
    assert "adaptive_vs_fixed.png" in report["plots"] and "reader F1: adaptive / fixed top-10" in (tmp_path / "out" / "report.md").read_text()
