"""The `hyperloom` command: demo, ingest, search, eval, reindex, doctor."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from hyperloom.config import Config
from hyperloom.errors import HyperloomError, InputError

app = typer.Typer(help="An agent's memory for long conversations: verbatim, searchable, checkable.", no_args_is_help=True, add_completion=False)
eval_app = typer.Typer(help="Measure hyperloom on long-conversation benchmarks.", no_args_is_help=True)
app.add_typer(eval_app, name="eval")
out = Console()
err = Console(stderr=True)

HomeOpt = Annotated[Optional[Path], typer.Option("--home", help="Data directory (default: $HYPERLOOM_HOME or ~/.local/share/hyperloom).")]
NamespaceOpt = Annotated[Optional[str], typer.Option("--namespace", "-n", help="Namespace to use (default: `default`).")]
ConfigOpt = Annotated[Optional[Path], typer.Option("--config", help="A TOML file of settings (see README).")]


def settings(home: Path | None = None, namespace: str | None = None, config_file: Path | None = None, **extra: object) -> Config:
    return Config.load(config_file, home=home, namespace=namespace, **extra)


def open_store(config: Config):
    from hyperloom.memory.store import MemoryStore

    return MemoryStore(config)


@app.command()
def ingest(
    file: Annotated[Path, typer.Argument(help="A LoCoMo or hyperloom JSON conversation file.")],
    home: HomeOpt = None,
    namespace: NamespaceOpt = None,
    config_file: ConfigOpt = None,
) -> None:
    """Remember a conversation file (all of it, or nothing if it is malformed)."""
    config = settings(home, namespace, config_file)
    started = time.perf_counter()
    with open_store(config) as store:
        conversations = store.ingest(file, config.namespace)
    turns = sum(len(c.turns) for c in conversations)
    sessions = sum(len(c.sessions) for c in conversations)
    out.print(f"Ingested {turns} turns in {sessions} sessions into namespace [bold]{config.namespace}[/] ({time.perf_counter() - started:.1f} s).")


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    k: Annotated[int, typer.Option("-k", help="How many turns to return.")] = 5,
    speaker: Annotated[Optional[str], typer.Option(help="Only turns by this speaker.")] = None,
    session: Annotated[Optional[str], typer.Option(help="Only turns of this session id.")] = None,
    since: Annotated[Optional[str], typer.Option(help="Only turns at or after this ISO date.")] = None,
    until: Annotated[Optional[str], typer.Option(help="Only turns at or before this ISO date.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print hits as JSON lines.")] = False,
    home: HomeOpt = None,
    namespace: NamespaceOpt = None,
    config_file: ConfigOpt = None,
) -> None:
    """Hybrid search (HNSW + BM25) over remembered turns, with verbatim spans."""
    from hyperloom.retrieval.search import Filters

    config = settings(home, namespace, config_file)
    with open_store(config) as store:
        hits = store.search(query, k, config.namespace, Filters(speaker, session, since, until))
    if as_json:
        for h in hits:
            spans = [{"start": s.start, "end": s.end, "text": s.text} for s in h.spans]
            print(json.dumps({"turn_id": h.turn_id, "score": round(h.score, 4), "speaker": h.speaker, "time": h.time, "text": h.text, "spans": spans}, ensure_ascii=False))
        return
    print_hits(hits, query)


def print_hits(hits, query: str) -> None:
    if not hits:
        out.print(f"No remembered turn matches [italic]{query}[/].")
        return
    for rank, h in enumerate(hits, 1):
        text = Text(h.text)
        for s in h.spans:
            text.stylize("bold reverse", s.start, s.end)
        out.print(Text.assemble((f"{rank:>2}. ", "dim"), (h.turn_id, "cyan"), f"  {h.speaker}", (f"  {h.time or ''}", "dim"), (f"  score {h.score:.3f}", "dim")))
        out.print(Text("    ") + text)


@app.command()
def demo(home: HomeOpt = None, config_file: ConfigOpt = None) -> None:
    """Remember the sample conversation shipped with hyperloom and answer a few searches from it."""
    from hyperloom.samples import sample_path

    config = settings(home, "demo", config_file)
    questions = ["Where did Maya move to?", "What instrument is Jonas learning?", "When did Jonas run his first 10k race?", "Who is Pixel?"]
    with open_store(config) as store:
        if store.log.count("demo") == 0:
            store.ingest(sample_path(), "demo")
            out.print(f"Remembered the sample conversation ({store.log.count('demo')} turns) in [bold]{config.home}[/], namespace [bold]demo[/].\n")
        for q in questions:
            out.print(f"[bold green]?[/] [bold]{q}[/]")
            print_hits(store.search(q, 3, "demo"), q)
            out.print()
    out.print("Try your own: [bold]hyperloom search --namespace demo \"the fig tree\"[/]")


@app.command()
def reindex(
    home: HomeOpt = None,
    namespace: NamespaceOpt = None,
    all_namespaces: Annotated[bool, typer.Option("--all", help="Rebuild every namespace.")] = False,
    config_file: ConfigOpt = None,
) -> None:
    """Rebuild the vector and BM25 indexes from the turn log."""
    config = settings(home, namespace, config_file)
    with open_store(config) as store:
        names = store.log.namespaces() if all_namespaces else [config.namespace]
        for name in names:
            started = time.perf_counter()
            n = store.reindex(name)
            out.print(f"Reindexed {n} turns of namespace [bold]{name}[/] ({time.perf_counter() - started:.1f} s).")


@app.command()
def doctor(home: HomeOpt = None, config_file: ConfigOpt = None) -> None:
    """Report what is installed, where the data lives, and whether the embedded models load."""
    from hyperloom.doctor import checks

    config = settings(home, None, config_file)
    table = Table("check", "status", "detail", box=None)
    failed = False
    for name, ok, detail in checks(config):
        failed |= not ok
        table.add_row(name, "[green]ok[/]" if ok else "[red]FAIL[/]", detail)
    out.print(table)
    if failed:
        raise typer.Exit(1)


@eval_app.command("locomo")
def eval_locomo(
    file: Annotated[Path, typer.Argument(help="locomo10.json or a file in its format.")],
    mode: Annotated[str, typer.Option(help="`retrieval` (evidence recall@k).")] = "retrieval",
    k: Annotated[str, typer.Option("--k", help="Comma-separated cut-offs.")] = "1,5,10,25",
    conversations: Annotated[Optional[str], typer.Option(help="Comma-separated sample ids (default: all).")] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Directory for report.json.")] = Path("runs/locomo"),
    config_file: ConfigOpt = None,
) -> None:
    """Evidence recall@k on LoCoMo, each conversation in its own namespace of a fresh store."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from hyperloom.evals.locomo import load_locomo
    from hyperloom.evals.retrieval import prepare_out, run_retrieval, write_report

    if mode != "retrieval":
        raise InputError(f"Mode {mode!r} is not available yet; use --mode retrieval.")
    ks = parse_ks(k)
    config = settings(None, None, config_file)
    samples = load_locomo(file)
    prepare_out(out_dir)
    with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err) as bar:
        task = bar.add_task("questions", total=None)
        report = run_retrieval(samples, ks, config=config, conversations=conversations.split(",") if conversations else None,
                               on_progress=lambda done, total: bar.update(task, completed=done, total=total))
    path = write_report(report, out_dir)
    print_report(report, ks)
    out.print(f"Report: {path}")


