"""BM25 kept incrementally scores exactly as a fresh bm25s index of the same windows would."""

from __future__ import annotations

import bm25s
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from hyperloom.retrieval.lexical import BM25, terms

WORDS = ["cello", "lesson", "teacher", "porto", "moved", "dog", "rescue", "grey", "painting", "lake", "friday", "exam"]


def fresh_bm25s_scores(docs: dict[int, tuple[str, str]], weights: tuple[int, ...], query: str) -> dict[int, float]:
    """The reference: windows written out plainly, indexed from scratch by bm25s (Lucene BM25)."""
    ids = sorted(docs)
    reach = len(weights) - 1
    windows = []
    for j, i in enumerate(ids):
        window: list[str] = []
        for n in range(max(0, j - reach), min(len(ids), j + reach + 1)):
            if docs[ids[n]][0] == docs[i][0]:
                window += terms(docs[ids[n]][1]) * weights[abs(n - j)]
        windows.append(window or ["\0"])
    model = bm25s.BM25()
    model.index(windows, show_progress=False)
    known = [t for t in terms(query) if t in model.vocab_dict]
    if not known:
        return {}
    raw = model.get_scores(known)
    return {ids[j]: float(raw[j]) for j in np.nonzero(raw > 0)[0]}


texts = st.lists(st.sampled_from(WORDS + ["the", "and"]), min_size=0, max_size=6).map(" ".join)
operation = st.one_of(
    st.tuples(st.just("add"), st.lists(st.tuples(st.integers(1, 40), st.sampled_from("ab"), texts), min_size=1, max_size=8)),
    st.tuples(st.just("delete"), st.lists(st.integers(1, 40), min_size=1, max_size=5)),
)


@settings(max_examples=150, deadline=None)
@given(ops=st.lists(operation, min_size=1, max_size=12), query=texts, weights=st.sampled_from([(3, 2, 1), (1,)]))
def test_incremental_scores_equal_a_fresh_index_after_any_adds_and_deletes(ops, query, weights) -> None:
    index, docs = BM25(weights), {}
    for kind, args in ops:
        if kind == "add":
            index.add([i for i, _, _ in args], [t for _, _, t in args], [g for _, g, _ in args])
            docs |= {i: (g, t) for i, g, t in args}
        else:
            index.delete(args)
            for i in args:
                docs.pop(i, None)
        if docs:
            got, want = index.scores(query), fresh_bm25s_scores(docs, weights, query)
            assert got.keys() == want.keys()
            assert all(abs(got[k] - want[k]) <= 1e-5 * max(1.0, want[k]) for k in got)
    assert index.ids() == set(docs)


def test_a_write_after_many_does_not_rebuild_the_index() -> None:
    index = BM25()
    index.add(list(range(1, 2001)), [f"{WORDS[i % len(WORDS)]} talk number {i}" for i in range(2000)], ["s"] * 2000)
    index.scores("cello")
    base = index._base
    index.add([5000], ["a new cello lesson"], ["t"])
    index.delete([7])
    assert 5000 in index.scores("cello lesson") and 7 not in index.scores("talk")
    assert index._base is base  # the new window lives beside the base; no rebuild of 2,000 documents


@settings(max_examples=100, deadline=None)
@given(docs=st.lists(texts, min_size=1, max_size=30), query=texts, n=st.integers(1, 10))
def test_top_is_the_head_of_every_score_sorted_best_first_ties_by_id(docs, query, n) -> None:
    index = BM25((1,))
    index.add(list(range(len(docs))), docs)
    every = index.scores(query)
    assert list(index.top(query, n).items()) == sorted(every.items(), key=lambda kv: -kv[1])[:n]
