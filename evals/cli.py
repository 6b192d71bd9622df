"""`hyperloom eval`: run benchmarks (LoCoMo, LongMemEval, JSONL) and compare runs."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table
from typer.core import TyperGroup

from hyperloom.console import ConfigOpt, err, out, say, settings
from hyperloom.errors import InputError

class EvalGroup(TyperGroup):
    """`hyperloom eval NAME`: an unknown data set name is one clear error, not a usage screen."""

    def resolve_command(self, ctx, args):
        if args and not args[0].startswith("-") and self.get_command(ctx, args[0]) is None:
            raise InputError(f"Unknown data set {args[0]!r}; choose one of locomo, longmemeval, jsonl (or `compare` two runs).")
        return super().resolve_command(ctx, args)


eval_app = typer.Typer(cls=EvalGroup, help="Measure hyperloom on long-conversation benchmarks.", no_args_is_help=True)

ModeOpt = Annotated[str, typer.Option(help="`retrieval` (recall, nDCG, spans) or `qa` (answers; needs the agent).")]
MemoryOpt = Annotated[Optional[str], typer.Option(help="`flat` (turns) or `structured` (facts, scenes, hypergraph); default from the config.")]
KOpt = Annotated[Optional[str], typer.Option("--k", help="Comma-separated cut-offs (default per data set).")]
ConversationsOpt = Annotated[Optional[str], typer.Option(help="Comma-separated conversation ids (LongMemEval: question ids); default all.")]
LimitOpt = Annotated[Optional[int], typer.Option(help="Ask only the first N questions.")]
WorkersOpt = Annotated[int, typer.Option(help="Processes to fan conversations out over (results are the same as with 1).")]
OutOpt = Annotated[Optional[Path], typer.Option("--out", help="Run directory for results.jsonl, report.json, report.md and plots (default runs/<data set>).")]
ResumeOpt = Annotated[bool, typer.Option("--resume", help="Keep the questions already answered in --out and ask the rest.")]
ModelOpt = Annotated[Optional[str], typer.Option(help="QA mode: the answering model, `local/smollm2` (embedded), `reader` (no LLM, fitted), `none` (extractive, fast) or a litellm name; default from the config.")]
JudgeOpt = Annotated[Optional[str], typer.Option(help="A litellm model that grades answers in QA mode, e.g. openai/gpt-4o-mini.")]


DATASETS = {
    "locomo": ("locomo10.json or a file in its format.",
               "LoCoMo: each conversation in a fresh store; evidence recall@k, nDCG and spans by category."),
    "longmemeval": ("longmemeval_s_cleaned.json, _m_ or _oracle (the official files, unchanged).",
                    "LongMemEval: each question with its own haystack in a fresh store; recall_any/all and nDCG, session and turn level."),
    "jsonl": ("Your conversations and questions, one JSON object per line (see the README).",
              "Your own conversations and questions: the same measures as LoCoMo, grouped by your categories."),
}


def _register(name: str, file_help: str, doc: str) -> None:
    """One `eval NAME` command per data set; they differ only in the file they read."""

    def command(
        file: Path,
        mode: ModeOpt = "retrieval", memory: MemoryOpt = None, k: KOpt = None, conversations: ConversationsOpt = None, limit: LimitOpt = None,
        workers: WorkersOpt = 1, out_dir: OutOpt = None, resume: ResumeOpt = False, model: ModelOpt = None, judge: JudgeOpt = None,
        config_file: ConfigOpt = None,
    ) -> None:
        run_benchmark(name, file, mode, memory, k, conversations, limit, workers, out_dir, resume, judge, config_file, model)

    command.__doc__ = doc
    # Annotations are strings here (postponed evaluation), so the per-command help is set as an object.
    command.__annotations__["file"] = Annotated[Path, typer.Argument(help=file_help)]
    eval_app.command(name)(command)


for _name, (_file_help, _doc) in DATASETS.items():
    _register(_name, _file_help, _doc)


def run_benchmark(name: str, file: Path, mode: str, memory: str | None, k: str | None, conversations: str | None, limit: int | None,
                  workers: int, out_dir: Path | None, resume: bool, judge: str | None, config_file: Path | None, model: str | None = None) -> None:
    """Check every option, load the whole data set, check --out, then run: bad input fails before any work."""
    from hyperloom.evals.datasets import load_dataset
    from hyperloom.evals.files import prepare_out
    from hyperloom.evals.runner import RunOptions, check_options, run_eval

    if judge:
        from hyperloom.evals.judge import require_key

        require_key(judge)
    if model and mode != "qa":
        raise InputError("--model picks the answering model, so it needs --mode qa.")
    options = RunOptions(
        mode=mode, ks=tuple(parse_ks(k)) if k else None, config=settings(None, None, config_file, memory=memory, model=model),
        conversations=tuple(c.strip() for c in conversations.split(",") if c.strip()) if conversations else None,
        limit=limit, workers=workers, resume=resume, judge=judge,
    )
    check_options(options)
    dataset = load_dataset(name, file)
    out_dir = prepare_out(out_dir or Path("runs") / name)
    if not resume and (out_dir / "results.jsonl").exists():
        err.print(f"Starting afresh: the earlier results in {out_dir} are replaced (--resume would have continued them).", highlight=False, markup=False)
    try:
        with eval_progress() as update:
            report = run_eval(dataset, options, out_dir, on_progress=update)
    except KeyboardInterrupt:
        err.print(f"Interrupted: the questions answered so far are in {out_dir / 'results.jsonl'}; run the same command with --resume to finish.", markup=False)
        raise typer.Exit(130) from None
    print_report(report)
    out.print(f"Report: {out_dir / 'report.md'} (and report.json, {', '.join(report['plots'])})")


@contextmanager
def eval_progress():
    """A progress bar on stderr with the running headline metric; yields its update function."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    columns = ("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[metric]}"), TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err) as bar:
        task = bar.add_task("questions", total=None, metric="")
        yield lambda done, total, metric: bar.update(task, completed=done, total=total, metric=metric)


