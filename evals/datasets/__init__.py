"""Benchmark data sets: LoCoMo, LongMemEval (S / M / oracle) and a JSONL format for your own conversations."""

from __future__ import annotations

from importlib import import_module
from pathlib import Path

from hyperloom.errors import InputError
from hyperloom.evals.datasets.base import Dataset, Question, Unit

DATASETS = ("locomo", "longmemeval", "jsonl")

__all__ = ["DATASETS", "Dataset", "Question", "Unit", "load_dataset"]


def load_dataset(name: str, path: Path) -> Dataset:
    """The whole data set, validated before anything runs; InputError names the first defect."""
    if name not in DATASETS:
        raise InputError(f"Unknown data set {name!r}; choose one of {', '.join(DATASETS)}.")
    return import_module(f"hyperloom.evals.datasets.{name}").load(Path(path))
