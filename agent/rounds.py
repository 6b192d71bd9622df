"""Retrieval rounds: search the sub-queries, keep what is new, and write the next round's sub-queries.

A later round adds at most `k_more` turns: the evidence grows by what the critic
asked for, not by another full page, so adaptive retrieval costs about what fixed
top-k does on average (issue 4's target compares them at equal cost).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from itertools import chain

from hyperloom.agent.critic import QUESTION_WORDS
from hyperloom.memory.store import MemoryStore
from hyperloom.retrieval.lexical import terms
from hyperloom.retrieval.search import Hit

_WORD = re.compile(r"[A-Za-z][\w'-]+")
DECAY = 0.9  # a later round's hits rank below an earlier round's at equal score: the first query was the user's own
SUB_HITS = 2  # new turns one sub-query may add per round
SUB_POOL = 100  # candidates per level for a sub-query: it only tops up, and a smaller pool is 2-3x faster
SHAPE = 8  # the critic reads the score shape of the question's best SHAPE hits


def search_round(store: MemoryStore, namespace: str, queries: Sequence[str], seen: set[str], k: int, round_: int, main: Sequence[Hit]) -> tuple[list[Hit], list[float]]:
    """Up to `k` new hits (not in `seen`) and the scores of the first query's best SHAPE hits.

    `main` is the first query's ranking, searched once per run deep enough for every
    round (`ranking`): paging deeper costs nothing.

    Each sub-query (`queries[1:]`) adds at most SUB_HITS of its best turns; the first
    query — the user's question — fills the rest from deeper in its own ranking.
    Measured on LoCoMo dev (issue 4): the question's next page holds more of the
    missing evidence than any rewrite of it, so sub-queries only top it up.
    """
    new: dict[str, Hit] = {}
    for query in queries[1:]:
        fresh = [h for h in store.search(query, k=len(seen) + SUB_HITS + 1, namespace=namespace, candidates=SUB_POOL) if h.turn_id not in seen and h.turn_id not in new]
        new |= {h.turn_id: h for h in fresh[:SUB_HITS]}
    for hit in main:
        if len(new) >= k:
            break
        if hit.turn_id not in seen and hit.turn_id not in new:
            new[hit.turn_id] = hit
    decay = DECAY ** (round_ - 1)
    return [replace(h, score=h.score * decay) for h in list(new.values())[:k]], [h.score for h in main[:SHAPE]]


def ranking(store: MemoryStore, namespace: str, query: str, depth: int) -> list[Hit]:
    return store.search(query, k=max(depth, SHAPE), namespace=namespace)


def next_queries(store: MemoryStore, namespace: str, question: str, evidence: Sequence[Hit], speakers: Sequence[str]) -> tuple[str, list[str]]:
    """('global' | 'local', sub-queries): what the question asks that the evidence lacks, else its neighbourhood.

    Global: the question's content words no evidence turn contains, with the people it names.
    Local: the memory points within two hops of the entities in the best evidence whose
    descriptions share the question's terms (HGMem's local investigation).
    The original question always goes again, to page deeper.
    """
    found = set(chain.from_iterable(terms(h.text) for h in evidence))
    named = [s for s in speakers if re.search(rf"\b{re.escape(s)}\b", question, re.IGNORECASE)]
    missing = [w for w in _WORD.findall(question) if (t := terms(w)) and t[0] not in found and t[0] not in QUESTION_WORDS and w not in named]
    if missing:
        return "global", [question, " ".join(named + missing)]
    return "local", [question, *_neighbourhood(store, namespace, question, evidence, speakers)]


def _neighbourhood(store: MemoryStore, namespace: str, question: str, evidence: Sequence[Hit], speakers: Sequence[str], limit: int = 2, reach: int = 200) -> list[str]:
    if not store.structured:
        return []
    graph = store.hypergraph
    # Speakers are excluded: every point of theirs is one hop away, so they would reach everything.
    skip = {s.lower() for s in speakers}
    names = {n for n in chain.from_iterable(graph.mentioned(namespace, h.text) for h in evidence[:3]) if n.lower() not in skip}
    wanted = set(terms(question)) - QUESTION_WORDS - set(terms(" ".join(speakers)))
    scored = []
    for description in graph.descriptions(sorted(graph.neighbourhood(namespace, names, hops=2, first=reach))).values():
        description = description.partition(": ")[2]
        overlap = len(wanted & set(terms(description)))
        if overlap:
            scored.append((overlap, description))
    return [d for _, d in sorted(scored, key=lambda s: -s[0])[:limit]]
