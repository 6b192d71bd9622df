"""The `hyperloom` command: chat, ask, demo, ingest, search, forget, reindex, migrate, doctor (and `eval`, in evals/cli.py)."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table
from rich.text import Text

from hyperloom.config import Config
from hyperloom.console import ConfigOpt, HomeOpt, NamespaceOpt, out, say, settings
from hyperloom.errors import HyperloomError, InputError
from hyperloom.evals.cli import eval_app

app = typer.Typer(help="An agent's memory for long conversations: verbatim, searchable, checkable.", no_args_is_help=True, add_completion=False)
app.add_typer(eval_app, name="eval")


@contextmanager
def open_agent(config: Config) -> Iterator:
    """Every command reads and writes memory through the Agent API, as the UI and the harness do (one write path);
    what the memory had to repair on the way (a damaged index rebuilt, say) is said on stderr afterwards.
    Imported here: the agent pulls in numpy and the indexes, which `--help` does not need."""
    from hyperloom import Agent

    with Agent.open(config=config) as agent:
        yield agent
        for said in agent.take_notices():  # after a failure the error alone is said
            say("note", "yellow", said)


@app.command()
def chat(
    demo: Annotated[bool, typer.Option("--demo", help="Load the sample conversation (namespace `demo`) and chat about it.")] = False,
    model: Annotated[Optional[str], typer.Option("--model", "-m", help="reader (default: no LLM, offline), local/smollm2 (embedded model), none (extractive rules), or any litellm model.")] = None,
    home: HomeOpt = None,
    namespace: NamespaceOpt = None,
    config_file: ConfigOpt = None,
) -> None:
    """Chat in the terminal with an agent that remembers, and inspect what it remembers."""
    from hyperloom.tui.app import run

    run(home, namespace, model=model, demo=demo, config_file=config_file)


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
    with open_agent(config) as agent:
        conversations = agent.ingest(file)
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
    config = settings(home, namespace, config_file)
    with open_agent(config) as agent:
        hits = agent.search(query, k, speaker=speaker, session=session, since=since, until=until)
    if as_json:
        for h in hits:
            spans = [{"start": s.start, "end": s.end, "text": s.text} for s in h.spans]
            print(json.dumps({"turn_id": h.turn_id, "score": round(h.score, 4), "speaker": h.speaker, "time": h.time, "text": h.text, "spans": spans}, ensure_ascii=False))
        return
    print_hits(hits, query)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question, about what the namespace remembers.")],
    model: Annotated[Optional[str], typer.Option("--model", "-m", help="reader (default: no LLM, offline), local/smollm2, none, or any litellm model.")] = None,
    speaker: Annotated[Optional[str], typer.Option(help="Who is asking (\"Where do I live?\" is about them); default: user.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the answer and its citations as one JSON object.")] = False,
    home: HomeOpt = None,
    namespace: NamespaceOpt = None,
    config_file: ConfigOpt = None,
) -> None:
    """Answer one question from memory, with the quotes it rests on (nothing is remembered of the asking)."""
    config = settings(home, namespace, config_file, **({"model": model} if model else {}))
    with open_agent(config) as agent:
        answer = agent.ask(question, speaker=speaker)
        said = {c.turn_id: agent.turn(c.turn_id).text for c in answer.citations}
    if as_json:
        quotes = [{"turn_id": c.turn_id, "start": c.start, "end": c.end, "quote": c.quote, "speaker": c.speaker, "time": c.time} for c in answer.citations]
        print(json.dumps({"answer": answer.text, "confidence": answer.confidence, "citations": quotes, "notice": answer.notice}, ensure_ascii=False))
        return
    out.print(Text.assemble((answer.text, "bold"), (f"  {answer.confidence}" if answer.confidence else "", "dim italic")))
    for i, turn_id in enumerate(said, 1):  # each turn quoted, once, with its quotes marked in it
        quotes = [c for c in answer.citations if c.turn_id == turn_id]
        turn = Text(said[turn_id], style="italic")
        for c in quotes:
            turn.stylize("bold reverse", c.start, c.end)
        out.print(Text.assemble((f"  [{i}] ", "dim"), (turn_id, "cyan"), f"  {quotes[0].speaker}", (f"  {(quotes[0].time or '')[:10]}", "dim")))
        out.print(Text("      ") + turn)
    if answer.notice:
        say("note", "yellow", answer.notice)


def print_hits(hits, query: str) -> None:
    if not hits:
        out.print(Text.assemble("No remembered turn matches ", (query, "italic"), "."))
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
    questions = ["Where does Maya live now?", "What instrument is Jonas learning?", "When did Jonas run his first 10k race?", "Who is Pixel?"]
    with open_agent(config) as agent:
        if not agent.turns():
            agent.ingest(sample_path())
            out.print(Text.assemble(f"Remembered the sample conversation ({agent.stats().turns} turns) in ", (str(config.home), "bold"), ", namespace ", ("demo", "bold"), ".\n"))
        for q in questions:
            out.print(f"[bold green]?[/] [bold]{q}[/]")
            print_hits(agent.search(q, 3), q)
            out.print()
    out.print("Try your own: [bold]hyperloom search --namespace demo \"the fig tree\"[/]")


@app.command()
def forget(
    turn: Annotated[Optional[str], typer.Option(help="One turn id.")] = None,
    session: Annotated[Optional[str], typer.Option(help="One session id.")] = None,
    entity: Annotated[Optional[str], typer.Option(help="Every turn that mentions this entity (structured memory).")] = None,
    everything: Annotated[bool, typer.Option("--everything", help="The whole namespace.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    home: HomeOpt = None,
    namespace: NamespaceOpt = None,
    config_file: ConfigOpt = None,
) -> None:
    """Forget a turn, a session, an entity or a namespace: from the log and every derived store."""
    chosen = [name for name, value in (("turn", turn), ("session", session), ("entity", entity), ("everything", everything)) if value]
    if len(chosen) != 1:
        raise InputError("Say exactly one of --turn, --session, --entity or --everything.")
    config = settings(home, namespace, config_file)
    what = f"{chosen[0]} {turn or session or entity or ''}".strip()
    if not yes and not typer.confirm(f"Forget {what} in namespace {config.namespace!r}? This cannot be undone"):
        raise typer.Exit(1)
    with open_agent(config) as agent:
        n = agent.forget(turn=turn, session=session, entity=entity, namespace=everything)
    out.print(f"Forgot {n} turns ({what}) in namespace [bold]{config.namespace}[/].")


@app.command()
def reindex(
    home: HomeOpt = None,
    namespace: NamespaceOpt = None,
    all_namespaces: Annotated[bool, typer.Option("--all", help="Rebuild every namespace.")] = False,
    config_file: ConfigOpt = None,
) -> None:
    """Rebuild the vector and BM25 indexes from the turn log."""
    config = settings(home, namespace, config_file)
    with open_agent(config) as agent:
        names = agent.namespaces() if all_namespaces else [config.namespace]
        for name in names:
            started = time.perf_counter()
            agent.use_namespace(name)
            n = agent.reindex()
            out.print(f"Reindexed {n} turns of namespace [bold]{name}[/] ({time.perf_counter() - started:.1f} s).")


@app.command()
def migrate(
    source: Annotated[str, typer.Option("--from", help="sqlite:PATH — the data directory (or its hyperloom.db) to copy.")],
    target: Annotated[str, typer.Option("--to", help="postgresql://user:password@host:port/database — an empty database.")],
    chroma_url: Annotated[Optional[str], typer.Option("--chroma-url", help="The `chroma run` server for the vectors (default: the chroma_url setting).")] = None,
    config_file: ConfigOpt = None,
) -> None:
    """Copy a SQLite memory (log, structure, vectors) into PostgreSQL and a Chroma server, then verify counts and searches."""
    from hyperloom.memory.migrate import migrate as run_migration, sqlite_home

    home = sqlite_home(source)
    base = Config.load(config_file, home=home)
    new = Config.load(config_file, home=home, store="postgres", postgres_url=target, chroma_url=chroma_url or base.chroma_url)
    old = Config.load(config_file, home=home, store="sqlite", vector_backend=base.vector_backend if base.store == "sqlite" else "hnsw")
    started = time.perf_counter()
    done = run_migration(old, new)
    out.print(f"Copied {sum(done.rows.values())} rows of {len(done.rows)} tables and {done.vectors} vectors ({time.perf_counter() - started:.1f} s).")
    out.print(f"Verified: every table counts the same rows; {done.same_best} of {done.searches} sample searches keep their best turn.")


@app.command()
def doctor(home: HomeOpt = None, config_file: ConfigOpt = None) -> None:
    """Report what is installed, where the data lives, and whether the embedded models load."""
    from hyperloom.doctor import checks

    config = settings(home, None, config_file)
    table = Table("check", "status", "detail", box=None)
    failed = False
    for name, ok, detail in checks(config):
        failed |= not ok
        table.add_row(name, "[green]ok[/]" if ok else "[red]FAIL[/]", Text(detail))
    out.print(table)
    if failed:
        raise typer.Exit(1)


@app.command()
def mcp(
    namespace: NamespaceOpt = None,
    multi: Annotated[bool, typer.Option("--multi", help="Serve every namespace: each tool call names one (reads never create one).")] = False,
    http: Annotated[Optional[str], typer.Option("--http", metavar="HOST:PORT", help="Serve streamable HTTP at http://HOST:PORT/mcp instead of stdio (loopback only, unless --allow-remote).")] = None,
    allow_remote: Annotated[bool, typer.Option("--allow-remote", help="Let --http bind a non-loopback address (the server has no authentication).")] = False,
    model: Annotated[Optional[str], typer.Option("--model", "-m", help="Who answers `ask`: none (the default here: extractive, instant), reader, local/smollm2, or any litellm model.")] = None,
    home: HomeOpt = None,
    config_file: ConfigOpt = None,
) -> None:
    """Serve this memory to MCP clients (Claude Desktop, Cursor, ...): over stdio, or streamable HTTP with --http."""
    from hyperloom.integrations.mcp_serve import serve

    serve(settings(home, namespace, config_file), model=model, multi=multi, http=http, allow_remote=allow_remote)


def main() -> None:
    """Entry point: a HyperloomError becomes one line on stderr and exit status 1."""
    try:
        app()  # standalone: click reports usage errors itself and exits 2
    except HyperloomError as exc:
        say("error", "red", exc)
        sys.exit(1)


if __name__ == "__main__":
    main()
