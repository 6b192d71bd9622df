"""HNSW recall benchmark: recall@10 of `HnswIndex` against exact search on real MiniLM embeddings.

What it measures
    The corpus is ~100k deduplicated texts embedded with the offline `OnnxMiniLM`:
    LoCoMo turns and LongMemEval haystack messages split into sentences, windows
    of 2-3 consecutive sentences, and (to reach the target size) generated
    conversational sentences. A random 1,000 of them are held out as queries; the
    rest are inserted, in random order and in batches, into `HnswIndex` for every
    (M, ef_construction). Each build is then queried at several ef_search values.

    A second experiment (RESEARCH.md section 5) estimates every inserted point's
    local intrinsic dimensionality (MLE over its 20 nearest neighbours, exact) and
    builds the default (M, ef_construction) with high-LID points first, in random
    order, and with low-LID points first, each five times.

How to read it
    recall@10  mean fraction of the exact top-10 (brute-force cosine) that the
               index returns; 1.0 means identical to exact search.
    real only  the same over the queries that are dataset text (not generated).
    build s    wall time to insert every vector, in batches, through `HnswIndex.add`.
    p50/p95 ms latency of one `HnswIndex.query(vector, 10)` call, over all queries.
    The cheapest setting reaching the target recall is printed as the recommendation
    (cheapest = lowest ef_search, then M, then ef_construction: query work, memory,
    build time). Timings are wall clock and move with other load on the machine:
    compare orders of magnitude, not single microseconds.
    The insertion-order builds are repeated; their spread shows how much of a
    difference between orders is noise (every random build uses a new order).

Run
    python -m hyperloom.benchmarks.hnsw_recall [--n 100000] [--queries 1000] [--cache DIR] [--out FILE]

Embeddings are cached as .npy files in --cache (default /tmp/hyperloom-bench),
one file per chunk of texts keyed by the chunk's content, so a rerun or an
interrupted run does not embed again.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import random
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from hyperloom.evals.datasets.locomo import load as load_locomo
from hyperloom.retrieval.embed import OnnxMiniLM
from hyperloom.retrieval.index import HnswIndex
from hyperloom.retrieval.spans import sentences

LOCOMO = Path("/work/shared/datasets/locomo/locomo_dev.json")
LONGMEMEVAL = Path("/work/shared/datasets/longmemeval/longmemeval_s_sample.json")
DEFAULT_CACHE = Path("/tmp/hyperloom-bench")
K = 10
LID_K = 20
GRID_M = (8, 16, 32)
GRID_EF_CONSTRUCTION = (100, 200)
GRID_EF_SEARCH = (10, 32, 64, 128)
LID_SETTING = (16, 200)  # the config.py defaults for M and ef_construction
LID_EF_SEARCH = (10, 32)
LID_REPEATS = 5
TARGET_RECALL = 0.99
ADD_BATCH = 1000
EMBED_CHUNK = 8192
SEED = 7

console = Console(stderr=True)


@dataclass(frozen=True)
class Measurement:
    """One index build queried at one ef_search."""

    m: int
    ef_construction: int
    ef_search: int
    order: str
    build_s: float
    recall: float
    recall_real: float
    p50_ms: float
    p95_ms: float
    run: int = 1


# --- corpus ------------------------------------------------------------------


def dataset_messages() -> tuple[list[str], list[str]]:
    """LoCoMo turn texts and LongMemEval haystack message contents."""
    locomo = [t.text for s in load_locomo(LOCOMO).units for t in s.conversation.turns]
    questions = json.loads(LONGMEMEVAL.read_text())
    longmemeval = [m["content"] for q in questions for session in q["haystack_sessions"] for m in session]
    return locomo, longmemeval


def sentences_and_windows(text: str) -> Iterator[str]:
    """Each sentence of `text`, then each run of 2 and 3 consecutive sentences."""
    parts = [text[start:end] for start, end in sentences(text)]
    for width in (1, 2, 3):
        for i in range(len(parts) - width + 1):
            yield " ".join(parts[i : i + width])


PEOPLE = (
    "Anna", "Ben", "Carla", "Dmitri", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Keisha", "Liam",
    "Maya", "Nikhil", "Olga", "Pedro", "Quinn", "Rosa", "Sam", "Tanya", "Umar", "Vera", "Wei", "Yusuf",
    "my sister", "my brother", "my neighbour", "my boss", "my roommate", "my grandmother", "our coach", "her cousin",
)  # fmt: skip
# (base form, past tense, -ing form)
ACTIVITIES = (
    ("bake sourdough bread", "baked sourdough bread", "baking sourdough bread"),
    ("go rock climbing", "went rock climbing", "going rock climbing"),
    ("paint a landscape", "painted a landscape", "painting a landscape"),
    ("run a half marathon", "ran a half marathon", "running a half marathon"),
    ("practise the violin", "practised the violin", "practising the violin"),
    ("volunteer at the food bank", "volunteered at the food bank", "volunteering at the food bank"),
    ("adopt a rescue dog", "adopted a rescue dog", "adopting a rescue dog"),
    ("fix the leaking sink", "fixed the leaking sink", "fixing the leaking sink"),
    ("study for the nursing exam", "studied for the nursing exam", "studying for the nursing exam"),
    ("plant tomatoes", "planted tomatoes", "planting tomatoes"),
    ("watch a documentary about whales", "watched a documentary about whales", "watching a documentary about whales"),
    ("learn to knit", "learned to knit", "learning to knit"),
    ("interview for a new job", "interviewed for a new job", "interviewing for a new job"),
    ("repaint the kitchen", "repainted the kitchen", "repainting the kitchen"),
    ("take a pottery class", "took a pottery class", "taking a pottery class"),
    ("read a mystery novel", "read a mystery novel", "reading a mystery novel"),
    ("cook a Thai curry", "cooked a Thai curry", "cooking a Thai curry"),
    ("play chess with friends", "played chess with friends", "playing chess with friends"),
    ("go birdwatching", "went birdwatching", "going birdwatching"),
    ("write a short story", "wrote a short story", "writing a short story"),
    ("buy a secondhand bike", "bought a secondhand bike", "buying a secondhand bike"),
    ("visit the dentist", "visited the dentist", "visiting the dentist"),
    ("organise a charity auction", "organised a charity auction", "organising a charity auction"),
    ("go camping by the lake", "went camping by the lake", "going camping by the lake"),
    ("record a podcast episode", "recorded a podcast episode", "recording a podcast episode"),
    ("sign up for salsa lessons", "signed up for salsa lessons", "signing up for salsa lessons"),
    ("move into a new flat", "moved into a new flat", "moving into a new flat"),
    ("celebrate a birthday", "celebrated a birthday", "celebrating a birthday"),
    ("build a bookshelf", "built a bookshelf", "building a bookshelf"),
    ("teach a coding workshop", "taught a coding workshop", "teaching a coding workshop"),
    ("go to a jazz concert", "went to a jazz concert", "going to a jazz concert"),
    ("swim laps", "swam laps", "swimming laps"),
    ("photograph the sunrise", "photographed the sunrise", "photographing the sunrise"),
    ("attend a support group", "attended a support group", "attending a support group"),
    ("plan a surprise party", "planned a surprise party", "planning a surprise party"),
    ("try a vegan recipe", "tried a vegan recipe", "trying a vegan recipe"),
)
PLACES = (
    "the community centre", "the park downtown", "the library", "the beach", "her parents' house", "the gym",
    "the farmers' market", "a cabin in the mountains", "the museum", "the old town square", "the office",
    "a café near the station", "the school hall", "the botanical garden", "the hospital", "the river trail",
    "a friend's place in Lisbon", "the new shopping mall", "the youth club", "a small studio in Brooklyn",
)  # fmt: skip
TIMES = (
    "last weekend", "yesterday", "two weeks ago", "last summer", "on Tuesday evening", "this morning",
    "a few days ago", "in March", "over the holidays", "last night", "earlier this year", "on her birthday",
    "after work on Friday", "during the spring break", "back in 2019", "the week before last",
)  # fmt: skip
FEELINGS = (
    "exhausting but worth it", "a lot of fun", "harder than expected", "really relaxing", "a bit stressful",
    "surprisingly emotional", "the highlight of the month", "a total disaster", "quite inspiring", "pretty boring",
)  # fmt: skip
TEMPLATES = (
    "{person} {past} at {place} {time}.",
    "{time_cap}, {person} and {other} {past} at {place}.",
    "I heard that {person} {past} {time}, and it was {feeling}.",
    "{person} has been {ing} at {place} every week since {time}.",
    "Next month I want to {base} at {place} with {other}.",
    "Did {person} really {base} {time}? I thought it would be {feeling}.",
    "When we met at {place}, {person} told me about {ing} {time}.",
    "{person} said {ing} with {other} was {feeling}.",
    "My plan is to {base} before {person} comes back from {place}.",
    "Honestly, {ing} at {place} {time} was {feeling} for {person}.",
)


def generated_sentences(seed: int) -> Iterator[str]:
    """An endless, seeded stream of everyday sentences about people, activities, places and times."""
    rng = random.Random(seed)
    while True:
        person, other = rng.sample(PEOPLE, 2)
        base, past, ing = rng.choice(ACTIVITIES)
        time_ = rng.choice(TIMES)
        text = rng.choice(TEMPLATES).format(
            person=person, other=other, base=base, past=past, ing=ing, place=rng.choice(PLACES),
            time=time_, time_cap=time_[0].upper() + time_[1:], feeling=rng.choice(FEELINGS),
        )  # fmt: skip
        yield text[0].upper() + text[1:]


def build_corpus(total: int) -> dict[str, str]:
    """`total` distinct texts, real ones first, each mapped to its source."""
    locomo, longmemeval = dataset_messages()
    source: dict[str, str] = {}
    for name, messages in (("locomo", locomo), ("longmemeval", longmemeval)):
        for text in (t for m in messages for t in sentences_and_windows(m)):
            source.setdefault(text, name)
    generated = generated_sentences(SEED)
    while len(source) < total:
        source.setdefault(next(generated), "generated")
    return dict(itertools.islice(source.items(), total))


# --- embeddings ----------------------------------------------------------------


def embed_cached(texts: Sequence[str], cache: Path) -> np.ndarray:
    """MiniLM vectors of `texts`, one cached .npy per chunk of EMBED_CHUNK texts."""
    embedder = OnnxMiniLM()
    cache.mkdir(parents=True, exist_ok=True)
    parts = []
    for start in range(0, len(texts), EMBED_CHUNK):
        chunk = list(texts[start : start + EMBED_CHUNK])
        digest = hashlib.sha256("\x00".join([embedder.name, *chunk]).encode()).hexdigest()[:16]
        path = cache / f"minilm-{digest}.npy"
        if not path.exists():
            console.log(f"embedding texts {start:,}-{start + len(chunk):,} of {len(texts):,}")
            np.save(path, embedder.embed_many(chunk, 64))
        parts.append(np.load(path))
    return np.concatenate(parts)


# --- exact neighbours and LID --------------------------------------------------------


def exact_top_k(base: np.ndarray, queries: np.ndarray, k: int, chunk: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """Row indices and cosine distances of each query's k nearest rows of `base`, nearest first."""
    ids = np.empty((len(queries), k), dtype=np.int64)
    dist = np.empty((len(queries), k), dtype=np.float32)
    for start in range(0, len(queries), chunk):
        sims = queries[start : start + chunk] @ base.T
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        top_sims = np.take_along_axis(sims, top, axis=1)
        order = np.argsort(-top_sims, axis=1)
        ids[start : start + chunk] = np.take_along_axis(top, order, axis=1)
        dist[start : start + chunk] = 1.0 - np.take_along_axis(top_sims, order, axis=1)
    return ids, dist


