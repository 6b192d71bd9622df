"""Fit the reader's span head (agent/reader_span.npz) over the frozen shipped MiniLM, and score it leave-one-conversation-out.

    python -m hyperloom.benchmarks.reader_span_fit ../shared/datasets/locomo/locomo_dev.json [--out agent/reader_span.npz]

Training data, each a question with the sentences the reader would read and the answer's token span(s) in them:
1. LoCoMo dev questions (categories 1-4) whose gold answer is, by official F1 >= 0.5, a span of at most
   `reader_span.MAX_SPAN` tokens of one of the sentences the reader parses from the packed evidence or the gold turns
   (`reader_fit`'s cached evidence); the question's other sentences are its negatives.
2. Span-selection examples made from LongMemEval chat haystacks (not part of the LoCoMo evaluation): a sentence with one
   named entity, number, date or object noun chunk hidden becomes a question whose answer is that span, asked with the
   wh-word of its type (who, where, when, how many, what), among `DISTRACTORS` sentences of the same session.
   Off by default (`--generated N`): they made the head worse on LoCoMo (see `GENERATED`).
The encoder is frozen, so each (question, sentence) pair is encoded once and its token features are cached on disk.
The head is fitted by Adam on a per-question softmax over every token of the question's sentences, for the first and
for the last token (the target spreads over the gold spans). `heads` fits one per held-out conversation for `reader_fit`,
which uses them leave-one-conversation-out; the shipped head is fitted on every conversation and records them.
"""

from __future__ import annotations

import argparse
import json
import pickle
import random
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hyperloom.benchmarks.reader_fit import CACHE

# Span-selection questions made from LongMemEval (`--generated N`). None by default: they made the head worse on LoCoMo
# (LOCO, the best free span overlaps a gold span on 0.237 of packed-evidence questions with 2,400 of them, 0.303 without).
GENERATED = 0
DISTRACTORS = 3  # other sentences of the session read with each generated question
GOOD = 0.5  # a LoCoMo span is a gold span when its official F1 reaches this
HIDDEN, EPOCHS, BATCH, RATE, DECAY, SEED = 64, 6, 32, 2e-3, 1e-4, 0


@dataclass
class Item:
    """One training or scoring question: its sentences (by the reader's key) and the gold character spans in them."""

    key: str
    unit: str  # LoCoMo conversation, or "lme" for a generated question
    question: str
    sentences: dict[tuple[str, int], str]
    gold: dict[tuple[str, int], list[tuple[int, int]]] = field(default_factory=dict)


# -- 1. LoCoMo ---------------------------------------------------------------------------------------


def sentence_text(text: str, start: int) -> str | None:
    from hyperloom.agent.reader_evidence import MAX_CHARS, MAX_SENTENCE
    from hyperloom.retrieval.spans import sentences

    for s, e in sentences(text[:MAX_CHARS]):
        if s == start:
            return text[s : min(e, s + MAX_SENTENCE)]
    return None


def locomo_items(exs) -> list[Item]:
    """Each `reader_fit.Example`'s parsed sentences (those its candidates come from), with the gold spans found in them."""
    out = []
    for e in exs:
        by_turn = {h.turn_id: h.text for h in e.hits}
        found = {}
        for c in e.found:
            if c.sentence[1] >= 0 and c.sentence not in found and (t := sentence_text(by_turn.get(c.sentence[0], ""), c.sentence[1])):
                found[c.sentence] = t
        item = Item(e.record["key"], e.record["unit"], e.record["question"], found)
        if e.record["code"] in (1, 2, 3, 4) and e.record["answer"]:
            item.gold = gold_spans(found, str(e.record["answer"]), e.record["code"])
        out.append(item)
    return out


_WORD = re.compile(r"\w[\w'’-]*")


