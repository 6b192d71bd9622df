"""Self-practice for the sufficiency critic (SIM-RAG, RESEARCH.md section 3).

The project writes its own questions from conversations (no human labels): a
question is a paraphrase of what one turn says — or of two turns, for questions
that need both — with some of its words dropped and first person turned into
the speaker's name. The agent then runs its real retrieval rounds on each
question with a critic that never accepts; every round is labelled by whether
its evidence holds the source turns; a class-balanced logistic regression over
the critic's features is fitted on those rounds.

    python -m hyperloom.agent.practice CONVERSATIONS.json [...] --out agent/critic.json

Writes the weights with the conversations they were practised on, so an
evaluation can say whether it measures the critic on conversations it never saw.
"""

from __future__ import annotations

import argparse
import random
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hyperloom.agent.critic import FEATURES, Evidence, LogisticCritic, features
from hyperloom.config import Config
from hyperloom.memory.extract import entities
from hyperloom.memory.formats import Conversation, load_conversations
from hyperloom.memory.log import Turn
from hyperloom.memory.store import MemoryStore
from hyperloom.memory.temporal import parse_anchor, resolve
from hyperloom.retrieval.lexical import terms

_WORD = re.compile(r"[A-Za-z][\w'-]*")
_FIRST_PERSON = {"i": "{s}", "me": "{s}", "my": "{s}'s", "mine": "{s}'s", "i'm": "{s} is", "i've": "{s} has", "we": "{s}", "our": "{s}'s"}
_STARTS = ("What did {s} say about", "What does {s} think about", "Tell me about {s} and", "What happened with {s} and", "Did {s} mention")


@dataclass(frozen=True)
class Practice:
    question: str
    gold: tuple[str, ...]  # the turn ids it was written from
    now: str | None


@dataclass
class Rounds:
    """Per critic round: the feature vector and whether its evidence held every gold turn."""

    X: list[np.ndarray] = field(default_factory=list)
    y: list[int] = field(default_factory=list)
    group: list[str] = field(default_factory=list)  # the conversation, for held-out splits


def questions(conversation: Conversation, n: int, rng: random.Random) -> list[Practice]:
    """`n` practice questions from one conversation: a quarter of them over two turns of one speaker."""
    usable = [t for t in conversation.turns if len(_WORD.findall(t.text)) >= 8]
    out = []
    for i in range(min(n, len(usable))):
        first = rng.choice(usable)
        if i % 4 == 3:
            same = [t for t in usable if t.speaker == first.speaker and t.session != first.session]
            if same:
                second = rng.choice(same)
                out.append(Practice(f"{_start(first, rng)} {_gist(first, rng, 3)} and {_gist(second, rng, 3)}?", (first.id, second.id), _last_time(conversation)))
                continue
        out.append(Practice(_single(first, rng), (first.id,), _last_time(conversation)))
    return out


def _single(turn: Turn, rng: random.Random) -> str:
    dated = resolve(turn.text, parse_anchor(turn.created_at))
    if dated and rng.random() < 0.5:
        gist = _gist(turn, rng, 4, skip=dated[0].text)
        return f"When did {turn.speaker} {gist}?"
    people = [e.name for e in entities(turn.text) if e.kind == "person" and e.name != turn.speaker]
    if people and rng.random() < 0.5:
        return f"Who did {turn.speaker} mention about {_gist(turn, rng, 4, skip=people[0])}?"
    return f"{_start(turn, rng)} {_gist(turn, rng, 5)}?"


def _start(turn: Turn, rng: random.Random) -> str:
    return rng.choice(_STARTS).format(s=turn.speaker)


def _gist(turn: Turn, rng: random.Random, keep: int, skip: str = "") -> str:
    """A few of the turn's content words, in order, first person made third: a rough paraphrase."""
    text = turn.text.replace(skip, " ") if skip else turn.text
    words = [w for w in _WORD.findall(text) if terms(w) or w.lower() in _FIRST_PERSON]
    content = [i for i, w in enumerate(words) if terms(w)]
    chosen = sorted(rng.sample(content, min(keep, len(content))))
    return " ".join(_third_person(words[i], turn.speaker) for i in chosen)


