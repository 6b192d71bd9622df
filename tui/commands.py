"""Slash commands: what each one is for, how a typed line parses, and how a half-typed one completes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    usage: str
    help: str
    choices: tuple[str, ...] = ()  # completions for the first argument


COMMANDS = (
    Command("help", "/help", "what you can type and press"),
    Command("new", "/new", "start a new session (memory stays)"),
    Command("sessions", "/sessions", "list the sessions of this namespace"),
    Command("ingest", "/ingest PATH", "remember a conversation file (LoCoMo or hyperloom JSON)"),
    Command("forget", "/forget turn|session|entity X", "forget a turn, a session or an entity, after confirmation", ("turn", "session", "entity")),
    Command("model", "/model NAME", "answer with another model: reader, none, local/smollm2, openai/...", ("reader", "none", "local/smollm2")),
    Command("namespace", "/namespace NAME", "switch to another namespace (a separate memory)"),
    Command("export", "/export PATH", "write this namespace as a hyperloom JSON file"),
    Command("trace", "/trace", "why the last answer said what it said"),
    Command("inspect", "/inspect", "browse and edit what is remembered"),
    Command("quit", "/quit", "leave hyperloom"),
)
BY_NAME = {c.name: c for c in COMMANDS}


@dataclass(frozen=True, slots=True)
class Parsed:
    name: str
    args: list[str]
    rest: str  # everything after the command name, stripped (paths may hold spaces)


def parse(line: str) -> Parsed:
    """`/forget session s1` → Parsed("forget", ["session", "s1"], "session s1")."""
    head, _, rest = line.strip().lstrip("/").partition(" ")
    return Parsed(head.lower(), rest.split(), rest.strip())


def completions(line: str) -> list[Command | str]:
    """Commands a half-typed `/na` may become, or the choices for a command's first argument."""
    if not line.startswith("/"):
        return []
    head, space, rest = line[1:].partition(" ")
    if not space:
        return [c for c in COMMANDS if c.name.startswith(head.lower())]
    command = BY_NAME.get(head.lower())
    if command is None or " " in rest.strip():
        return []
    return [f"/{command.name} {choice}" for choice in command.choices if choice.startswith(rest) and choice != rest]


def complete(line: str) -> str:
    """What Tab turns the line into: the only candidate, or the candidates' common prefix."""
    found = [f"/{c.name}" + (" " if "PATH" in c.usage or "NAME" in c.usage or c.choices else "") if isinstance(c, Command) else c + " " for c in completions(line)]
    if not found:
        return line
    if len(found) == 1:
        return found[0]
    prefix = found[0]
    for other in found[1:]:
        while not other.startswith(prefix):
            prefix = prefix[:-1]
    return prefix if len(prefix) > len(line) else line


def help_markdown() -> str:
    rows = "\n".join(f"| `{c.usage}` | {c.help} |" for c in COMMANDS)
    keys = "**Enter** send · **Ctrl+J** new line · **↑/↓** history · **Tab** complete · **F2** inspector · **F3** trace · **F9** light/dark · **Ctrl+Q** quit"
    return f"| command | does |\n|---|---|\n{rows}\n\n{keys}\n\nIn the evidence panel, **Enter** on a citation opens its turn in its session."
