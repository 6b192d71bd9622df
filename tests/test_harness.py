"""The evaluation harness end to end: LongMemEval and JSONL data, resumable runs, workers, QA with a judge, reports."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import locomo_sample, write_locomo
from hyperloom.config import Config
from hyperloom.errors import ConfigError, InputError
from hyperloom.evals.compare import load_run, rows
from hyperloom.evals.datasets import load_dataset
from hyperloom.evals.judge import Judge, prompts_for, template
from hyperloom.evals.runner import RunOptions, run_eval
from test_cli import HYPERLOOM, assert_one_line_error, run

JUDGE = "openai/gpt-4o-mini"


def longmemeval_item(qid: str = "q-1", qtype: str = "single-session-user") -> dict:
    """One question in the official format: a distractor session, then the session holding the answer."""
    return {
        "question_id": qid,
        "question_type": qtype,
        "question": "What colour did I paint my bike?",
        "answer": "red",
        "question_date": "2023/05/30 (Tue) 10:00",
        "haystack_session_ids": ["sharegpt_1", "answer_x_1"],
        "haystack_dates": ["2023/05/01 (Mon) 09:00", "2023/05/02 (Tue) 09:15"],
        "haystack_sessions": [
            [{"role": "user", "content": "Recommend a pasta recipe."}, {"role": "assistant", "content": "Try carbonara with eggs and pecorino."}],
            [
                {"role": "user", "content": "I just painted my bike bright red.", "has_answer": True},
                {"role": "assistant", "content": "   "},
                {"role": "assistant", "content": "Red bikes are easy to spot in traffic.", "has_answer": False},
            ],
        ],
        "answer_session_ids": ["answer_x_1"],
    }


def write_json(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data))
    return path


JSONL = [
    {"type": "conversation", "id": "maya", "sessions": [
        {"id": "s1", "started_at": "2024-05-01 09:30", "turns": [
            {"speaker": "Maya", "text": "We moved to Lisbon last week. The flat has a fig tree."},
            {"speaker": "Jonas", "text": "How is the new flat?"}]},
        {"id": "s2", "turns": [{"speaker": "Maya", "text": "I started cello lessons on Monday."}]}]},
    {"type": "question", "conversation": "maya", "question": "Where does Maya live?", "answer": "Lisbon", "category": "places",
     "evidence": [{"turn": "s1:1", "start": 0, "end": 29}]},
    {"type": "question", "conversation": "maya", "id": "cello", "question": "What instrument is Maya learning?", "answer": "cello", "evidence": ["s2:1"]},
    {"type": "question", "conversation": "maya", "question": "What is Maya's favourite food?", "abstain": True},
]


def write_jsonl(path: Path, objects: list[dict]) -> Path:
    path.write_text("\n".join(json.dumps(o) for o in objects) + "\n")
    return path


def stable(records: list[dict]) -> list[dict]:
    """Records without timings, in key order: what must not depend on the number of workers."""
    drop = {"latency_ms", "seconds", "peak_rss_mb", "answer_ms"}
    return sorted(({k: v for k, v in r.items() if k not in drop} for r in records), key=lambda r: (r["kind"], r.get("key", r.get("unit"))))


def records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()[1:]]


# -- LongMemEval -----------------------------------------------------------------


def test_longmemeval_loader_reads_the_official_format(tmp_path: Path) -> None:
    path = write_json(tmp_path / "lme.json", [longmemeval_item(), longmemeval_item("q-2_abs", "multi-session")])
    dataset = load_dataset("longmemeval", path)
    first, second = dataset.units
    q = first.questions[0]
    assert first.name == q.unit == q.key == "q-1"  # each question is its own namespace
    assert [t.id for t in first.conversation.turns] == ["sharegpt_1:1", "sharegpt_1:2", "answer_x_1:1", "answer_x_1:3"]
    assert q.evidence == ("answer_x_1:1",) and q.evidence_sessions == ("answer_x_1",) and q.excluded is None
    assert first.conversation.turns[2].created_at == "2023-05-02T09:15:00" and first.conversation.turns[3].speaker == "assistant"
    assert second.questions[0].excluded == "abstention"
    assert dataset.notes["empty_turns"] == ["q-1: answer_x_1:2", "q-2_abs: answer_x_1:2"]
    assert dataset.headline == ("session", "recall_any") and dataset.default_ks == (5, 10, 50)


def test_longmemeval_missing_file_says_where_it_is_published(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="xiaowu0162/LongMemEval.*huggingface"):
        load_dataset("longmemeval", tmp_path / "longmemeval_s_cleaned.json")


def test_longmemeval_question_without_evidence_is_refused(tmp_path: Path) -> None:
    item = longmemeval_item()
    item["answer_session_ids"] = []
    with pytest.raises(InputError, match="no `answer_session_ids`"):
        load_dataset("longmemeval", write_json(tmp_path / "lme.json", [item]))


def test_longmemeval_run_scores_sessions_and_turns(tmp_path: Path) -> None:
    path = write_json(tmp_path / "lme.json", [longmemeval_item(), longmemeval_item("q-2_abs")])
    report = run_eval(load_dataset("longmemeval", path), RunOptions(ks=(1, 5)), tmp_path / "out")
    assert report["questions"] == 1 and report["excluded"] == {"abstention": 1}
    retrieval = report["retrieval"]
    assert retrieval["session"]["recall_any@k"]["5"] == 1.0 and retrieval["turn"]["recall_all@k"]["5"] == 1.0
    assert set(retrieval["by_category"]) == {"single-session-user"}
    assert 0.0 < retrieval["span"]["precision_omega"] <= 1.0


# -- JSONL -----------------------------------------------------------------------


def test_jsonl_loader(tmp_path: Path) -> None:
    (unit,) = load_dataset("jsonl", write_jsonl(tmp_path / "mine.jsonl", JSONL)).units
    where, cello, food = unit.questions
    assert (where.key, cello.key, food.key) == ("maya/q1", "maya/cello", "maya/q3")
    assert where.spans == (("s1:1", 0, 29),) and where.evidence == ("s1:1",) and where.category == "places"
    assert unit.conversation.turns[0].text[0:29] == "We moved to Lisbon last week."
    assert cello.evidence_sessions == ("s2",) and cello.category == "general" and cello.spans == ()
    assert food.excluded == "abstention"


@pytest.mark.parametrize(
    "lines, fragment",
    [
        ([JSONL[0], {"type": "question", "conversation": "maya", "question": "Where?"}], "has no `evidence`"),
        ([JSONL[0], {"type": "question", "conversation": "tom", "question": "Where?", "evidence": ["s1:1"]}], "is not defined"),
        ([JSONL[0], {"type": "question", "conversation": "maya", "question": "Where?", "evidence": [{"turn": "s1:1", "start": 5, "end": 500}]}], "names no turn"),
        ([JSONL[0], {"type": "answer"}], "each line is a `conversation` or a `question`"),
        ([JSONL[0], JSONL[0]], "a second time"),
    ],
)
def test_jsonl_bad_input(tmp_path: Path, lines: list[dict], fragment: str) -> None:
    with pytest.raises(InputError, match=fragment):
        load_dataset("jsonl", write_jsonl(tmp_path / "bad.jsonl", lines))


def test_jsonl_truncated_line(tmp_path: Path) -> None:
    path = tmp_path / "cut.jsonl"
    path.write_text(json.dumps(JSONL[0]) + "\n" + json.dumps(JSONL[1])[:-10] + "\n")
    with pytest.raises(InputError, match="Line 2 .* is not valid JSON"):
        load_dataset("jsonl", path)


def test_jsonl_spans_are_scored_against_the_given_characters(tmp_path: Path) -> None:
    report = run_eval(load_dataset("jsonl", write_jsonl(tmp_path / "mine.jsonl", JSONL)), RunOptions(ks=(1, 3)), tmp_path / "out")
    places = report["retrieval"]["by_category"]["places"]["span"]
    # The reference is the first sentence exactly: the span cutter alone finds it whole (precision Ω = 1).
    assert places["precision_omega"] == 1.0 and places["recall@k"]["3"] == 1.0
    assert report["excluded"] == {"abstention": 1} and report["questions"] == 2


# -- runs: resume, workers, interruption -------------------------------------------


def two_conversations(tmp_path: Path):
    return load_dataset("locomo", write_locomo(tmp_path / "l.json", [locomo_sample("conv-a"), locomo_sample("conv-b")]))


def test_resume_after_a_crash_asks_only_what_is_missing(tmp_path: Path) -> None:
    dataset = two_conversations(tmp_path)
    full = run_eval(dataset, RunOptions(ks=(1, 5)), tmp_path / "full")
    crashed = tmp_path / "crashed"
    crashed.mkdir()
    lines = (tmp_path / "full" / "results.jsonl").read_text().splitlines()
    (crashed / "results.jsonl").write_text("\n".join(lines[:4]) + "\n" + lines[4][:25])  # manifest, ingest, 2 answers, a cut line
    progress = []
    resumed = run_eval(dataset, RunOptions(ks=(1, 5), resume=True), crashed, on_progress=lambda done, total, m: progress.append(done))
    assert progress[0] == 2 and progress[-1] == 8  # two questions kept, six asked
    assert resumed["run"]["resumed"] and resumed["complete"]
    assert resumed["retrieval"] == full["retrieval"] and resumed["questions"] == full["questions"]
    keys = [r["key"] for r in records(crashed) if r["kind"] == "question"]
    assert sorted(keys) == sorted(set(keys)) and len(keys) == 8


def test_resume_refuses_a_run_with_other_settings(tmp_path: Path) -> None:
    dataset = two_conversations(tmp_path)
    run_eval(dataset, RunOptions(ks=(1, 5), limit=2), tmp_path / "out")
    with pytest.raises(InputError, match="another `ks`"):
        run_eval(dataset, RunOptions(ks=(1, 10), limit=2, resume=True), tmp_path / "out")


def test_two_workers_give_the_same_results_as_one(tmp_path: Path) -> None:
    dataset = two_conversations(tmp_path)
    one = run_eval(dataset, RunOptions(ks=(1, 5), workers=1), tmp_path / "one")
    two = run_eval(dataset, RunOptions(ks=(1, 5), workers=2), tmp_path / "two")
    assert stable(records(tmp_path / "one")) == stable(records(tmp_path / "two"))
    assert one["retrieval"] == two["retrieval"] and two["run"]["workers"] == 2


def top_hit(agent, question) -> str:
    """An answerer for tests: the text of the best search hit."""
    return agent.search(question.text, 1)[0].text


def test_an_interrupted_run_leaves_its_answers_and_no_report(tmp_path: Path) -> None:
    dataset = two_conversations(tmp_path)
    out = tmp_path / "out"
    run_eval(dataset, RunOptions(ks=(1,), limit=1), out)
    assert (out / "report.json").exists()
    calls = []

    def interrupted(agent, question):
        calls.append(question.key)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return top_hit(agent, question)

    with pytest.raises(KeyboardInterrupt):
        run_eval(dataset, RunOptions(mode="qa", ks=(1,), answerer=interrupted), out)
    assert [r["key"] for r in records(out) if r["kind"] == "question"] == calls[:2]
    assert not (out / "report.json").exists() and not (out / "report.md").exists()  # the old report is gone too


# -- QA mode and the judge -----------------------------------------------------------


def test_qa_mode_scores_answers_and_the_judge_is_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")  # litellm checks that a key is set; mock_response makes no call
    dataset = load_dataset("locomo", write_locomo(tmp_path / "l.json", [locomo_sample()]))
    options = RunOptions(mode="qa", ks=(1, 5), answerer=top_hit, judge=JUDGE, judge_cache=tmp_path / "judge.sqlite",
                         judge_kwargs={"mock_response": "The answer names the same pet.\nCORRECT"})
    report = run_eval(dataset, options, tmp_path / "first")
    qa = report["qa"]
    assert report["questions"] == 5 and qa["questions"] == 4  # category 5 is answered but not in the overall score
    assert qa["by_category"]["adversarial"]["f1"] == 0.0  # the top hit never says "not mentioned"
    assert 0.0 < qa["f1"] <= 1.0 and qa["bleu1"] is not None and qa["em"] is not None
    assert qa["judge"]["lenient"] == 1.0 and qa["judge"]["strict"] == 1.0 and qa["judge"]["model"] == JUDGE
    assert set(qa["judge"]["prompt_sha"]) == {"locomo_lenient", "locomo_strict"} and all(len(h) == 64 for h in qa["judge"]["prompt_sha"].values())
    assert report["cost"]["judge"]["calls"] == 8 and report["cost"]["judge"]["dollars"] > 0
    again = run_eval(dataset, options, tmp_path / "second")
    assert again["cost"]["judge"]["calls"] == 0 and again["cost"]["judge"]["cached"] == 8  # a re-run costs nothing
    assert "## Answers" in (tmp_path / "second" / "report.md").read_text()


def test_judge_label_parsing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    wrong = Judge(JUDGE, tmp_path / "j.sqlite", mock_response="It is about a different topic, so not CORRECT.\nWRONG")
    assert not wrong.verdict("locomo_lenient", "Q?", "gold", "answer").correct
    incorrect = Judge(JUDGE, tmp_path / "k.sqlite", mock_response="INCORRECT")
    assert not incorrect.verdict("locomo_strict", "Q?", "gold", "answer").correct  # INCORRECT is not CORRECT
    yes = Judge(JUDGE, tmp_path / "l.sqlite", mock_response="Yes.")
    assert yes.verdict("longmemeval_default", "Q?", "gold", "answer").correct


def test_a_judge_model_without_a_key_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="needs OPENAI_API_KEY"):
        Judge(JUDGE, tmp_path / "j.sqlite")


def test_longmemeval_judge_prompts_by_type(tmp_path: Path) -> None:
    items = [longmemeval_item("a", "temporal-reasoning"), longmemeval_item("b", "multi-session"), longmemeval_item("c_abs", "knowledge-update")]
    questions = [u.questions[0] for u in load_dataset("longmemeval", write_json(tmp_path / "lme.json", items)).units]
    assert [prompts_for("longmemeval", q) for q in questions] == [["longmemeval_temporal-reasoning"], ["longmemeval_default"], ["longmemeval_abstention"]]
    for name in ("locomo_lenient", "locomo_strict", "longmemeval_default", "longmemeval_knowledge-update", "longmemeval_single-session-preference", "longmemeval_abstention", "longmemeval_temporal-reasoning"):
        filled = template(name).format(question="QQ", gold="GG", answer="AA")
        assert all(x in filled for x in ("QQ", "GG", "AA"))


# -- reports, plots, compare ----------------------------------------------------------


def test_report_markdown_plots_and_compare(tmp_path: Path) -> None:
    dataset = two_conversations(tmp_path)
    a = run_eval(dataset, RunOptions(ks=(1, 5), limit=3), tmp_path / "a")
    run_eval(dataset, RunOptions(ks=(1, 5)), tmp_path / "b")
    markdown = (tmp_path / "b" / "report.md").read_text()
    assert "Published figures" in markdown and "not re-measured" in markdown and "| **all** |" in markdown
    for name in a["plots"]:
        assert (tmp_path / "a" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = {measure: (x, y) for measure, x, y in rows(load_run(tmp_path / "a"), load_run(tmp_path / "b"))}
    assert table["turn recall@5"] == (a["retrieval"]["turn"]["recall@k"]["5"], 1.0)
    result = run("eval", "compare", str(tmp_path / "a"), str(tmp_path / "b"))
    assert result.returncode == 0, result.stderr
    assert "turn recall_any" in result.stdout and "@5" in result.stdout and "asked different questions" in result.stderr
    assert (tmp_path / "b" / "compare.png").read_bytes()[:4] == b"\x89PNG"


def test_compare_refuses_an_unfinished_run(tmp_path: Path) -> None:
    assert_one_line_error(run("eval", "compare", str(tmp_path), str(tmp_path)), "holds no report.json")


# -- the command line --------------------------------------------------------------------


def test_cli_runs_longmemeval_with_two_workers(tmp_path: Path) -> None:
    data = write_json(tmp_path / "lme.json", [longmemeval_item("q-1"), longmemeval_item("q-2")])
    result = run("eval", "longmemeval", str(data), "--k", "1,5", "--workers", "2", "--out", str(tmp_path / "out"), home=tmp_path / "h")
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["questions"] == 2 and report["retrieval"]["session"]["recall_any@k"]["5"] == 1.0
    assert "single-session-user" in result.stdout and not (tmp_path / "h").exists()


@pytest.mark.parametrize(
    "args, fragment",
    [
        (("eval", "mteb", "x.json"), "Unknown data set 'mteb'"),
        (("eval", "longmemeval", "/nonexistent/longmemeval_s_cleaned.json"), "xiaowu0162"),
        (("eval", "jsonl", "/nonexistent/mine.jsonl"), "write your conversations"),
        (("eval", "locomo", "x.json", "--workers", "0"), "--workers must be at least 1"),
        (("eval", "locomo", "x.json", "--memory", "tree"), "`memory` is invalid"),
    ],
)
def test_cli_bad_input(tmp_path: Path, args: tuple[str, ...], fragment: str) -> None:
    assert_one_line_error(run(*args, home=tmp_path), fragment)


def test_cli_truncated_jsonl_and_judge_without_key(tmp_path: Path) -> None:
    cut = tmp_path / "cut.jsonl"
    cut.write_text(json.dumps(JSONL[0])[:-5])
    assert_one_line_error(run("eval", "jsonl", str(cut), "--out", str(tmp_path / "out"), home=tmp_path), "not valid JSON")
    assert not (tmp_path / "out" / "report.json").exists()
    without_key = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    result = subprocess.run([HYPERLOOM, "eval", "locomo", "x.json", "--mode", "qa", "--judge", JUDGE], capture_output=True, text=True, env=without_key, timeout=300)
    assert_one_line_error(result, "needs OPENAI_API_KEY")


def _long_conversation(sample_id: str, turns: int) -> dict:
    sample = locomo_sample(sample_id)
    speakers = (sample["conversation"]["speaker_a"], sample["conversation"]["speaker_b"])
    sample["conversation"]["session_1"] = [{"speaker": speakers[j % 2], "dia_id": f"D1:{j + 1}", "text": f"Day {j} of the garden diary: planted row {j} with beans and herbs."} for j in range(turns)]
    return sample


def _children(pid: int) -> set[int]:
    found = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        found |= {int(c) for c in (task / "children").read_text().split()}
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"  # a zombie has exited; only its parent's bookkeeping is left


def test_terminated_run_leaves_no_worker_running(tmp_path: Path) -> None:
    """SIGTERM to a run with workers: the run stops, and so do its worker processes."""
    import signal
    import time

    busy = [_long_conversation(f"conv-{i}", 3000) for i in range(2)]  # tens of seconds of ingest per worker
    data = write_locomo(tmp_path / "two.json", busy)
    proc = subprocess.Popen([HYPERLOOM, "eval", "locomo", str(data), "--workers", "2", "--out", str(tmp_path / "run")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline, children = time.monotonic() + 60, set()
    while len(children) < 3 and time.monotonic() < deadline and proc.poll() is None:  # two workers and the resource tracker
        children = _children(proc.pid)
        time.sleep(0.05)
    assert len(children) >= 3, "the pool's workers never started"
    time.sleep(3)  # the workers are ingesting now
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) != 0
    deadline = time.monotonic() + 10
    while any(_alive(c) for c in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(c) for c in children)