def _third_person(word: str, speaker: str) -> str:
    template = _FIRST_PERSON.get(word.lower())
    return template.format(s=speaker) if template else word


def _last_time(conversation: Conversation) -> str | None:
    times = [t.created_at for t in conversation.turns if t.created_at]
    return max(times) if times else None


class _Recorder:
    """A critic that never accepts, keeping what it was shown: every round runs and is seen."""

    threshold = 1.1

    def __init__(self) -> None:
        self.seen: list[Evidence] = []

    def probability(self, evidence: Evidence) -> float:
        self.seen.append(evidence)
        return 0.0


def play(agent, practice: Sequence[Practice], group: str, rounds: Rounds) -> None:
    """Run every practice question through the agent's real graph and label each critic round."""
    recorder = agent.critic
    assert isinstance(recorder, _Recorder)
    for p in practice:
        recorder.seen.clear()
        agent.ask(p.question, now=p.now)
        for seen in recorder.seen:
            found = {h.turn_id for h in seen.hits}
            rounds.X.append(features(seen))
            rounds.y.append(int(set(p.gold) <= found))
            rounds.group.append(group)


def fit(rounds: Rounds, trained_on: Sequence[str], threshold: float = 0.5) -> LogisticCritic:
    from sklearn.linear_model import LogisticRegression

    X, y = np.stack(rounds.X), np.array(rounds.y)
    mean, scale = X.mean(axis=0), X.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(class_weight="balanced", C=1.0, max_iter=1000).fit((X - mean) / scale, y)
    return LogisticCritic(model.coef_[0], float(model.intercept_[0]), mean, scale, threshold, tuple(trained_on))


def practise(paths: Sequence[Path], per_conversation: int, seed: int, only: Sequence[str] = (), config: Config | None = None) -> tuple[Rounds, list[str]]:
    from hyperloom.agent.api import Agent

    rng = random.Random(seed)
    rounds, names = Rounds(), []
    with tempfile.TemporaryDirectory(prefix="hyperloom-practice-") as home:
        base = config or Config(home=Path(home))
        for path in paths:
            for conversation in load_conversations(path):
                if only and conversation.name not in only:
                    continue
                names.append(conversation.name)
                agent = Agent(base.model_copy(update={"home": Path(home), "namespace": conversation.name, "model": "none"}), critic=_Recorder())
                agent.store.remember(conversation.turns, conversation.name, conversation.sessions)
                agent.store.consolidate(conversation.name)
                play(agent, questions(conversation, per_conversation, rng), conversation.name, rounds)
                agent.close()
    return rounds, names


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fit the sufficiency critic by self-practice on conversations.")
    parser.add_argument("files", nargs="+", type=Path, help="LoCoMo or hyperloom JSON conversation files")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("critic.json"))
    parser.add_argument("--questions", type=int, default=150, help="practice questions per conversation")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--conversations", default="", help="comma-separated names: practise on these only (keep the others for testing)")
    parser.add_argument("--threshold", type=float, default=0.5)
    args = parser.parse_args(argv)
    rounds, names = practise(args.files, args.questions, args.seed, [c for c in args.conversations.split(",") if c])
    critic = fit(rounds, names, args.threshold)
    critic.dump(args.out, practice_rounds=len(rounds.y), positive_share=round(float(np.mean(rounds.y)), 3))
    print(f"{len(rounds.y)} practice rounds from {len(names)} conversations ({np.mean(rounds.y):.1%} sufficient) -> {args.out}")
    print("weights:", {f: round(float(w), 3) for f, w in zip(FEATURES, critic.weights)})


if __name__ == "__main__":
    main()
