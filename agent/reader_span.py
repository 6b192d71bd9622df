"""A neural span scorer for the reader: the shipped MiniLM (int8 ONNX) reads "[CLS] question [SEP] sentence [SEP]" and a
small trained head scores each sentence token as the answer's first and last token (RESEARCH.md section 10).

The encoder is the embedder's own pinned file (`retrieval.embed.MODEL_FILE`), frozen; only the head is trained
(`benchmarks/reader_span_fit.py`, weights in `reader_span.npz` next to `reader.json`). A token's features are its state,
its state times the question's mean state, and its best cosine with a question token; the head is one hidden layer
(`relu`) to a start and an end logit. A span's score is its first token's start logit plus its last token's end logit.
The head loads lazily, once per process; when its file is missing or unreadable the reader ranks without it and
`notice` says so (once, as a warning).
"""

from __future__ import annotations

import threading
import warnings
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from hyperloom.errors import ConfigError

# Off. Measured (LoCoMo dev, leave-one-conversation-out, `reader_fit --span`), the head's columns leave the reader where
# it is on the packed evidence: categories 1-4 F1 0.322 without and with (single-hop 0.273 -> 0.263, multi-hop
# 0.206 -> 0.236, temporal 0.638 both); only on the gold turns do they help (0.442 -> 0.465). And the encoder pass
# costs thirty times the rest of the reader: `read` CPU p50 8.5 -> 251 ms.
ENABLED = False
HEAD_FILE = "reader_span.npz"
REFIT = "python -m hyperloom.benchmarks.reader_span_fit ../shared/datasets/locomo/locomo_dev.json --out agent/reader_span.npz"
MAX_TOKENS = 160  # question and sentence together; a longer sentence is cut (the reader parses at most 400 characters of one)
MAX_SPAN = 12  # tokens of a free span


FEATURES = ("span_gap", "span_top", "span_free")  # the reader's features from this model (`columns`)
GAP = 10.0  # logits below the best free span at which `span_gap` reaches 0


class SpanHeadError(ConfigError):
    """The span head's weights are missing or unreadable."""


@dataclass(frozen=True)
class Scored:
    """One sentence as the head read it: its tokens' character offsets (in the sentence) and their logits."""

    offsets: np.ndarray  # (n, 2) start and end character of each sentence token
    start: np.ndarray  # (n,) start logits
    end: np.ndarray  # (n,) end logits

    def span(self, lo: int, hi: int) -> float | None:
        """The score of the character span [lo, hi) of the sentence, or None when it lies outside the read tokens."""
        first = np.nonzero(self.offsets[:, 1] > lo)[0]
        last = np.nonzero(self.offsets[:, 0] < hi)[0]
        if not len(first) or not len(last) or first[0] > last[-1]:
            return None
        return float(self.start[first[0]] + self.end[last[-1]])

    def best(self, longest: int = MAX_SPAN) -> tuple[float, int, int]:
        """(score, first character, end character) of the best span of at most `longest` tokens."""
        n = len(self.start)
        if not n:
            return float("-inf"), 0, 0
        total = self.start[:, None] + self.end[None, :]
        i, j = np.indices(total.shape)
        total = np.where((j >= i) & (j - i < longest), total, -np.inf)
        a, b = np.unravel_index(int(np.argmax(total)), total.shape)
        return float(total[a, b]), int(self.offsets[a, 0]), int(self.offsets[b, 1])


