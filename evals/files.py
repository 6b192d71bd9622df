"""The output directory: checked before a run, written atomically, stale reports removed before a new run starts."""

from __future__ import annotations

import os
from pathlib import Path

from hyperloom.errors import StorageError

OUTPUTS = ("report.json", "report.md", "recall_at_k.png", "latency.png", "rounds_recall.png", "stage_latency.png")


def prepare_out(out: Path) -> Path:
    """Create the output directory up front, so an unwritable one fails before a long run."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise StorageError(f"Cannot write to the output directory {out} ({exc.strerror}); choose a writable --out directory.") from None
    return out


def clear_reports(out: Path) -> None:
    """A report from an earlier run must not sit beside the results of this one as if it described them."""
    for name in OUTPUTS:
        try:
            (out / name).unlink(missing_ok=True)
        except OSError as exc:
            raise StorageError(f"Cannot remove the old {out / name} ({exc.strerror}); choose a writable --out directory.") from None


def write_atomic(path: Path, data: str | bytes) -> Path:
    """Write beside the target, then rename over it: readers see the old file or the whole new one."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        if isinstance(data, bytes):
            tmp.write_bytes(data)
        else:
            tmp.write_text(data, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise StorageError(f"Cannot write {path} ({exc.strerror}); choose a writable --out directory.") from None
    return path
