"""What every command shares: the consoles, the common options, and settings from them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape

from hyperloom.config import Config

out = Console()
err = Console(stderr=True)


def say(label: str, style: str, message: object) -> None:
    """One labelled line on stderr (`error:`, `note:`). The message is printed as written: an unescaped
    "[b]" in a name or a path was read as markup and vanished from what the user saw."""
    err.print(f"[{style}]{label}:[/] {escape(str(message))}", highlight=False, soft_wrap=True)

HomeOpt = Annotated[Optional[Path], typer.Option("--home", help="Data directory (default: $HYPERLOOM_HOME or ~/.local/share/hyperloom).")]
NamespaceOpt = Annotated[Optional[str], typer.Option("--namespace", "-n", help="Namespace to use (default: `default`).")]
ConfigOpt = Annotated[Optional[Path], typer.Option("--config", help="A TOML file of settings (see README).")]


def settings(home: Path | None = None, namespace: str | None = None, config_file: Path | None = None, **extra: object) -> Config:
    return Config.load(config_file, home=home, namespace=namespace, **extra)