def lid_mle(distances: np.ndarray, k: int) -> np.ndarray:
    """LID(x) = -((1/k) sum_{i<k} ln(r_i / r_k))^-1 per row, zero distances (self, duplicates) skipped."""
    lids = np.empty(len(distances))
    for row, r in enumerate(distances):
        r = r[r > 1e-6][:k]
        total = np.log(r[:-1] / r[-1]).sum() if len(r) == k else 0.0
        lids[row] = -k / total if total < 0 else np.nan
    return lids


def pointwise_lid(base: np.ndarray, k: int) -> np.ndarray:
    """MLE LID of every row of `base` from its exact k nearest other rows."""
    _, distances = exact_top_k(base, base, k + 5)  # spare neighbours for self and duplicates
    return lid_mle(distances, k)


# --- HNSW ------------------------------------------------------------------------


def build_index(vectors: np.ndarray, order: np.ndarray, m: int, ef_construction: int) -> tuple[HnswIndex, float]:
    """An in-memory HnswIndex holding `vectors` inserted in `order` (labels = row numbers), and the seconds taken."""
    index = HnswIndex(None, vectors.shape[1], m=m, ef_construction=ef_construction)
    started = time.perf_counter()
    for start in range(0, len(order), ADD_BATCH):
        batch = order[start : start + ADD_BATCH]
        index.add(batch, vectors[batch])
    return index, time.perf_counter() - started


