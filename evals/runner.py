"""Runs a benchmark: plan the questions, skip what a resumed run did, fan units out over processes, write the report."""

from __future__ import annotations

import hashlib
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from hyperloom.config import Config
from hyperloom.errors import InputError
from hyperloom.evals.datasets import Dataset, Unit
from hyperloom.evals.files import clear_reports, prepare_out
from hyperloom.evals.qa import UNSCORED, Answerer
from hyperloom.evals.report import build_report, write_outputs
from hyperloom.evals.results import ResultsLog
from hyperloom.evals.runinfo import config_for_report, git_revision, machine, versions
from hyperloom.evals.pool import execute
from hyperloom.evals.worker import WorkSettings

MODES = ("retrieval", "qa")
Progress = Callable[[int, int, str], None]  # (questions done, questions in the run, running metric)


@dataclass(frozen=True)
class RunOptions:
    mode: str = "retrieval"
    ks: tuple[int, ...] | None = None  # None: the data set's default cut-offs
    config: Config | None = None
    conversations: tuple[str, ...] | None = None  # unit names (LongMemEval: question ids)
    limit: int | None = None  # ask only the first N questions
    workers: int = 1
    resume: bool = False
    judge: str | None = None
    judge_cache: Path | None = None
    judge_kwargs: dict | None = None  # passed to litellm.completion (tests: mock_response)
    answerer: Answerer | None = None  # QA mode: (agent, question) -> answer; None answers with the agent's own
    critic: object | None = None  # QA mode with the agent: a picklable critic; None is the agent's default (shipped weights)


def plan(dataset: Dataset, options: RunOptions) -> list[Unit]:
    """The units to ingest, each with the questions to ask of it, in file order."""
    units = list(dataset.units)
    if options.conversations:
        names = {u.name for u in units}
        unknown = [c for c in options.conversations if c not in names]
        if unknown:
            shown = ", ".join(sorted(names)[:8]) + (", ..." if len(names) > 8 else "")
            raise InputError(f"{dataset.path} has no conversation {unknown[0]!r}; it has {shown}.")
        units = [u for u in units if u.name in options.conversations]
    budget = options.limit if options.limit is not None else float("inf")
    planned = []
    for unit in units:
        asked = [q for q in unit.questions if options.mode == "qa" or q.excluded is None]
        asked = asked[: max(0, int(min(budget, len(asked))))]
        budget -= len(asked)
        if asked:
            planned.append(Unit(unit.conversation, tuple(asked)))
    if not planned:
        raise InputError(f"No question of {dataset.path} is left to ask with these options; check --conversations and --limit.")
    return planned


def check_options(options: RunOptions) -> None:
    if options.mode not in MODES:
        raise InputError(f"Mode {options.mode!r} is unknown; use --mode retrieval or --mode qa.")
    if options.judge and options.mode != "qa":
        raise InputError("--judge grades answers, so it needs --mode qa.")
    if options.workers < 1:
        raise InputError(f"--workers must be at least 1, not {options.workers}.")
    if options.limit is not None and options.limit < 1:
        raise InputError(f"--limit must be at least 1, not {options.limit}.")
    if options.ks is not None and (not options.ks or min(options.ks) < 1):
        raise InputError("--k needs cut-offs of at least 1, e.g. 1,5,10,25.")
    if options.mode == "qa" and options.answerer is None:
        check_agent(options.config or Config(), options.critic)


def check_agent(config: Config, critic: object | None) -> None:
    """Before any ingest: the answering model is known (and has its key), and the default critic's weights load."""
    from hyperloom.agent import llm

    llm.check_model(config.model, **({"api_base": config.api_base} if config.api_base else {}))
    if critic is None and (config.model in llm.NO_LLM or config.model == llm.LOCAL_MODEL):
        from hyperloom.agent.critic import LogisticCritic

        LogisticCritic.load()  # the critic the agent will use; missing weights fail here, in one sentence