def parse_ks(k: str) -> list[int]:
    try:
        ks = sorted({int(x) for x in k.split(",") if x.strip()})
    except ValueError:
        raise InputError(f"--k {k!r} is not a comma-separated list of integers, e.g. 1,5,10,25.") from None
    if not ks or ks[0] < 1:
        raise InputError(f"--k {k!r} needs cut-offs of at least 1, e.g. 1,5,10,25.")
    return ks


def print_report(report: dict, ks: list[int]) -> None:
    r = report["retrieval"]
    table = Table("category", "questions", *[f"R@{k}" for k in ks], title=f"LoCoMo evidence recall ({report['questions']} questions)")
    for name, row in r["by_category"].items():
        table.add_row(name, str(row["questions"]), *[f"{row['recall@k'][str(k)]:.3f}" for k in ks])
    table.add_row("[bold]all[/]", str(report["questions"]), *[f"[bold]{r['recall@k'][str(k)]:.3f}[/]" for k in ks])
    out.print(table)
    lat, ing = report["latency_ms"]["search"], report["ingest"]
    out.print(f"search p50 {lat['p50']} ms, p95 {lat['p95']} ms; ingest {ing['turns_per_s']} turns/s; "
              f"evidence ids parsed {len(report['evidence_ids']['parsed'])}, skipped {len(report['evidence_ids']['skipped'])}")


def main() -> None:
    """Entry point: a HyperloomError becomes one line on stderr and exit status 1."""
    try:
        app()  # standalone: click reports usage errors itself and exits 2
    except HyperloomError as exc:
        err.print(f"[red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