def gold_spans(found: dict, answer: str, code: int) -> dict:
    """Per sentence, its best word span by official F1 when that reaches GOOD: the span's first and last words are
    answer words (a span that starts or ends otherwise scores lower), at most MAX_SPAN words."""
    from hyperloom.agent.reader_span import MAX_SPAN
    from hyperloom.evals.metrics import answer_tokens, locomo_f1

    wanted = set(answer_tokens(answer))
    out = {}
    for key, text in found.items():
        words = [(m.start(), m.end()) for m in _WORD.finditer(text)]
        hit = [i for i, (s, e) in enumerate(words) if set(answer_tokens(text[s:e])) & wanted]
        best, where = GOOD - 1e-9, []
        for a in hit:
            for b in hit:
                if a <= b < a + MAX_SPAN:
                    f = locomo_f1(text[words[a][0] : words[b][1]], answer, code)
                    if f > best + 1e-9:
                        best, where = f, [(words[a][0], words[b][1])]
                    elif abs(f - best) <= 1e-9:
                        where.append((words[a][0], words[b][1]))
        if where:
            out[key] = where
    return out


# -- 2. generated from LongMemEval ------------------------------------------------------------------------

_WH = {"PERSON": "Who", "GPE": "Where", "LOC": "Where", "FAC": "Where", "DATE": "When", "TIME": "When", "CARDINAL": "How many",
       "QUANTITY": "How much", "MONEY": "How much", "ORG": "What", "PRODUCT": "What", "WORK_OF_ART": "What", "EVENT": "What", "NORP": "What"}


def generated(path: Path, n: int | None = None, seed: int = SEED) -> list[Item]:
    """Span-selection questions from the haystack sessions' turns (RESEARCH.md section 10, after Splinter)."""
    from hyperloom.agent.nlp import spacy_pipeline
    from hyperloom.retrieval.spans import sentences

    n = GENERATED if n is None else n
    if n <= 0:
        return []
    rng = random.Random(seed)
    sessions = [s for q in json.loads(path.read_text()) for s in q["haystack_sessions"]]
    pool = []  # (session number, turn number, sentence start, sentence)
    for si, session in enumerate(sessions):
        for ti, turn in enumerate(session):
            text = turn["content"][:2000]
            pool += [(si, ti, s, text[s:e]) for s, e in sentences(text) if 20 <= e - s <= 300]
    rng.shuffle(pool)
    nlp = spacy_pipeline()
    by_session: dict[int, list] = {}
    for row in pool:
        by_session.setdefault(row[0], []).append(row)
    out = []
    for row, doc in zip(pool, nlp.pipe([r[3] for r in pool], batch_size=64)):
        if len(out) >= n:
            break
        made = _hide(doc, rng)
        if made is None:
            continue
        question, lo, hi = made
        key = (f"lme/{row[0]}/{row[1]}", row[2])
        others = [r for r in by_session[row[0]] if (r[1], r[2]) != (row[1], row[2])]
        found = {key: row[3], **{(f"lme/{r[0]}/{r[1]}", r[2]): r[3] for r in rng.sample(others, min(DISTRACTORS, len(others)))}}
        out.append(Item(f"lme/{len(out)}", "lme", question, found, {key: [(lo, hi)]}))
    return out


def _hide(doc, rng: random.Random) -> tuple[str, int, int] | None:
    """A question whose answer is one span of the sentence: the span's wh-word, then the words around it (some dropped)."""
    choices = [(e.start, e.end, _WH[e.label_]) for e in doc.ents if e.label_ in _WH]
    choices += [(c.start, c.end, "What") for c in doc.noun_chunks if c.root.dep_ in ("dobj", "pobj", "attr") and c.root.pos_ == "NOUN" and len(c) <= 5]
    choices = [c for c in choices if not all(t.is_stop or t.is_punct for t in doc[c[0] : c[1]])]
    if not choices:
        return None
    a, b, wh = rng.choice(choices)
    a += doc[a].dep_ == "det" and b - a > 1
    left = [t.text for t in doc[max(0, a - 8) : a] if not t.is_punct]
    right = [t.text for t in doc[b : b + 8] if not t.is_punct]
    kept = [w for w in left + ["|"] + right if w == "|" or rng.random() > 0.25]
    words = " ".join(w for w in kept if w != "|")
    if len(words.split()) < 2:
        return None
    return f"{wh} {words}?", doc[a].idx, doc[b - 1].idx + len(doc[b - 1].text)


