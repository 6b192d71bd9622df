"""One contract, every vector index: hnswlib files, embedded Chroma, and a real `chroma run` server."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hyperloom.errors import BackendUnavailable
from conftest import free_port
from hyperloom.retrieval.index import ChromaIndex, HnswIndex, VectorIndex, safe_name

DIM = 8


@pytest.fixture(params=["hnsw", "chroma-embedded", "chroma-server"])
def make_index(request: pytest.FixtureRequest, tmp_path: Path):
    """A factory: namespace -> a fresh index of the parametrised kind."""
    def make(namespace: str) -> VectorIndex:
        if request.param == "hnsw":
            return HnswIndex(tmp_path / f"{safe_name(namespace)}.hnsw", DIM, m=8, ef_construction=50, ef_search=20)
        if request.param == "chroma-embedded":
            return ChromaIndex(namespace, path=tmp_path / "chroma")
        return ChromaIndex(f"{namespace}-{tmp_path.name}", url=request.getfixturevalue("chroma_url"))
    return make


def unit_rows(n: int, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_add_query_delete(make_index) -> None:
    index, vectors = make_index("a"), unit_rows(50)
    index.add(list(range(100, 150)), vectors)
    assert len(index) == 50
    (best, score), *_ = index.query(vectors[7], 3)
    assert best == 107 and score == pytest.approx(1.0, abs=1e-4)
    index.delete([107])
    assert 107 not in [i for i, _ in index.query(vectors[7], 10)] and len(index) == 49


def test_query_never_asks_for_more_than_it_has(make_index) -> None:
    index = make_index("small")
    assert index.query(unit_rows(1)[0], 5) == []
    index.add([1, 2], unit_rows(2))
    assert len(index.query(unit_rows(1, seed=3)[0], 10)) == 2


def test_query_among_ranks_only_the_ids_asked_about(make_index) -> None:
    index, vectors = make_index("among"), unit_rows(60, seed=5)
    index.add(list(range(60)), vectors)
    index.delete([11])
    allowed = {3, 11, 17, 42, 59, 1000}  # 11 was deleted and 1000 never added: neither is found, nothing raises
    query = vectors[42] + 0.3 * vectors[17]
    query /= np.linalg.norm(query)
    found = index.query_among(query, 10, allowed)
    sims = {i: float(vectors[i] @ query) for i in (3, 17, 42, 59)}
    assert [i for i, _ in found] == sorted(sims, key=lambda i: -sims[i])
    assert all(s == pytest.approx(sims[i], abs=1e-4) for i, s in found)
    assert [i for i, _ in index.query_among(query, 2, allowed)] == [i for i, _ in found[:2]]
    assert index.query_among(query, 5, {11, 1000}) == []
    present = index.query_among(query, 10, [3, 42, 17])  # all of them there: one request to a Chroma server
    assert [i for i, _ in present] == [i for i, _ in found if i in (3, 42, 17)]
    assert all(s == pytest.approx(sims[i], abs=1e-4) for i, s in present)


def test_namespaces_never_see_each_other(make_index) -> None:
    a, b = make_index("alice"), make_index("bob")
    vectors = unit_rows(20)
    a.add(list(range(20)), vectors)
    b.add(list(range(1000, 1020)), vectors)  # identical vectors, other ids
    for v in vectors:
        assert all(i < 1000 for i, _ in a.query(v, 20))
        assert all(i >= 1000 for i, _ in b.query(v, 20))


def test_persisted_index_reloads_with_deletions(make_index) -> None:
    index, vectors = make_index("p"), unit_rows(30)
    index.add(list(range(30)), vectors)
    index.delete([3, 4])
    index.save()
    again = make_index("p")
    again.load()
    assert again.ids() == set(range(30)) - {3, 4}
    assert again.query(vectors[10], 1)[0][0] == 10


def test_hnsw_grows_past_its_initial_capacity(tmp_path: Path) -> None:
    index = HnswIndex(None, DIM, m=8, ef_construction=50)
    index.add(list(range(3000)), unit_rows(3000))
    assert len(index) == 3000


def test_unreachable_chroma_server_is_one_clear_error() -> None:
    with pytest.raises(BackendUnavailable, match="start it with `chroma run`"):
        ChromaIndex("x", url=f"http://127.0.0.1:{free_port()}")