def search_all(index: HnswIndex, queries: np.ndarray, ef_search: int) -> tuple[list[list[int]], np.ndarray]:
    """Top-K labels of each query through single `query` calls, and each call's latency in ms."""
    index.ef_search = ef_search
    found, latencies = [], np.empty(len(queries))
    for i, vector in enumerate(queries):
        started = time.perf_counter()
        hits = index.query(vector, K)
        latencies[i] = (time.perf_counter() - started) * 1000
        found.append([label for label, _ in hits])
    return found, latencies


def recall_at_k(found: Sequence[Sequence[int]], truth: np.ndarray) -> np.ndarray:
    """Per query, the fraction of its exact top-K that was found."""
    return np.array([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth)])


@dataclass(frozen=True)
class Workload:
    """Inserted vectors, held-out query vectors, each query's exact top-K row numbers, and which queries are dataset text."""

    base: np.ndarray
    queries: np.ndarray
    truth: np.ndarray
    real: np.ndarray


def measure(work: Workload, order: np.ndarray, m: int, ef_construction: int, ef_searches: Sequence[int], label: str, run: int = 1) -> list[Measurement]:
    """Build one index and query it at each ef_search."""
    index, build_s = build_index(work.base, order, m, ef_construction)
    console.log(f"built M={m} ef_construction={ef_construction} ({label} #{run}) in {build_s:.1f}s")
    rows = []
    for ef in ef_searches:
        found, ms = search_all(index, work.queries, ef)
        p50, p95 = np.percentile(ms, [50, 95])
        recall = recall_at_k(found, work.truth)
        rows.append(Measurement(m, ef_construction, ef, label, build_s, recall.mean(), recall[work.real].mean(), p50, p95, run))
    return rows