# -- 3. token features, cached -----------------------------------------------------------------------------


def states(items: list[Item], cache: Path = CACHE) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]:
    """(question, sentence) -> (token character offsets, token features as float16), encoding only pairs not cached yet."""
    from hyperloom.agent.reader_span import MAX_TOKENS, Encoder
    from hyperloom.retrieval.embed import MODEL_FILE

    path = cache / f"span-states-{MODEL_FILE[2][:12]}-{MAX_TOKENS}.pickle"
    known = pickle.loads(path.read_bytes()) if path.exists() else {}
    wanted = sorted({(it.question, s) for it in items for s in it.sentences.values()} - set(known), key=lambda p: len(p[0]) + len(p[1]))
    if wanted:
        started, encoder = time.perf_counter(), Encoder(threads=1)
        for i in range(0, len(wanted), 16):
            chunk = wanted[i : i + 16]
            by_question: dict[str, list[str]] = {}
            for q, s in chunk:
                by_question.setdefault(q, []).append(s)
            for q, ss in by_question.items():
                for s, (offsets, x) in zip(ss, encoder.features(q, ss)):
                    known[(q, s)] = (offsets.astype(np.int32), x.astype(np.float16))
            if i % 1600 == 0:
                print(f"  encoded {i + len(chunk)} of {len(wanted)} pairs ({time.perf_counter() - started:.0f} s)", flush=True)
        path.write_bytes(pickle.dumps(known, protocol=5))
        print(f"encoded {len(wanted)} question-sentence pairs in {time.perf_counter() - started:.0f} s", flush=True)
    return known


# -- 4. the head ---------------------------------------------------------------------------------------------


@dataclass
class Batchable:
    """One question's tokens stacked: features, and the gold first/last token indicators."""

    x: np.ndarray
    start: np.ndarray
    end: np.ndarray


def batchable(item: Item, known) -> Batchable | None:
    xs, starts, ends = [], [], []
    for key, text in item.sentences.items():
        offsets, x = known[(item.question, text)]
        s, e = np.zeros(len(x)), np.zeros(len(x))
        for lo, hi in item.gold.get(key, ()):
            first, last = np.nonzero(offsets[:, 1] > lo)[0], np.nonzero(offsets[:, 0] < hi)[0]
            if len(first) and len(last) and first[0] <= last[-1]:
                s[first[0]] += 1
                e[last[-1]] += 1
        xs.append(x), starts.append(s), ends.append(e)
    if not xs or sum(s.sum() for s in starts) == 0:
        return None
    return Batchable(np.concatenate(xs), np.concatenate(starts), np.concatenate(ends))


