"""The `hyperloom` command as a person runs it: real processes, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import free_port, locomo_sample, write_locomo
from hyperloom.samples import sample_path

HYPERLOOM = str(Path(sys.executable).parent / "hyperloom")


def run(*args: str, home: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "COLUMNS": "200", **(env or {})}
    if home is not None:
        full_env["HYPERLOOM_HOME"] = str(home)
    return subprocess.run([HYPERLOOM, *args], capture_output=True, text=True, env=full_env, timeout=300)


def assert_one_line_error(result: subprocess.CompletedProcess, fragment: str) -> None:
    assert result.returncode == 1, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], result.stderr


def test_demo_remembers_the_sample_and_answers_with_spans(tmp_path: Path) -> None:
    result = run("demo", home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Remembered the sample conversation (32 turns)" in result.stdout
    assert "I ran my first 10k race yesterday." in result.stdout
    assert "Remembered" not in run("demo", home=tmp_path).stdout  # a second run reuses the memory


def test_ingest_then_search_json_spans_are_exact(tmp_path: Path) -> None:
    assert run("ingest", str(sample_path()), "-n", "me", home=tmp_path).returncode == 0
    result = run("search", "Who made jam from the figs?", "-k", "3", "--json", "-n", "me", home=tmp_path)
    hits = [json.loads(line) for line in result.stdout.splitlines()]
    assert hits[0]["turn_id"] == "s3:8"
    for hit in hits:
        for span in hit["spans"]:
            assert hit["text"][span["start"] : span["end"]] == span["text"]


def test_ask_says_the_answer_then_the_turn_it_quotes(tmp_path: Path) -> None:
    assert run("ingest", str(sample_path()), "-n", "me", home=tmp_path).returncode == 0
    said = json.loads(run("ask", "What instrument is Jonas learning?", "--json", "-n", "me", home=tmp_path).stdout)
    assert said["answer"] == "cello" and said["confidence"] in ("sure", "likely", "unsure")
    assert [(c["turn_id"], c["quote"], c["speaker"]) for c in said["citations"]] == [("s1:6", "cello", "Jonas")]
    shown = run("ask", "What instrument is Jonas learning?", "-n", "me", home=tmp_path).stdout
    assert shown.startswith("cello") and "s1:6  Jonas  2024-03-02" in shown and "a teacher called Ines." in shown
    assert "What instrument" not in run("search", "instrument", "--json", "-n", "me", home=tmp_path).stdout  # asking kept nothing


def test_reindex_gives_the_same_results(tmp_path: Path) -> None:
    run("ingest", str(sample_path()), home=tmp_path)
    before = run("search", "cello lessons", "--json", home=tmp_path).stdout
    assert "Reindexed 32 turns" in run("reindex", home=tmp_path).stdout
    assert run("search", "cello lessons", "--json", home=tmp_path).stdout == before


def test_eval_locomo_writes_the_report(tmp_path: Path) -> None:
    data = write_locomo(tmp_path / "l.json", [locomo_sample()])
    result = run("eval", "locomo", str(data), "--k", "1,5", "--out", str(tmp_path / "out"), home=tmp_path / "h")
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["questions"] == 4 and set(report["retrieval"]["recall@k"]) == {"1", "5"}
    assert "single-hop" in result.stdout and not (tmp_path / "h").exists()


@pytest.mark.parametrize(
    "args, fragment",
    [
        (("ingest", "/nonexistent/conversation.json"), "does not exist"),
        (("search", "   "), "query is empty"),
        (("ask", "   "), "question is empty"),
        (("eval", "locomo", "/nonexistent/locomo10.json"), "snap-research/locomo"),
        (("eval", "locomo", "x.json", "--k", "5,ten"), "not a comma-separated list"),
        (("eval", "locomo", str(sample_path()), "--mode", "qa", "--model", "nope/x"), "Unknown model"),
        (("eval", "locomo", str(sample_path())), "not a LoCoMo file"),
        (("search", "x", "-n", "bad[b]name"), "'bad[b]name' is not valid"),  # printed as typed, not read as markup
    ],
)
def test_bad_input_is_one_sentence_and_exit_1(tmp_path: Path, args: tuple[str, ...], fragment: str) -> None:
    assert_one_line_error(run(*args, home=tmp_path), fragment)


def test_data_directory_that_cannot_be_written(tmp_path: Path) -> None:
    # /proc refuses new directories even to root, so this holds wherever the tests run.
    assert_one_line_error(run("ingest", str(sample_path()), home=Path("/proc/hyperloom-test")), "Cannot create the data directory")


def test_unwritable_report_directory_fails_before_the_run(tmp_path: Path) -> None:
    data = write_locomo(tmp_path / "l.json", [locomo_sample()])
    assert_one_line_error(run("eval", "locomo", str(data), "--out", "/proc/hyperloom-out", home=tmp_path), "choose a writable --out")


def test_chroma_server_that_does_not_answer(tmp_path: Path) -> None:
    env = {"HYPERLOOM_VECTOR_BACKEND": "chroma", "HYPERLOOM_CHROMA_URL": f"http://127.0.0.1:{free_port()}"}
    result = run("ingest", str(sample_path()), home=tmp_path, env=env)
    assert_one_line_error(result, "start it with `chroma run`")
    assert run("doctor", home=tmp_path).returncode == 0  # nothing was half-written: the log is empty and sound


def test_forget_a_session_then_an_entity(tmp_path: Path) -> None:
    run("ingest", str(sample_path()), home=tmp_path)
    assert "Forgot 8 turns (session s4)" in run("forget", "--session", "s4", "--yes", home=tmp_path).stdout
    assert "Forgot 2 turns (entity Clara)" in run("forget", "--entity", "Clara", "--yes", home=tmp_path).stdout
    assert "Clara" not in run("search", "Clara fig jam sister", "-k", "30", "--json", home=tmp_path).stdout
    assert_one_line_error(run("forget", home=tmp_path), "exactly one of")


def test_doctor_reports_packages_data_and_model(tmp_path: Path) -> None:
    result = run("doctor", home=tmp_path)
    assert result.returncode == 0, result.stdout
    assert "onnxruntime" in result.stdout and "384 dims" in result.stdout and str(tmp_path) in result.stdout
    assert "local/smollm2: 4096 tokens of context" in result.stdout