@eval_app.command("compare")
def eval_compare(
    run_a: Annotated[Path, typer.Argument(help="The first run's --out directory (the baseline).")],
    run_b: Annotated[Path, typer.Argument(help="The second run's --out directory.")],
    plot: Annotated[Optional[Path], typer.Option(help="Where to write the comparison plot (default RUN_B/compare.png).")] = None,
) -> None:
    """Print and plot the differences between two finished runs (B minus A)."""
    from hyperloom.evals.compare import caveats, load_run, rows
    from hyperloom.evals.plots import compare_curves

    a, b = load_run(run_a), load_run(run_b)
    labels = (run_a.name, run_b.name) if run_a.name != run_b.name else (str(run_a), str(run_b))
    print_comparison(rows(a, b), labels, a["dataset"])
    for note in caveats(a, b):
        say("note", "yellow", note)
    out.print(f"Plot: {compare_curves(a, b, labels, plot or run_b / 'compare.png')}")


def print_comparison(rows: list[tuple[str, float | None, float | None]], labels: tuple[str, str], dataset: str) -> None:
    """Measures at every k in one grid (each cell: B, then B - A), then the single numbers."""
    grid: dict[str, dict[str, tuple]] = {}
    single = []
    for measure, x, y in rows:
        base, at, k = measure.rpartition("@")
        if at and k.isdigit():
            grid.setdefault(base, {})[k] = (x, y)
        else:
            single.append((measure, x, y))
    ks = sorted({k for cells in grid.values() for k in cells}, key=int)
    table = Table("measure", *[f"@{k}" for k in ks], title=f"{dataset}: {labels[1]} (B) against {labels[0]} (A); cells: B (B - A)")
    for base, cells in grid.items():
        table.add_row(base, *[f"{_num(cells[k][1])} {_delta(base, *cells[k])}" if k in cells else "" for k in ks])
    out.print(table)
    table = Table("measure", labels[0], labels[1], "B - A")
    for measure, x, y in single:
        table.add_row(measure, _num(x), _num(y), _delta(measure, x, y))
    out.print(table)


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)


def _delta(measure: str, a: float | None, b: float | None) -> str:
    if a is None or b is None:
        return ""
    diff = b - a
    better = diff < 0 if "latency" in measure else diff > 0  # lower latency is better, higher everything else
    colour = "green" if better else "red" if diff else "dim"
    return f"[{colour}]{diff:+.4g}[/]"


