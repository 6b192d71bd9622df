"""Embedders: the offline MiniLM default is sane and verified; any litellm model works over real HTTP."""

from __future__ import annotations

import math
import socket

import numpy as np
import pytest
from hypothesis import given, strategies as st

from fakes import OpenAIHandler, openai_server
from hyperloom.errors import BackendUnavailable, StorageError
from hyperloom.retrieval.embed import ATTENTION_BUDGET, MODEL_FILE, LiteLLMEmbedder, OnnxMiniLM, _batches, packaged_file


def test_minilm_gives_unit_384_vectors_with_sensible_similarity(embedder: OnnxMiniLM) -> None:
    v = embedder.embed_many(["A man is eating food.", "A man is eating a piece of bread.", "The new movie is awesome."])
    assert v.shape == (3, 384) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert v[0] @ v[1] > 0.6 > 0.2 > v[0] @ v[2]


def test_batching_does_not_change_vectors(embedder: OnnxMiniLM) -> None:
    texts = ["short", "a much longer sentence about the cello and the fig tree", "mid length text here"]
    one_by_one = np.vstack([embedder.embed(t) for t in texts])
    assert np.allclose(embedder.embed_many(texts, batch_size=2), one_by_one, atol=1e-4)


@given(lengths=st.lists(st.integers(1, 3000), max_size=200), batch_size=st.integers(1, 64))
def test_batches_cover_every_text_once_within_the_attention_budget(lengths: list[int], batch_size: int) -> None:
    lengths = sorted(lengths)
    batches = list(_batches(list(range(len(lengths))), lengths, batch_size))
    assert [i for b in batches for i in b] == list(range(len(lengths)))
    for b in batches:  # a text alone is always a batch, however long
        assert len(b) == 1 or (len(b) <= batch_size and len(b) * lengths[b[-1]] ** 2 <= ATTENTION_BUDGET)


def test_long_texts_go_a_few_to_a_batch(embedder: OnnxMiniLM) -> None:
    texts = ["word " * 250 + str(i) for i in range(12)] + ["short one"]
    assert np.allclose(embedder.embed_many(texts), np.vstack([embedder.embed(t) for t in texts]), atol=1e-4)


def test_model_file_with_wrong_checksum_is_refused() -> None:
    package, path, _ = MODEL_FILE
    with pytest.raises(StorageError, match="checksum"):
        packaged_file(package, path, "0" * 64)


def test_litellm_embedder_over_a_real_http_server() -> None:
    with openai_server() as api_base:
        embedder = LiteLLMEmbedder("openai/letters", api_base=api_base, api_key="sk-test-secret")
        vector = embedder.embed("aab")
    assert embedder.dim == 26
    assert vector[:3] == pytest.approx([2 / math.sqrt(5), 1 / math.sqrt(5), 0.0], abs=1e-6)
    assert OpenAIHandler.requests[-1]["auth"] == "Bearer sk-test-secret"


def test_unreachable_embedding_server_is_one_clear_error_without_the_key() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: connections are refused
        with pytest.raises(BackendUnavailable, match="check the model name, key and server") as info:
            LiteLLMEmbedder("openai/letters", dim=26, api_base=f"http://127.0.0.1:{port}/v1", api_key="sk-test-secret", num_retries=0).embed("x")
    assert "sk-test-secret" not in str(info.value)
