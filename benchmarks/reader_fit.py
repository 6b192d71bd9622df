"""Fit the reader's ranking and abstention (agent/reader.json) on LoCoMo, and report every figure leave-one-conversation-out.

    python -m hyperloom.benchmarks.reader_fit ../shared/datasets/locomo/locomo_dev.json [--out agent/reader.json]

1. Evidence, as the agent sees it: each conversation is ingested into a fresh structured memory
   (`model="none"`), and each question is run through the agent's graph; the hits it packs for
   the answer are what the reader reads. The gold evidence turns are kept too (the reader's upper
   bound). Both are cached as JSON under --cache, so a refit does not ingest again.
2. Candidates: the reader's own candidate spans of that evidence, each labelled by its official
   LoCoMo F1 against the gold answer.
3. Ranking: a linear model over the reader's features, fitted listwise (a softmax over each
   question's candidates whose target is F1 ** POWER) and calibrated to a probability, or
   pointwise (`--objective pointwise`: a logistic regression on F1 >= 0.5). For each
   conversation a model is fitted on the other conversations and scores the held-out one
   (leave-one-conversation-out); the list-joining ratio and the abstention threshold are chosen
   inside each fold too. The evidence sentences' parses are cached on disk (spaCy DocBin).
4. The shipped weights are fitted on every conversation, recording which ones.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CACHE = Path(tempfile.gettempdir()) / "hyperloom-reader"


# -- 1. evidence -----------------------------------------------------------------------------


def collect(dataset: Path, cache: Path) -> list[dict]:
    """Per question: text, category, gold, the packed hits and the gold evidence hits (cached per conversation)."""
    from hyperloom.evals.datasets import locomo

    cache.mkdir(parents=True, exist_ok=True)
    out = []
    for unit in locomo.load(dataset).units:
        path = cache / f"{unit.name}.json"
        if not path.exists():
            started = time.perf_counter()
            records = _unit_records(unit)
            path.write_text(json.dumps(records))
            print(f"collected {unit.name}: {len(records)} questions in {time.perf_counter() - started:.0f} s", flush=True)
        out += json.loads(path.read_text())
    return out


def _unit_records(unit) -> list[dict]:
    from dataclasses import asdict

    from hyperloom import Agent
    from hyperloom.config import Config
    from hyperloom.evals.agent_qa import question_now
    from hyperloom.memory.store import MemoryStore
    from hyperloom.retrieval.search import Hit
    from hyperloom.retrieval.spans import best_spans

    turns = {t.id: t for t in unit.conversation.turns}
    records = []
    with tempfile.TemporaryDirectory(prefix="hyperloom-reader-") as home:
        config = Config(home=Path(home), model="none", memory="structured")
        store = MemoryStore(config)
        store.remember(unit.conversation.turns, unit.name, unit.conversation.sessions)
        store.consolidate(unit.name)
        agent = Agent(config.model_copy(update={"namespace": unit.name}), store=store)
        try:
            graph = agent._compiled()
            for q in unit.questions:
                now = question_now(q, unit)
                agent.new_session(f"fit/{q.key}")
                final = graph.invoke({"question": q.text}, {"configurable": {"thread_id": f"{unit.name}/{agent.session}"}}, context=agent._context(False, None, now))
                packed = sorted(final.get("packed", []), key=lambda h: -h["score"])
                gold = [asdict(Hit(t.id, 1.0, t.text, t.speaker, t.created_at, best_spans(t.id, t.text, q.text), t.session)) for e in q.evidence if (t := turns.get(e))]
                records.append({"key": q.key, "unit": unit.name, "question": q.text, "code": q.code, "answer": q.answer, "now": now, "hits": packed, "gold_hits": gold, "baseline": final.get("text", "")})
        finally:
            agent.close()
    return records


# -- 2. candidates and labels ---------------------------------------------------------------------


@dataclass
class Example:
    """One question's candidates: features, official F1 of each against the gold, and what abstention reads."""

    record: dict
    analysis: object
    hits: list
    found: list
    X: np.ndarray
    f1: np.ndarray


def examples(records: list[dict], source: str, cache: Path = CACHE) -> list[Example]:
    """Every question's candidates, cached under `cache` until the reader's code changes."""
    import hashlib
    import pickle

    from hyperloom import agent

    code = hashlib.sha256(b"".join(p.read_bytes() for p in sorted(Path(agent.__file__).parent.glob("*.py")) if p.name.startswith(("reader", "question")))).hexdigest()[:12]
    path = cache / f"examples-{source}-{code}-{len(records)}.pickle"
    if path.exists():
        return pickle.loads(path.read_bytes())
    preparse(records, source, cache)
    out = _examples(records, source)
    path.write_bytes(pickle.dumps(out))
    return out