def fit_head(rows: list[Batchable], trained_on: str, seed: int = SEED, epochs: int = EPOCHS):
    """Adam on the mean over questions of -log P(gold first token) - log P(gold last token), softmax per question."""
    from hyperloom.agent.reader_span import Head

    rng = np.random.default_rng(seed)
    sample = np.concatenate([r.x for r in rows[:: max(1, len(rows) // 400)]]).astype(np.float32)
    mean, scale = sample.mean(0), sample.std(0) + 1e-3
    d = len(mean)
    params = {"w1": rng.normal(0, 1 / np.sqrt(d), (d, HIDDEN)).astype(np.float32), "b1": np.zeros(HIDDEN, np.float32),
              "w2": rng.normal(0, 1 / np.sqrt(HIDDEN), (HIDDEN, 2)).astype(np.float32), "b2": np.zeros(2, np.float32)}
    m = {k: np.zeros_like(v) for k, v in params.items()}
    v = {k: np.zeros_like(v) for k, v in params.items()}
    step = 0
    for _ in range(epochs):
        for chunk in np.array_split(rng.permutation(len(rows)), max(1, len(rows) // BATCH)):
            grads = _grads(params, [rows[i] for i in chunk], mean, scale)
            step += 1
            for k in params:
                g = grads[k] + DECAY * params[k]
                m[k] = 0.9 * m[k] + 0.1 * g
                v[k] = 0.999 * v[k] + 0.001 * g * g
                params[k] -= RATE * (m[k] / (1 - 0.9**step)) / (np.sqrt(v[k] / (1 - 0.999**step)) + 1e-8)
    return Head(mean, scale, params["w1"], params["b1"], params["w2"], params["b2"], trained_on)


def _grads(p, batch: list[Batchable], mean, scale) -> dict[str, np.ndarray]:
    x = (np.concatenate([r.x for r in batch]).astype(np.float32) - mean) / scale
    sizes = np.array([len(r.x) for r in batch])
    starts = np.r_[0, np.cumsum(sizes)[:-1]]
    owner = np.repeat(np.arange(len(batch)), sizes)
    pre = x @ p["w1"] + p["b1"]
    h = np.maximum(pre, 0)
    out = h @ p["w2"] + p["b2"]
    d_out = np.zeros_like(out)
    for col, name in ((0, "start"), (1, "end")):
        target = np.concatenate([getattr(r, name) / getattr(r, name).sum() for r in batch])
        s = out[:, col]
        top = np.maximum.reduceat(s, starts)
        e = np.exp(s - top[owner])
        prob = e / np.add.reduceat(e, starts)[owner]
        d_out[:, col] = (prob - target) / len(batch)
    d_h = (d_out @ p["w2"].T) * (pre > 0)
    return {"w2": h.T @ d_out, "b2": d_out.sum(0), "w1": x.T @ d_h, "b1": d_h.sum(0)}


def write_head(head, path: Path) -> None:
    with path.open("wb") as f:
        np.savez(f, mean=head.mean, scale=head.scale, w1=head.w1, b1=head.b1, w2=head.w2, b2=head.b2, trained_on=np.array(head.trained_on))


# -- 5. scoring, leave one conversation out --------------------------------------------------------------------


def scored(head, item: Item, known) -> dict:
    from hyperloom.agent.reader_span import Scored

    out = {}
    for key, text in item.sentences.items():
        offsets, x = known[(item.question, text)]
        start, end = head.logits(x.astype(np.float32)) if len(x) else (np.zeros(0), np.zeros(0))
        out[key] = Scored(offsets, start, end)
    return out


def heads(items_by_source: dict[str, list[Item]], known, units: list[str], lme: list[Batchable], folds: list[tuple[str, ...]]) -> dict[tuple[str, ...], object]:
    """A head fitted without each held-out set of conversations in `folds` (on the generated examples and the rest)."""
    out = {}
    for held in folds:
        started = time.perf_counter()
        rows = [b for src in items_by_source.values() for it in src if it.unit not in held and it.unit in units and (b := batchable(it, known))]
        kept = ", ".join(u for u in units if u not in held)
        out[held] = fit_head(rows + lme, f"LoCoMo dev {kept}: {len(rows)} questions with a gold span in the reader's sentences of the packed evidence or the gold turns" + (f"; {len(lme)} span-selection questions generated from LongMemEval" if lme else ""))
        print(f"  head without {', '.join(held) or 'nothing'}: {len(rows)} LoCoMo + {len(lme)} generated questions ({time.perf_counter() - started:.0f} s)", flush=True)
    return out


class Folds:
    """The span columns of `reader_fit` examples, leave-one-conversation-out and nested: an example of conversation d
    scored for held-out conversation c (a ranker trained on d to score c) reads a head fitted without both c and d, and
    an example of c itself a head fitted without c. So no figure of c depends on c's labels (6 + 15 heads)."""

    def __init__(self, records, cache: Path, lme_path: Path, nested: bool = True):
        from hyperloom.benchmarks import reader_fit

        self.sources = {s: locomo_items(reader_fit.examples(records, s, cache)) for s in ("hits", "gold_hits")}
        lme_items = generated(lme_path)
        self.known = states([*self.sources["hits"], *self.sources["gold_hits"], *lme_items], cache)
        self.lme = [b for it in lme_items if (b := batchable(it, self.known))]
        self.units = sorted({it.unit for it in self.sources["hits"]})
        pairs = [(u, v) for i, u in enumerate(self.units) for v in self.units[i + 1 :]] if nested else []
        print(f"span head: {len(self.lme)} generated questions; LoCoMo questions with a gold span: " + ", ".join(f"{s} {sum(bool(it.gold) for it in v)}" for s, v in self.sources.items()), flush=True)
        self.heads = heads(self.sources, self.known, self.units, self.lme, [(u,) for u in self.units] + pairs)
        self.nested = nested
        self._items: dict[int, Item] = {}

    def fill(self, e, held: str, row: str | None = None):
        """`e` with its span columns as seen when `held` is the held-out conversation (and `row` the example's own, when training)."""
        from dataclasses import replace

        from hyperloom.agent.reader_span import FEATURES, columns

        fold = tuple(sorted({held, row})) if row is not None and row != held and self.nested else (held,)
        item = self._items.get(id(e)) or self._items.setdefault(id(e), locomo_items([e])[0])
        X = e.X.copy()
        if len(X):
            X[:, -len(FEATURES):] = columns(scored(self.heads[fold], item, self.known), e.found)
        return replace(e, X=X)

    def shipped(self, e):
        """`e` as the shipped ranker trains on it: its columns from the head fitted without its own conversation."""
        return self.fill(e, e.record["unit"])


def top1(head, items: list[Item], known) -> float:
    """Share of questions with a gold span whose best free span overlaps a gold span (a quick check of the head alone)."""
    good = n = 0
    for it in items:
        if not it.gold:
            continue
        n += 1
        s = scored(head, it, known)
        key = max(s, key=lambda k: s[k].best()[0])
        _, lo, hi = s[key].best()
        good += any(min(hi, b) > max(lo, a) for a, b in it.gold.get(key, ()))
    return good / max(1, n)


def lme_next_to(locomo: Path) -> Path:
    return locomo.resolve().parent.parent / "longmemeval/longmemeval_s_sample.json"


def main() -> None:
    from hyperloom.agent import reader_span
    from hyperloom.benchmarks import reader_fit

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument("--lme", type=Path, default=None, help="LongMemEval haystacks to generate questions from (default: next to the LoCoMo folder)")
    parser.add_argument("--out", type=Path, default=None, help="where to write the head fitted on every conversation")
    parser.add_argument("--generated", type=int, default=GENERATED, help="span-selection questions to generate from LongMemEval")
    args = parser.parse_args()
    globals()["GENERATED"] = args.generated
    reader_span.use(None)  # the reader's own candidates, without any head
    records = reader_fit.collect(args.dataset, args.cache)
    sources = {s: locomo_items(reader_fit.examples(records, s, args.cache)) for s in ("hits", "gold_hits")}
    lme_items = generated(args.lme or lme_next_to(args.dataset))
    known = states([*sources["hits"], *sources["gold_hits"], *lme_items], args.cache)
    lme = [b for it in lme_items if (b := batchable(it, known))]
    units = sorted({it.unit for it in sources["hits"]})
    print(f"{len(lme)} generated questions; LoCoMo questions with a gold span: " + ", ".join(f"{s} {sum(bool(it.gold) for it in v)}" for s, v in sources.items()))
    if lme:
        only = fit_head(lme, "LongMemEval generated")
        print(f"head on generated questions only: best free span overlaps gold on {top1(only, sources['hits'], known):.3f} of packed-evidence questions")
    fold = heads(sources, known, units, lme, [(u,) for u in units])
    held = np.mean([top1(fold[(u,)], [it for it in sources["hits"] if it.unit == u], known) for u in units])
    print(f"head LOCO ({len(lme)} generated + 5 conversations): best free span overlaps gold on {held:.3f} of packed-evidence questions (mean over folds)")
    if args.out:
        head = heads(sources, known, units, lme, [()])[()]
        write_head(head, args.out)
        print(f"wrote {args.out}: {head.trained_on}")


if __name__ == "__main__":
    main()
