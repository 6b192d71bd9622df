"""One frozen settings model: built once at the edge and passed in, never read from a global."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Literal

from platformdirs import user_data_dir
from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict

from hyperloom.errors import ConfigError


def default_home() -> Path:
    """The XDG data directory (`~/.local/share/hyperloom` on Linux)."""
    return Path(user_data_dir("hyperloom", appauthor=False))


class Config(BaseSettings):
    """hyperloom's settings; every field can be set as `HYPERLOOM_<FIELD>`."""

    model_config = SettingsConfigDict(env_prefix="HYPERLOOM_", frozen=True, extra="forbid")

    home: Path = Field(default_factory=default_home)
    """Data directory: the turn log (`hyperloom.db`) and the index files live here."""

    namespace: str = "default"
    """Namespace used when a command names none; namespaces never see each other's turns."""

    embedder: str = "local/minilm"
    """`local/minilm` (offline ONNX MiniLM) or any litellm embedding model name."""

    vector_backend: Literal["hnsw", "chroma"] = "hnsw"
    """Where vectors live: hnswlib files beside the log, or Chroma."""

    chroma_url: str | None = None
    """`http://host:port` of a `chroma run` server; unset means Chroma embedded in `home`."""

    store: Literal["sqlite", "postgres"] = "sqlite"
    """Where the turn log and the structure live: `sqlite` (`home/hyperloom.db`, one machine) or `postgres`
    (`postgres_url`, shared by every process on every machine; vectors then go to the Chroma server at `chroma_url`)."""

    postgres_url: str | None = Field(None, validate_default=True)
    """`postgresql://user:password@host:port/database` when `store = "postgres"`."""

    @model_validator(mode="before")
    @classmethod
    def _postgres_vectors_on_chroma(cls, data: object) -> object:
        """In postgres mode vectors default to the Chroma server (index files would stay on one machine)."""
        if isinstance(data, dict) and data.get("store") == "postgres" and "vector_backend" not in data:
            return {**data, "vector_backend": "chroma"}
        return data

    @field_validator("postgres_url")
    @classmethod
    def _postgres_needs_servers(cls, url: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("store") != "postgres":
            return url
        if not url:
            raise PydanticCustomError("postgres", 'store = "postgres" needs `postgres_url` (postgresql://user:password@host:port/database)')
        if not info.data.get("chroma_url"):
            raise PydanticCustomError("postgres", 'store = "postgres" needs `chroma_url` too, a `chroma run` server every process shares (index files stay on one machine)')
        if info.data.get("vector_backend") != "chroma":
            raise PydanticCustomError("postgres", 'store = "postgres" keeps vectors on the Chroma server: set vector_backend = "chroma"')
        return url

    hnsw_m: int = Field(16, ge=2, le=128)
    """HNSW graph degree (see benchmarks/hnsw_recall.py for how the default was chosen)."""

    hnsw_ef_construction: int = Field(200, ge=10)
    """HNSW build-time beam width."""

    hnsw_ef_search: int = Field(64, ge=1)
    """HNSW query-time beam width; raised to k when k is larger."""

    memory: Literal["flat", "structured"] = "structured"
    """`structured` searches facts, scenes and the entity hypergraph too; `flat` searches turns only."""

    dense_weight: float = Field(0.5, ge=0.0, le=1.0)
    """Weight of the dense ranking in hybrid fusion; BM25 gets the rest."""

    embed_batch_size: int = Field(32, ge=1)
    """Texts embedded per model call."""

    model: str = "reader"
    """Who answers: `reader` (typed spans of the evidence ranked by a fitted model, no LLM, offline), `local/smollm2` (a 135M model in-process, quoting under a constraint), `none` (extractive answers by rules, no LLM), or any litellm model name."""

    reader_weights: Path | None = None
    """The reader's fitted weights (`model="reader"`); unset: the `reader.json` shipped with the package."""

    critic_weights: Path | None = None
    """The reading critic's fitted weights; unset: the `critic.json` shipped with the package. Unreadable: fixed-k retrieval with a notice."""

    api_base: str | None = None
    """Base URL of an OpenAI-compatible server for `model` (vLLM, llama.cpp server, LM Studio)."""

    llm_timeout: float = Field(60.0, gt=0)
    """Seconds an LLM call may take before it counts as failed (then retried, then answered extractively)."""

    max_rounds: int = Field(3, ge=1, le=10)
    """Retrieval rounds the sufficiency critic may ask for before the agent answers anyway."""

    first_k: int = Field(7, ge=1, le=100)
    """Turns of evidence the agent's first retrieval round takes."""

    more_k: int = Field(5, ge=1, le=100)
    """Turns each further round (asked for by the critic) may add."""

    @classmethod
    def load(cls, file: Path | None = None, **overrides: object) -> "Config":
        """Settings from (lowest first) defaults, a TOML file, the environment, then `overrides`."""
        values: dict[str, object] = {}
        if file is not None:
            # Init kwargs outrank the environment in pydantic-settings, so a TOML
            # value would beat HYPERLOOM_*; keep only file values the environment leaves unset.
            env = {k.upper() for k in os.environ}
            values.update({k: v for k, v in _read_toml(file).items() if f"HYPERLOOM_{k.upper()}" not in env})
        values.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return cls(**values)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"])
            raise ConfigError(f"Setting `{field}` is invalid: {first['msg']}; fix it in the environment or the config file.") from None

    @property
    def db_path(self) -> Path:
        return self.home / "hyperloom.db"

    @property
    def log_target(self) -> str:
        """What the turn log opens: the SQLite file, or the PostgreSQL URL."""
        return self.postgres_url if self.store == "postgres" and self.postgres_url else str(self.db_path)


def _read_toml(file: Path) -> dict[str, object]:
    try:
        with open(file, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"Config file {file} does not exist; pass an existing TOML file or none.") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Config file {file} is not valid TOML ({exc}); fix the file.") from None