def preparse(records: list[dict], source: str, cache: Path) -> None:
    """Parse every evidence sentence once and keep the parses on disk (spaCy DocBin), so that a refit does not parse again."""
    from spacy.tokens import DocBin

    from hyperloom.agent import reader_evidence
    from hyperloom.agent.nlp import spacy_pipeline
    from hyperloom.retrieval.spans import sentences

    nlp = spacy_pipeline()
    reader_evidence.DOC_CACHE = 10**7
    path = cache / f"sentences-{nlp.meta['name']}-{nlp.meta['version']}.spacy"
    known: dict[str, object] = {}
    if path.exists():
        known = {d.text: d for d in DocBin().from_bytes(path.read_bytes()).get_docs(nlp.vocab)}
    wanted = set()
    for r in records:
        for h in r[source][: reader_evidence.LOOK]:
            text = (h["text"] or "")[: reader_evidence.MAX_CHARS]
            if text.strip():
                wanted.update(text[s : min(e, s + reader_evidence.MAX_SENTENCE)] for s, e in sentences(text))
    missing = sorted(wanted - set(known))
    if missing:
        started = time.perf_counter()
        known.update(zip(missing, nlp.pipe(missing, batch_size=64)))
        path.write_bytes(DocBin(docs=list(known.values())).to_bytes())
        print(f"parsed {len(missing)} evidence sentences in {time.perf_counter() - started:.0f} s", flush=True)
    reader_evidence.remember(known.items())


def _examples(records: list[dict], source: str) -> list[Example]:
    from hyperloom.agent.question import analyse
    from hyperloom.agent.reader import candidates, feature_names
    from hyperloom.agent.state import hit_from_dict
    from hyperloom.evals.metrics import locomo_f1

    out = []
    for r in records:
        analysis = analyse(r["question"])
        hits = [hit_from_dict(h) for h in r[source]]
        found = candidates(analysis, hits) if analysis.words else []
        X = np.stack([c.features for c in found]) if found else np.zeros((0, len(feature_names())), dtype=np.float32)
        f1 = np.array([locomo_f1(c.text, r["answer"], r["code"]) for c in found]) if r["code"] != 5 and r["answer"] is not None else np.zeros(len(found))
        out.append(Example(r, analysis, hits, found, X, f1))
    return out


# -- 3. ranking, leave one conversation out --------------------------------------------------------

CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}
GOOD = 0.5  # a candidate is a positive example when its F1 reaches this


OBJECTIVE = "listwise"  # or "pointwise": a logistic regression on F1 >= GOOD per candidate
L2 = 1.0  # listwise: the weights' squared norm costs L2 / 2 per 100 questions
POWER = 6.0  # listwise: a question's target spreads over its candidates as F1 ** POWER


def fit_ranker(train: list[Example], columns: np.ndarray | None = None, C: float = 0.3):
    rows = [e for e in train if e.record["code"] != 5 and len(e.found)]
    X = np.concatenate([e.X for e in rows]).astype(float)
    if columns is not None:
        X = X * columns
    mean, scale = X.mean(0), X.std(0)
    scale[scale < 1e-9] = 1.0
    Z = (X - mean) / scale
    y = np.concatenate([e.f1 >= GOOD for e in rows]).astype(int)
    if OBJECTIVE == "pointwise":
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(C=C, max_iter=3000, class_weight="balanced").fit(Z, y)
        return model.coef_[0], float(model.intercept_[0]), mean, scale
    w = listwise(Z, [e.f1 for e in rows])
    a, b = calibrate(Z @ w, y)
    return w * a, b, mean, scale


def listwise(Z: np.ndarray, f1s: list[np.ndarray]) -> np.ndarray:
    """Weights of a softmax over each question's candidates (a conditional logit), fitted to put the question's
    probability mass on its best candidates: the target is F1 ** POWER, normalised per question."""
    from scipy.optimize import minimize

    keep = np.concatenate([np.full(len(f), f.max() > 0) for f in f1s])
    Z = Z[keep]
    f1s = [f for f in f1s if f.max() > 0]
    sizes = np.array([len(f) for f in f1s])
    starts = np.r_[0, np.cumsum(sizes)[:-1]]
    owner = np.repeat(np.arange(len(f1s)), sizes)
    target = np.concatenate([f**POWER / (f**POWER).sum() for f in f1s])
    n, penalty = len(f1s), L2 * len(f1s) / 100

    def loss(w):
        s = Z @ w
        top = np.maximum.reduceat(s, starts)
        e = np.exp(s - top[owner])
        total = np.add.reduceat(e, starts)
        lse = top + np.log(total)
        p = e / total[owner]
        return (-(target * (s - lse[owner])).sum() + penalty * (w @ w) / 2) / n, (Z.T @ (p - target) + penalty * w) / n

    return minimize(loss, np.zeros(Z.shape[1]), jac=True, method="L-BFGS-B", options={"maxiter": 1000}).x