def parse_ks(k: str) -> list[int]:
    try:
        ks = sorted({int(x) for x in k.split(",") if x.strip()})
    except ValueError:
        raise InputError(f"--k {k!r} is not a comma-separated list of integers, e.g. 1,5,10,25.") from None
    if not ks or ks[0] < 1:
        raise InputError(f"--k {k!r} needs cut-offs of at least 1, e.g. 1,5,10,25.")
    return ks


def print_qa(report: dict) -> None:
    """QA scores by category; with the agent, the critic, adaptive evidence, quotes and latency per stage."""
    qa = report["qa"]
    judge = qa.get("judge") or {}
    columns = [c for c in ("lenient", "strict", "accuracy") if c in judge]
    table = Table("category", "questions", "F1", "BLEU-1", "EM", *[f"judge {c}" for c in columns], title=f"{report['dataset']}: answers (model {report['run']['config'].get('model')})")
    from hyperloom.evals.markdown import judge_cell

    for name, s in qa["by_category"].items():
        table.add_row(name, str(s["questions"]), _num(s["f1"]), _num(s["bleu1"]), _num(s["em"]), *[_num(judge_cell(s, c)) for c in columns])
    table.add_row("[bold]overall (published categories)[/]", str(qa["questions"]), _num(qa["f1"]), _num(qa["bleu1"]), _num(qa["em"]), *[_num(judge.get(c)) for c in columns])
    out.print(table)
    critic, lat = report.get("critic"), report["latency_ms"]
    if critic:
        out.print(f"critic {critic['kind']}: AUROC {_num(critic['auroc'])}, accuracy {_num(critic['accuracy'])}; mean rounds {_num(critic['mean_rounds'])}, "
                  f"mean evidence turns {_num(critic['mean_evidence_turns'])}, adaptive recall {_num(critic['adaptive_recall'])} "
                  f"(first round {_num(critic['first_round_recall'])}); quotes verified {_num(report.get('quotes_verified'))}")
        if critic.get("held_out"):
            held = critic["held_out"]
            out.print(f"the critic was trained on {', '.join(critic['trained_on_in_run'])}; held out ({held['questions']} questions): AUROC {_num(held['auroc'])}, accuracy {_num(held['accuracy'])}")
    stages = [s for s in lat if s not in ("search", "search_k") and isinstance(lat[s], dict)]
    out.print("latency p50/p95 ms: " + ", ".join(f"{s} {lat[s]['p50']}/{lat[s]['p95']}" for s in stages))
    cost = report.get("cost") or {}
    if "calls" in cost:
        out.print(f"answering: {cost['calls']} LLM calls, {cost['prompt_tokens']} + {cost['completion_tokens']} tokens, ${cost['dollars']:.4f}")


def print_report(report: dict) -> None:
    """The headline metric at every k by category, then latency, ingest and what was skipped."""
    level, metric = report["headline"]
    ks, r = report["ks"], report["retrieval"]
    mid = str(10 if 10 in ks else ks[-1])
    title = f"{report['dataset']}: {'evidence recall' if (level, metric) == ('turn', 'recall') else f'{level} {metric}'} ({r['questions']} questions)"
    table = Table("category", "questions", *[f"R@{k}" for k in ks], f"nDCG@{mid}", title=title)
    for name, fam in [*r["by_category"].items(), ("[bold]all[/]", r)]:
        lvl = fam.get(level) or {}
        at, nd = lvl.get(f"{metric}@k") or {}, (lvl.get("ndcg@k") or {}).get(mid)
        table.add_row(name, str(fam["questions"]), *[_num(at.get(str(k))) for k in ks], _num(nd))
    out.print(table)
    lat, ing = report["latency_ms"]["search"], report["ingest"]
    skipped = ", ".join(f"{n} {why}" for why, n in report["excluded"].items()) or "none"
    if report.get("qa"):
        print_qa(report)
    out.print(f"search p50 {lat['p50']} ms, p95 {lat['p95']} ms; ingest {ing['turns_per_s']} turns/s; not scored: {skipped}; "
              f"evidence ids parsed {len(report['evidence_ids']['parsed'])}, skipped {len(report['evidence_ids']['skipped'])}; "
              f"wall {report['run']['wall_seconds']} s")
