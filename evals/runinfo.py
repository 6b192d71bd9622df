"""What a report records about the run itself: settings, package versions, git revision, machine."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from hyperloom.config import Config

PACKAGES = ("hyperloom", "numpy", "onnxruntime", "tokenizers", "hnswlib", "bm25s", "PyStemmer", "chromadb", "litellm", "matplotlib")


def versions(extra: tuple[str, ...] = ()) -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES + extra:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_revision(root: Path | None = None) -> dict[str, object]:
    """The commit of the code that ran, and whether the work tree had uncommitted changes."""
    root = root or Path(__file__).resolve().parent.parent
    try:
        rev = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        status = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return {"revision": None, "dirty": None}
    if rev.returncode != 0:
        return {"revision": None, "dirty": None}
    return {"revision": rev.stdout.strip(), "dirty": bool(status.stdout.strip())}


def config_for_report(config: Config) -> dict:
    return config.model_dump(mode="json", exclude={"home"})  # home is a temporary directory per unit


def machine() -> dict[str, object]:
    return {"platform": platform.platform(), "cpus": os.cpu_count(), "argv": sys.argv[1:]}