def run_eval(dataset: Dataset, options: RunOptions, out: Path, on_progress: Progress | None = None) -> dict:
    """Run (or resume) a benchmark into `out`; returns the report also written as out/report.json."""
    check_options(options)
    ks = tuple(sorted(set(options.ks or dataset.default_ks)))
    config = options.config or Config()
    units = plan(dataset, options)
    prepare_out(out)
    clear_reports(out)
    log = ResultsLog(out / "results.jsonl", manifest(dataset, options, ks, config), resume=options.resume)
    started, clock = datetime.now(timezone.utc), time.perf_counter()
    resumed = bool(log.done())
    try:
        todo = pending(units, log.done())
        running = Running(dataset, ks, log.records, sum(len(u.questions) for u in units), on_progress)
        execute(todo, work_settings(dataset, options, ks, config), options.workers, lambda r: (log.append(r), running.add(r)))
    finally:
        log.close()
    run = {
        "started": started.isoformat(timespec="seconds"),
        "wall_seconds": round(time.perf_counter() - clock, 2),
        "workers": options.workers,
        "resumed": resumed,
        "config": config_for_report(config),
        "versions": versions(),
        "git": git_revision(),
        "machine": machine(),
    }
    report = build_report(dataset, units, log.records, log.manifest, run)
    write_outputs(report, log.records, out)
    return report


def manifest(dataset: Dataset, options: RunOptions, ks: tuple[int, ...], config: Config) -> dict:
    """What makes two runs comparable; --resume refuses to mix runs whose manifests differ."""
    out = {
        "dataset": dataset.name,
        "file": str(dataset.path.resolve()),
        "file_sha256": _sha256(dataset.path),
        "mode": options.mode,
        "ks": list(ks),
        "config": config_for_report(config),
        "conversations": list(options.conversations) if options.conversations else None,
        "limit": options.limit,
        "judge": options.judge,
    }
    if options.mode == "qa":
        out["answers"] = answers_by(options)
    return out


def answers_by(options: RunOptions) -> str:
    """What answers in QA mode, for the manifest: a resume must not mix answers of two critics or answer functions."""
    if options.answerer is not None:
        return f"answerer {getattr(options.answerer, '__qualname__', type(options.answerer).__name__)}"
    return f"agent, critic {options.critic!r}" if options.critic is not None else "agent, default critic"


def pending(units: list[Unit], done: set[str]) -> list[Unit]:
    """The units still to run, each with only the questions not yet answered."""
    out = []
    for unit in units:
        left = tuple(q for q in unit.questions if q.key not in done)
        if left:
            out.append(Unit(unit.conversation, left))
    return out


def work_settings(dataset: Dataset, options: RunOptions, ks: tuple[int, ...], config: Config) -> WorkSettings:
    return WorkSettings(
        dataset=dataset.name,
        mode=options.mode,
        ks=ks,
        config=config.model_dump(exclude={"home"}),
        judge=options.judge,
        judge_cache=str(options.judge_cache) if options.judge_cache else None,
        judge_kwargs=options.judge_kwargs,
        answerer=options.answerer,
        critic=options.critic,
    )


class Running:
    """The progress callback's running headline metric (e.g. recall@10) over every question done so far."""

    def __init__(self, dataset: Dataset, ks: Sequence[int], records: list[dict], total: int, on_progress: Progress | None):
        self.level, self.metric = dataset.headline
        self.k = str(10 if 10 in ks else max(ks))
        self.values: list[float] = []
        self.f1: list[float] = []
        self.done, self.total, self.on_progress = 0, total, on_progress
        for record in records:
            self.add(record, quiet=True)
        self._report()

    def add(self, record: dict, quiet: bool = False) -> None:
        if record.get("kind") != "question":
            return
        self.done += 1
        level = (record.get("retrieval") or {}).get(self.level)
        if level:
            self.values.append(level[self.metric][self.k])
        scores = record.get("qa") or {}
        if scores.get("f1") is not None and record.get("excluded") not in UNSCORED:
            self.f1.append(scores["f1"])
        if not quiet:
            self._report()

    def text(self) -> str:
        name = f"{self.metric}@{self.k}" if self.level == "turn" else f"{self.level} {self.metric}@{self.k}"
        text = f"{name} {statistics.fmean(self.values):.3f}" if self.values else f"{name} -"
        return text + (f", F1 {statistics.fmean(self.f1):.3f}" if self.f1 else "")

    def _report(self) -> None:
        if self.on_progress:
            self.on_progress(self.done, self.total, self.text())


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