class Encoder:
    """The embedder's MiniLM file with its tokenizer, returning token states of question-sentence pairs."""

    def __init__(self, threads: int | None = None):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        from hyperloom.retrieval.embed import MODEL_FILE, TOKENIZER_FILE, packaged_file

        self.tokenizer = Tokenizer.from_file(str(packaged_file(*TOKENIZER_FILE)))
        self.tokenizer.enable_truncation(max_length=MAX_TOKENS, strategy="only_second")
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(packaged_file(*MODEL_FILE)), options, providers=["CPUExecutionProvider"])

    def features(self, question: str, sentences: Sequence[str]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per sentence: (character offsets of its tokens, their features), from one batch."""
        if not sentences:
            return []
        encodings = self.tokenizer.encode_batch([(question[:500], s) for s in sentences])
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        types = np.array([e.type_ids for e in encodings], dtype=np.int64)
        hidden = self.session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})[0]
        out = []
        for row, e in enumerate(encodings):
            seq = np.array([-1 if s is None else s for s in e.sequence_ids])
            q, s = hidden[row, seq == 0], hidden[row, seq == 1]
            out.append((np.array(e.offsets)[seq == 1], token_features(q, s)))
        return out


def token_features(q: np.ndarray, s: np.ndarray) -> np.ndarray:
    """[state, state * the question's mean state, best cosine with a question token] per sentence token."""
    if not len(s):
        return np.zeros((0, 2 * q.shape[-1] + 1), dtype=np.float32)
    qn = q / np.clip(np.linalg.norm(q, axis=1, keepdims=True), 1e-9, None)
    sn = s / np.clip(np.linalg.norm(s, axis=1, keepdims=True), 1e-9, None)
    cos = (sn @ qn.T).max(1, keepdims=True) if len(q) else np.zeros((len(s), 1))
    return np.concatenate([s, s * q.mean(0), cos], axis=1).astype(np.float32)


@dataclass(frozen=True)
class Head:
    """One hidden layer to a start and an end logit: logits = relu(((x - mean) / scale) @ W1 + b1) @ W2 + b2."""

    mean: np.ndarray
    scale: np.ndarray
    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray  # (hidden, 2)
    b2: np.ndarray
    trained_on: str = ""

    @classmethod
    def load(cls, path: Path | None = None) -> "Head":
        where = path or HEAD_FILE
        try:
            source = path if path else resources.files("hyperloom.agent").joinpath(HEAD_FILE)
            with source.open("rb") as f:
                data = np.load(f, allow_pickle=False)
                head = cls(*(np.asarray(data[k], dtype=np.float32) for k in ("mean", "scale", "w1", "b1", "w2", "b2")), str(data["trained_on"]) if "trained_on" in data else "")
            if head.w1.shape != (len(head.mean), len(head.b1)) or head.w2.shape != (len(head.b1), 2) or not all(np.all(np.isfinite(a)) for a in (head.w1, head.w2)):
                raise ValueError("shapes")
            return head
        except (OSError, KeyError, ValueError, TypeError, EOFError, zipfile.BadZipFile) as exc:
            raise SpanHeadError(f"Cannot read the reader's span head {where} ({type(exc).__name__}); refit it with `{REFIT}`.") from None

    def logits(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        h = np.maximum(((x - self.mean) / self.scale) @ self.w1 + self.b1, 0.0)
        out = h @ self.w2 + self.b2
        return out[:, 0], out[:, 1]


class SpanModel:
    """The encoder and the head: `read(question, sentences)` scores every token of each sentence."""

    def __init__(self, head: Head, encoder: Encoder | None = None):
        self.head = head
        self._encoder = encoder
        self._lock = threading.Lock()

    def read(self, question: str, sentences: Sequence[str]) -> list[Scored]:
        with self._lock:
            if self._encoder is None:
                self._encoder = Encoder()
        out = []
        for offsets, x in self._encoder.features(question, sentences):
            start, end = self.head.logits(x) if len(x) else (np.zeros(0), np.zeros(0))
            out.append(Scored(offsets, start, end))
        return out


_model: dict[str, SpanModel | None] = {}
_lock = threading.Lock()
notice: str | None = None  # why the reader is ranking without the span head, once it has tried to load it


def loaded(path: Path | None = None) -> tuple[SpanModel | None, str | None]:
    """The head at `path` (default: the shipped one) on the shipped encoder, or None and the sentence saying why not."""
    try:
        return SpanModel(Head.load(path)), None
    except SpanHeadError as exc:
        return None, f"{exc} The reader ranks its candidates without it until then."


def shipped() -> SpanModel | None:
    """The shipped head, loaded once per process; None (with `notice` set, and warned once) when unreadable.
    None, without loading anything, while the reader ranks without the head (`ENABLED`)."""
    global notice
    with _lock:
        if "shipped" not in _model and not ENABLED:
            return None
        if "shipped" not in _model:
            _model["shipped"], said = loaded()
            if said:
                notice = said
                warnings.warn(said, RuntimeWarning, stacklevel=2)
        return _model["shipped"]


def use(model: SpanModel | None) -> None:
    """Make `model` the one `shipped()` returns (a refit scores with its own heads; None turns the feature off)."""
    with _lock:
        _model["shipped"] = model


def columns(scored: dict[tuple[str, int], Scored], cands: Sequence) -> np.ndarray:
    """The `FEATURES` of each candidate: its score below the best free span of any sentence (0-1, 1 = as good),
    whether it scores best of the candidates, and how much of the best free span of its sentence it covers (char IoU).
    `scored` holds each read sentence by its key (turn id, sentence start), as `Candidate.sentence`."""
    out = np.zeros((len(cands), len(FEATURES)), dtype=np.float32)
    if not scored or not len(cands):
        return out
    free = {k: v.best() for k, v in scored.items()}
    top = max(b[0] for b in free.values())
    said = [scored[c.sentence].span(c.span.start - c.sentence[1], c.span.end - c.sentence[1]) if c.sentence in scored else None for c in cands]
    valid = [v for v in said if v is not None]
    best = max(valid) if valid else None
    for i, (c, v) in enumerate(zip(cands, said)):
        if v is None:
            continue
        _, lo, hi = free[c.sentence]
        a, b = c.span.start - c.sentence[1], c.span.end - c.sentence[1]
        inter = max(0, min(hi, b) - max(lo, a))
        out[i] = (np.clip(v - top, -GAP, 0.0) / GAP + 1.0, float(v >= best - 1e-6), inter / max(1, max(hi, b) - min(lo, a)))
    return out


def read_passages(model: SpanModel | None, question: str, found: Sequence) -> dict[tuple[str, int], Scored]:
    """The reader's parsed sentences (`reader_evidence.Passage`) as the model scores them, by sentence key."""
    if model is None or not found:
        return {}
    return dict(zip(((p.hit.turn_id, p.start) for p in found), model.read(question, [p.doc.text for p in found])))
