"""Shared fixtures: a real embedder loaded once, and stores in temporary data directories."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from chroma_server import ChromaServer
from hyperloom.config import Config
from hyperloom.memory.store import MemoryStore
from hyperloom.retrieval.embed import OnnxMiniLM
from hyperloom.samples import sample_path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def chroma_url(tmp_path_factory: pytest.TempPathFactory):
    """A real Chroma server on a loopback port, in a temporary directory, stopped afterwards."""
    server = ChromaServer(tmp_path_factory.mktemp("chroma-server"))
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def embedder() -> OnnxMiniLM:
    return OnnxMiniLM()


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return Config(home=tmp_path / "home")


@pytest.fixture
def store(config: Config, embedder: OnnxMiniLM):
    with MemoryStore(config, embedder=embedder) as s:
        yield s


@pytest.fixture
def demo_store(store: MemoryStore) -> MemoryStore:
    store.ingest(sample_path(), "demo")
    return store


def write_locomo(path: Path, samples: list[dict]) -> Path:
    path.write_text(json.dumps(samples))
    return path


def locomo_sample(sample_id: str = "conv-t") -> dict:
    """A two-session LoCoMo-format conversation with questions whose answers a person can check by eye."""
    return {
        "sample_id": sample_id,
        "conversation": {
            "speaker_a": "Ada",
            "speaker_b": "Bo",
            "session_1_date_time": "1:56 pm on 8 May, 2023",
            "session_1": [
                {"speaker": "Ada", "dia_id": "D1:1", "text": "I adopted a puppy called Biscuit yesterday!"},
                {"speaker": "Bo", "dia_id": "D1:2", "text": "Lovely. I spent the weekend fixing my old bicycle."},
                {"speaker": "Ada", "dia_id": "D1:3", "text": "Look at this.", "img_url": ["x"], "blip_caption": "a photo of a golden retriever puppy on a sofa"},
            ],
            "session_2_date_time": "10:00 am on 20 June, 2023",
            "session_2": [
                {"speaker": "Bo", "dia_id": "D2:1", "text": "I finally rode the bicycle to the lake and back."},
                {"speaker": "Ada", "dia_id": "D2:2", "text": "Biscuit learned to sit this week."},
            ],
            "session_3_date_time": "9:00 am on 1 July, 2023",
        },
        "qa": [
            {"question": "What is the name of Ada's puppy?", "answer": "Biscuit", "evidence": ["D1:1"], "category": 4},
            {"question": "Where did Bo ride his bicycle?", "answer": "to the lake", "evidence": ["D2:1"], "category": 4},
            {"question": "What did Bo repair and where did he ride it?", "answer": "bicycle, lake", "evidence": ["D1:2; D2:1"], "category": 1},
            {"question": "What breed is the puppy?", "answer": "golden retriever", "evidence": ["D1:3", "D9:99"], "category": 3},
            {"question": "What did Ada say about cats?", "adversarial_answer": "nothing", "evidence": [], "category": 5},
        ],
    }


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL 15 server on a loopback port, in a temporary directory, stopped afterwards (tests/pg.py)."""
    from pg import PostgresServer

    server = PostgresServer()
    yield server
    server.stop()


@pytest.fixture
def pg_url(postgres) -> str:
    """The URL of a fresh database on that server, for one test."""
    return postgres.new_database()


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    """Which store a contract test runs against: each runs against both."""
    return request.param


@pytest.fixture
def log_target(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """Where a TurnLog opens for this backend: a file in tmp_path, or a fresh PostgreSQL database."""
    return str(tmp_path / "t.db") if backend == "sqlite" else request.getfixturevalue("pg_url")


@pytest.fixture
def pg_store(tmp_path: Path, embedder: OnnxMiniLM, pg_url: str, chroma_url: str):
    """An empty structured store on a fresh PostgreSQL database, its vectors on the Chroma server
    (modules that run SQLite tests again against PostgreSQL name it their `store`)."""
    config = Config(home=tmp_path / "home", memory="structured", store="postgres", postgres_url=pg_url, chroma_url=chroma_url)
    with MemoryStore(config, embedder=embedder) as s:
        yield s
