"""`load_locomo` for code written before evals/datasets (benchmarks/hnsw_recall.py): the units of a LoCoMo file."""

from __future__ import annotations

from pathlib import Path

from hyperloom.evals.datasets.base import Unit
from hyperloom.evals.datasets.locomo import CATEGORIES, PUBLISHED_AT, load

__all__ = ["CATEGORIES", "PUBLISHED_AT", "load_locomo"]


def load_locomo(path: Path) -> tuple[Unit, ...]:
    """Each sample as a Unit: `.conversation` (turns, sessions) and `.questions`."""
    return load(Path(path)).units