def run_grid(work: Workload, rng: np.random.Generator) -> list[Measurement]:
    """Every (M, ef_construction) built once, in one random order, and queried at every ef_search."""
    order = rng.permutation(len(work.base))
    settings = itertools.product(GRID_M, GRID_EF_CONSTRUCTION)
    return [row for m, efc in settings for row in measure(work, order, m, efc, GRID_EF_SEARCH, "random")]


def run_lid_orders(work: Workload, lids: np.ndarray, rng: np.random.Generator) -> list[Measurement]:
    """The default (M, ef_construction) built high-LID first, in a fresh random order, and low-LID first; LID_REPEATS times."""
    by_lid = np.argsort(np.nan_to_num(lids, nan=np.nanmedian(lids)), kind="stable")
    m, efc = LID_SETTING
    rows = []
    for run in range(1, LID_REPEATS + 1):  # interleaved, so background load hits every order alike
        orders = {"high-LID first": by_lid[::-1], "random": rng.permutation(len(work.base)), "low-LID first": by_lid}
        rows += [row for label, order in orders.items() for row in measure(work, order, m, efc, LID_EF_SEARCH, label, run)]
    return rows


def order_summary(rows: Sequence[Measurement]) -> list[dict]:
    """Per insertion order and ef_search: mean, min and max recall over the repeated builds."""
    groups: dict[tuple[str, int], list[Measurement]] = defaultdict(list)
    for r in rows:
        groups[(r.order, r.ef_search)].append(r)
    return [
        {"order": order, "ef_search": ef, "runs": len(g), "mean": float(np.mean([r.recall for r in g])), "min": min(r.recall for r in g),
         "max": max(r.recall for r in g), "mean_real": float(np.mean([r.recall_real for r in g]))}
        for (order, ef), g in sorted(groups.items(), key=lambda item: item[0][1])
    ]  # fmt: skip


def recommend(rows: Sequence[Measurement]) -> Measurement | None:
    """The cheapest grid setting whose recall reaches TARGET_RECALL: lowest ef_search, then M, then ef_construction.

    Ranked by parameters, not measured latency: near-ties in latency swap places from run to run on a busy
    machine, while ef_search sets the query work, M the memory per vector, and ef_construction the build time.
    """
    good = [r for r in rows if r.recall >= TARGET_RECALL]
    return min(good, key=lambda r: (r.ef_search, r.m, r.ef_construction)) if good else None


# --- report ----------------------------------------------------------------------