def calibrate(s: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Scale and bias that make sigmoid(a * s + b) the chance that a candidate reaches F1 >= GOOD."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=100.0, max_iter=1000).fit(s[:, None], y)
    return float(model.coef_[0][0]), float(model.intercept_[0])


def probabilities(model, e: Example, columns=None) -> np.ndarray:
    from hyperloom.agent.reader import logits

    X = e.X if columns is None else e.X * columns
    return 1.0 / (1.0 + np.exp(-logits(model, X))) if len(X) else np.zeros(0)


def answer(e: Example, scores: np.ndarray, ratio: float) -> str:
    from hyperloom.agent.reader import NO_ANSWER, is_choice, pick, yes_or_no

    if e.analysis.answer_type == "yesno" and not is_choice(e.analysis):  # as reader.read answers it: a verdict, no ranking
        return yes_or_no(e.analysis, e.hits).text
    if not len(e.found):
        return NO_ANSWER
    order = np.argsort(-scores, kind="stable")
    return ", ".join(c.text for c in pick(e.analysis, e.found, scores, order, ratio))


def score(e: Example, prediction: str) -> float:
    from hyperloom.evals.metrics import locomo_f1

    if e.record["code"] != 5 and e.record["answer"] is None:
        return float("nan")
    return locomo_f1(prediction, e.record["answer"], e.record["code"])


RATIOS = (1.0, 0.8, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05, 0.02, 0.01)


def choose_ratio(train: list[Example], scores: dict[str, np.ndarray]) -> float:
    """The list-joining ratio best on the training conversations (list questions only)."""
    lists = [e for e in train if e.analysis.is_list and e.record["code"] != 5 and e.record["answer"]]
    return max(RATIOS, key=lambda r: sum(score(e, answer(e, scores[e.record["key"]], r)) for e in lists))


def loco(exs: list[Example], columns=None) -> dict[str, np.ndarray]:
    """Held-out scores of every question's candidates, each from a model fitted on the other conversations."""
    out = {}
    for unit in sorted({e.record["unit"] for e in exs}):
        model = fit_ranker([e for e in exs if e.record["unit"] != unit], columns)
        for e in exs:
            if e.record["unit"] == unit:
                out[e.record["key"]] = probabilities(model, e, columns)
    return out


def predictions(exs: list[Example], held: dict[str, np.ndarray], train_scores=None) -> dict[str, str]:
    """Answers with the list ratio chosen on the other conversations' held-out scores."""
    out = {}
    for unit in sorted({e.record["unit"] for e in exs}):
        ratio = choose_ratio([e for e in exs if e.record["unit"] != unit], held)
        for e in exs:
            if e.record["unit"] == unit:
                out[e.record["key"]] = answer(e, held[e.record["key"]], ratio)
    return out


def table(exs: list[Example], preds: dict[str, str]) -> dict[str, float]:
    by: dict[str, list[float]] = {}
    for e in exs:
        f = score(e, preds[e.record["key"]])
        if f == f:
            by.setdefault(CATEGORIES[e.record["code"]], []).append(f)
    out = {c: float(np.mean(v)) for c, v in sorted(by.items())}
    main = [score(e, preds[e.record["key"]]) for e in exs if e.record["code"] in (1, 2, 3, 4) and e.record["answer"] is not None]
    out["1-4"] = float(np.mean(main))
    return out


def show(name: str, row: dict[str, float]) -> None:
    cols = ["1-4", "single-hop", "multi-hop", "temporal", "open-domain", "adversarial"]
    print(f"{name:<34}" + " ".join(f"{row.get(c, float('nan')):>11.3f}" for c in cols), flush=True)


def header() -> None:
    print(f"{'':<34}" + " ".join(f"{c:>11}" for c in ["1-4", "single-hop", "multi-hop", "temporal", "open-domain", "adversarial"]))


# -- 5. abstention ----------------------------------------------------------------------------------


def abstention_rows(exs: list[Example], held: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    from hyperloom.agent.reader import ABSTAIN_FEATURES, abstain_features

    X, y = [], []
    for e in exs:
        s = held[e.record["key"]]
        X.append(abstain_features(e.analysis, e.hits, e.found, s, np.argsort(-s, kind="stable")) if len(e.found) else np.zeros(len(ABSTAIN_FEATURES)))
        y.append(int(e.record["code"] == 5))
    return np.array(X), np.array(y)


def fit_abstainer(X: np.ndarray, y: np.ndarray):
    from sklearn.linear_model import LogisticRegression

    mean, scale = X.mean(0), X.std(0)
    scale[scale < 1e-9] = 1.0
    model = LogisticRegression(C=1.0, max_iter=2000, class_weight="balanced").fit((X - mean) / scale, y)
    return model.coef_[0], float(model.intercept_[0]), mean, scale


THRESHOLDS = tuple(np.round(np.arange(0.30, 0.96, 0.025), 3))
ALLOWED_LOSS = 0.008  # of categories 1-4 F1, chosen on training conversations (the target allows 0.01 held out)


def abstain_p(model, X):
    from hyperloom.agent.reader import logits

    return 1.0 / (1.0 + np.exp(-logits(model, X)))


def curve(exs, preds, p) -> list[tuple[float, float, float]]:
    """(threshold, categories 1-4 F1, adversarial F1) when abstaining at p >= threshold."""
    from hyperloom.agent.reader import NO_ANSWER

    out = []
    for t in (*THRESHOLDS, 1.01):
        answered = {e.record["key"]: (NO_ANSWER if p[i] >= t else preds[e.record["key"]]) for i, e in enumerate(exs)}
        row = table(exs, answered)
        out.append((float(t), row["1-4"], row.get("adversarial", 0.0)))
    return out


def choose_threshold(rows: list[tuple[float, float, float]]) -> float:
    base = rows[-1][1]
    ok = [r for r in rows if base - r[1] <= ALLOWED_LOSS]
    return max(ok, key=lambda r: (r[2], r[0]))[0]


def abstention_loco(exs, held, preds):
    """Held-out abstention probabilities and the threshold chosen on the other conversations."""
    X, y = abstention_rows(exs, held)
    units = np.array([e.record["unit"] for e in exs])
    p = np.zeros(len(exs))
    for unit in sorted(set(units)):
        train = units != unit
        model = fit_abstainer(X[train], y[train])
        inner = abstain_p(model, X[train])
        t = choose_threshold(curve([e for e, k in zip(exs, train) if k], preds, inner))
        # Scale so that every fold's own threshold sits at 0.5: one curve over the pooled held-out scores.
        p[~train] = abstain_p(model, X[~train]) - t + 0.5
    return p, X, y


def run(records: list[dict], out: Path | None, ablate: bool = True) -> None:
    from hyperloom.agent.reader import ABSTAIN_FEATURES, NO_ANSWER, feature_names

    started = time.perf_counter()
    exs = examples(records, "hits")
    gold = examples(records, "gold_hits")
    print(f"candidates: {sum(len(e.found) for e in exs) / len(exs):.0f} per question over packed evidence ({time.perf_counter() - started:.0f} s)")
    print("LoCoMo dev, official F1, leave-one-conversation-out (train on 5 conversations, score the 6th)")
    header()
    show("extractive baseline (graph, none)", table(exs, {r["key"]: r["baseline"] for r in records}))
    held = loco(exs)
    preds = predictions(exs, held)
    show("reader, no abstention", table(exs, preds))
    gold_held = loco(gold)
    show("reader on gold evidence turns", table(gold, predictions(gold, gold_held)))
    p, X, y = abstention_loco(exs, held, preds)
    rows = curve(exs, preds, p)
    chosen = {e.record["key"]: (NO_ANSWER if p[i] >= 0.5 else preds[e.record["key"]]) for i, e in enumerate(exs)}
    show("reader + abstention (LOCO threshold)", table(exs, chosen))
    print("\nabstention trade-off (held-out probability shifted so each fold's threshold is 0.5)")
    print(f"{'threshold':>10} {'1-4 F1':>8} {'adversarial':>12}")
    for t, main, adv in rows[::2] + [rows[-1]]:
        print(f"{t:>10.3f} {main:>8.3f} {adv:>12.3f}")
    if out is not None:
        write(exs, held, preds, X, y, out)
    if ablate:
        ablations(exs)


GROUPS = {
    "type features (type_fit, crosses)": lambda n: n == "type_fit" or "*" in n or n in ("sentence_fits", "turn_fits", "fit_share"),
    "WordNet features": lambda n: n in ("class_match", "class_parent_match", "wn_person", "wn_place", "wn_activity", "wn_time", "sentence_class", "class*s_match"),
    "dependency features": lambda n: n.startswith("dep_") or "*dep_" in n or n in ("head_in_question", "verb_match", "gov_in_question", "tree", "same_role", "naming", "naming_match", "named_link"),
    "question words (match, window)": lambda n: n in ("q_overlap", "s_match", "s_match_gap", "s_is_best", "cheap", "turn_match", "prev_match", "next_match", "window", "distance", "no_question_word", "repeat", "right_of_match"),
    "speaker features": lambda n: n in ("speaker_named", "is_speaker", "is_named", "first_person_named"),
    "retrieval rank and score": lambda n: n in ("rank_inverse", "relative_score", "in_best", "near_best", "fit*rank"),
}


def ablations(exs: list[Example]) -> None:
    from hyperloom.agent.reader import feature_names

    names = feature_names()
    print("\nablations (each refitted leave-one-conversation-out without one feature group)")
    header()
    for group, test in GROUPS.items():
        columns = np.array([0.0 if test(n) else 1.0 for n in names])
        held = loco(exs, columns)
        show(f"- {group}"[:34], table(exs, predictions(exs, held)))


def write(exs, held, preds, X, y, out: Path) -> None:
    from hyperloom.agent import reader_evidence
    from hyperloom.agent.reader import ABSTAIN_FEATURES, feature_names

    rank = fit_ranker(exs)
    everything = {e.record["key"]: probabilities(rank, e) for e in exs}
    ratio = choose_ratio(exs, held)
    abstain = fit_abstainer(X, y)
    threshold = choose_threshold(curve(exs, preds, abstain_p(abstain, X)))
    pack = lambda m: {"weights": m[0].tolist(), "bias": m[1], "mean": m[2].tolist(), "scale": m[3].tolist()}
    units = sorted({e.record["unit"] for e in exs})
    data = {
        "features": list(feature_names()), "rank": pack(rank), "list_ratio": ratio,
        "abstain_features": list(ABSTAIN_FEATURES), "abstain": pack(abstain), "abstain_threshold": threshold,
        "trained_on": units, "questions": len(exs), "positive": f"official LoCoMo F1 >= {GOOD}",
        "evidence": f"the agent's packed hits (model none, structured memory): best {reader_evidence.LOOK} turns, {reader_evidence.BUDGET} sentences parsed, entity recogniser {'on' if reader_evidence.NER else 'off'}",
        "objective": OBJECTIVE if OBJECTIVE == "pointwise" else f"listwise softmax, target F1 ** {POWER}, L2 {L2}, calibrated",
    }
    out.write_text(json.dumps(data, indent=0) + "\n")
    print(f"\nwrote {out}: list ratio {ratio}, abstention threshold {threshold}, trained on {', '.join(units)}")


def latency(records: list[dict], n: int = 200) -> None:
    """p50/p95 of `read` per question on the dev evidence: cold (nothing parsed yet) and as a conversation goes on
    (the sentences earlier questions parsed are cached, as in one agent process)."""
    from hyperloom.agent import reader_evidence
    from hyperloom.agent.reader import read
    from hyperloom.agent.state import hit_from_dict

    read("warm up", [hit_from_dict(records[0]["hits"][0])])
    picked = [r for r in records if r["code"] != 5][:: max(1, len(records) // n)][:n]
    for label, clear in (("cold", True), ("one process", False)):
        reader_evidence._docs.clear()
        took, cpu = [], []
        for r in picked:
            if clear:
                reader_evidence._docs.clear()
            hits = [hit_from_dict(h) for h in sorted(r["hits"], key=lambda h: -h["score"])]
            started, started_cpu = time.perf_counter(), time.process_time()
            read(r["question"], hits, now=r["now"])
            took.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - started_cpu) * 1000)
        print(f"read, {label}: wall p50 {np.percentile(took, 50):.1f} ms, p95 {np.percentile(took, 95):.1f} ms; "
              f"CPU p50 {np.percentile(cpu, 50):.1f} ms, p95 {np.percentile(cpu, 95):.1f} ms over {len(took)} questions", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument("--out", type=Path, default=None, help="where to write the fitted weights (agent/reader.json)")
    parser.add_argument("--collect-only", action="store_true")
    parser.add_argument("--latency", action="store_true", help="only time `read` on the dev evidence")
    parser.add_argument("--no-ablations", action="store_true", help="skip the per-feature-group refits (36 more fits)")
    parser.add_argument("--objective", choices=("listwise", "pointwise"), default=OBJECTIVE, help="the ranking model's training objective")
    args = parser.parse_args()
    globals()["OBJECTIVE"] = args.objective
    records = collect(args.dataset, args.cache)
    if args.collect_only:
        return
    if args.latency:
        return latency(records)
    run(records, args.out, not args.no_ablations)


if __name__ == "__main__":
    main()
