"""The rounds a critic judges, collected once and cached, for benchmarks/critic_practice.py and critic_curve.py.

Every question — LoCoMo dev's real ones and the practice questions `agent/practice.py` writes —
runs through the agent's real graph with a critic that never accepts (4 rounds), so every round's
evidence is known; its own ranking is kept 25 deep (fixed top-k is its first k). Conversations are
ingested into fresh structured memory. A cache file (under /tmp) is keyed by the round sizes and the
questions' text; retrieval code changes do not invalidate it: delete the cache to collect again.
The reader's signals of every round (the slow part) are cached beside it, keyed by the reader's code
and weights, so a new reader is read again.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import pickle
import random
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from hyperloom.agent.practice import Forms, Practice, Recorder, Rows, evidence_of, play, questions, rows

CACHE = Path(tempfile.gettempdir()) / "hyperloom-critic"
COLLECT_ROUNDS = 4
READ_KS = (5, 6, 7, 8)  # fixed top-k readings (the reader reads the best 8 turns, so k > 8 reads as 8)


def load_units(path: Path, only: Sequence[str] = ()) -> list:
    from hyperloom.evals.datasets import locomo

    return [u for u in locomo.load(path).units if not only or u.name in only]


def real_items(unit) -> list[Practice]:
    """Every question of a LoCoMo unit (adversarial ones too: the abstention measure reads them)."""
    from hyperloom.evals.agent_qa import question_now

    return [Practice(q.text, tuple(q.evidence), q.answer, question_now(q, unit), "", q.code, q.key) for q in unit.questions]


def practice_items(unit, units, per_conversation: int, seed: int) -> list[Practice]:
    """Practice questions written from `unit`'s conversation, in the forms of the *other* units' real questions."""
    forms = Forms.of((q.text, len(q.evidence)) for u in units if u.name != unit.name for q in u.questions if q.code != 5)
    return questions(unit.conversation, per_conversation, random.Random(f"{seed}/{unit.name}"), forms)


def collect(unit, items: Sequence[Practice], tag: str, first_k: int, more_k: int, cache: Path = CACHE, embedder=None) -> list[dict]:
    """Each item's rounds and ranking over `unit`'s conversation, cached by round sizes and questions."""
    ask = lambda p: {"key": p.key, "question": p.question, "answer": p.answer, "gold": list(p.gold), "code": p.code, "now": p.now, "form": p.form}
    digest = hashlib.sha256(json.dumps([ask(p) for p in items], sort_keys=True).encode()).hexdigest()[:12]
    path = cache / f"k{first_k}-m{more_k}-r{COLLECT_ROUNDS}" / f"{unit.name}-{tag}-{digest}.json"
    if path.exists():
        return json.loads(path.read_text())
    from hyperloom.agent.api import Agent
    from hyperloom.config import Config
    from hyperloom.memory.store import MemoryStore

    path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="hyperloom-critic-") as home:
        config = Config(home=Path(home), namespace=unit.name, model="none", memory="structured", first_k=first_k, more_k=more_k, max_rounds=COLLECT_ROUNDS)
        store = MemoryStore(config, embedder=embedder)
        store.remember(unit.conversation.turns, unit.name, unit.conversation.sessions)
        store.consolidate(unit.name)
        with Agent(config, store=store, critic=Recorder()) as agent:
            records = play(agent, items)
    path.write_text(json.dumps(records))
    print(f"collected {unit.name} {tag}: {len(records)} questions in {time.perf_counter() - started:.0f} s", flush=True)
    return records


def reader_version() -> str:
    """The reader's code and weights: signals cached under another version are read again."""
    from hyperloom.agent import critic, question, reader

    files = [Path(reader.__file__), Path(question.__file__), Path(reader.__file__).with_name("reader.json")]
    files += sorted(Path(reader.__file__).parent.glob("reader_*.py"))
    blob = b"".join(f.read_bytes() for f in files) + inspect.getsource(critic._read_signals).encode()  # the critic's mirror of reader.read too
    return hashlib.sha256(blob).hexdigest()[:12]


def signals_of(records: list[dict], tag: str, cache: Path = CACHE) -> dict:
    """(key, round) -> Signals of every round's evidence; (key, "k5".."k8") of fixed top-k; cached."""
    from hyperloom.agent.critic import read_signals
    from hyperloom.agent.state import hit_from_dict

    path = cache / "signals" / f"{tag}-{reader_version()}-{len(records)}.pickle"
    if path.exists():
        return pickle.loads(path.read_bytes())
    out = {}
    for r in records:
        for n in range(1, len(r["rounds"]) + 1):
            out[r["key"], n] = read_signals(r["query"], evidence_of(r, n))
        for k in READ_KS:
            out[r["key"], f"k{k}"] = read_signals(r["query"], [hit_from_dict(d) for d in r["ranking"][:k]])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(out))
    return out


def dataset(path: Path, first_k: int, more_k: int, per_conversation: int = 150, seed: int = 0, cache: Path = CACHE) -> dict[str, dict]:
    """Per conversation: real and practice records, their signals and rows."""
    from hyperloom.retrieval.embed import OnnxMiniLM

    embedder, units, out = OnnxMiniLM(), load_units(path), {}
    for unit in units:
        entry = {}
        for tag, items in (("real", real_items(unit)), ("practice", practice_items(unit, units, per_conversation, seed))):
            records = collect(unit, items, tag, first_k, more_k, cache, embedder)
            signals = signals_of(records, f"{unit.name}-{tag}", cache)
            entry[tag] = {"records": records, "signals": signals, "rows": rows(records, unit.name, signals)}
        out[unit.name] = entry
    return out


def pooled(data: dict[str, dict], tag: str) -> Rows:
    out = Rows()
    for entry in data.values():
        out = out + entry[tag]["rows"]
    return out