def results_table(title: str, rows: Sequence[Measurement], best: Measurement | None = None) -> Table:
    table = Table(title=title)
    for name in ("M", "ef_constr", "ef_search", "order", "run", "build s", f"recall@{K}", "real only", "p50 ms", "p95 ms"):
        table.add_column(name, justify="left" if name == "order" else "right")
    for r in rows:
        style = "bold green" if r == best else ("dim" if r.recall < TARGET_RECALL else None)
        cells = (r.m, r.ef_construction, r.ef_search, r.order, r.run, f"{r.build_s:.1f}", f"{r.recall:.4f}", f"{r.recall_real:.4f}", f"{r.p50_ms:.3f}", f"{r.p95_ms:.3f}")
        table.add_row(*map(str, cells), style=style)
    return table


def summary_table(summary: Sequence[dict]) -> Table:
    table = Table(title=f"Insertion order: recall@{K} over {LID_REPEATS} builds each")
    for name in ("order", "ef_search", f"mean recall@{K}", "min", "max", "mean real only"):
        table.add_column(name, justify="left" if name == "order" else "right")
    for s in summary:
        table.add_row(s["order"], str(s["ef_search"]), *(f"{s[key]:.4f}" for key in ("mean", "min", "max", "mean_real")))
    return table


def lid_summary(lids: np.ndarray) -> dict[str, float]:
    q10, q50, q90 = np.nanpercentile(lids, [10, 50, 90])
    return {"mean": float(np.nanmean(lids)), "p10": float(q10), "median": float(q50), "p90": float(q90), "undefined": int(np.isnan(lids).sum())}


def report(result: dict, grid: Sequence[Measurement], lid_rows: Sequence[Measurement], best: Measurement | None) -> None:
    out = Console()
    out.width = max(out.width, 110)  # piped output defaults to 80 columns, too narrow for the tables
    out.print(f"corpus: {result['corpus']}  inserted={result['n']:,}  queries={result['queries']:,}")
    out.print(results_table(f"HnswIndex recall@{K} vs exact cosine (green: recommended, dim: recall < {TARGET_RECALL})", grid, best))
    out.print(f"LID (MLE, k={LID_K}, exact neighbours of all {result['n']:,} points): " + ", ".join(f"{k}={v:.3g}" for k, v in result["lid"].items()))
    out.print(results_table(f"Insertion order, M={LID_SETTING[0]} ef_construction={LID_SETTING[1]}", lid_rows))
    out.print(summary_table(result["lid_order_summary"]))
    if best:
        out.print(f"recommended: M={best.m} ef_construction={best.ef_construction} ef_search={best.ef_search} (recall@{K}={best.recall:.4f}, p50={best.p50_ms:.3f} ms)")
    else:
        out.print(f"no setting reached recall@{K} >= {TARGET_RECALL}")
    out.print(f"total {result['total_s']:.0f}s")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="vectors to insert")
    parser.add_argument("--queries", type=int, default=1000, help="held-out query texts")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="directory for cached embeddings")
    parser.add_argument("--out", type=Path, default=DEFAULT_CACHE / "hnsw_recall.json", help="JSON results file")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict:
    args = parse_args(argv)
    started = time.perf_counter()
    rng = np.random.default_rng(SEED)
    sources = build_corpus(args.n + args.queries)
    vectors = embed_cached(list(sources), args.cache)
    real = np.array([source != "generated" for source in sources.values()])
    held_out, inserted = np.split(rng.permutation(len(sources)), [args.queries])
    queries, base = vectors[held_out], vectors[inserted]
    work = Workload(base, queries, exact_top_k(base, queries, K)[0], real[held_out])
    grid = run_grid(work, rng)
    console.log(f"estimating LID of {len(base):,} points")
    lids = pointwise_lid(base, LID_K)
    lid_rows = run_lid_orders(work, lids, rng)
    best = recommend(grid)
    result = {
        "n": len(base), "queries": len(queries), "k": K, "target_recall": TARGET_RECALL, "corpus": dict(Counter(sources.values())),
        "lid": lid_summary(lids), "grid": [asdict(r) for r in grid], "lid_orders": [asdict(r) for r in lid_rows],
        "lid_order_summary": order_summary(lid_rows),
        "recommended": asdict(best) if best else None, "total_s": time.perf_counter() - started,
    }  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    report(result, grid, lid_rows, best)
    return result


if __name__ == "__main__":
    main()
