"""Associative retrieval over every level: turns, facts, scenes and the entity hypergraph, ranked as turns.

A turn's score is its own hybrid score plus what reaches it from above:
its best fact (facts are single sentences with speaker and dates made explicit),
the scenes it belongs to (a scene hit brings its best facts, as in Bi-Mem), and
memory points near the question's entities that the question's other words
support (HGMem's local investigation). The weights were set on LoCoMo dev
(see README, "Structured memory").
"""

from __future__ import annotations

import heapq
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta

import numpy as np

from hyperloom.memory.classes import asked_classes
from hyperloom.memory.hierarchy import ATTRIBUTE_QUESTIONS
from hyperloom.memory.temporal import parse_anchor, resolve
from hyperloom.retrieval.spans import sentences
from hyperloom.retrieval.search import Filters, Hit, boost_speaker, check_query, hybrid_scores, named_speaker, top_hits

PAST = re.compile(r"\b(before|previously|used to|formerly|originally|first|earlier|former|prior)\b", re.IGNORECASE)
# Candidates per level, whatever k is: fused scores depend on the pool (its floor stands in for a lexical
# hit's missing cosine), so a fixed pool keeps rankings stable across k. LoCoMo dev recall@10: 0.787 with
# 100, 0.795 with 400, 0.795 with 800.
POOL = 400
# A question asking for a class ("which cities", "what outdoor activities") wants turns naming its
# instances ("Chicago", "fishing"), which share no words with it: the entity kinds of the hypergraph do.
ASKED_KINDS = (
    ("activity", re.compile(r"\b(activities|hobbies|sports|outdoor|exercise|workouts?)\b", re.IGNORECASE)),
    ("place", re.compile(r"\b(cities|city|places|countries|country|locations?|states|areas|destinations|been to|travell?ed|visited|trips?)\b", re.IGNORECASE)),
    ("person", re.compile(r"\b(names?|children|kids|friends|family members|siblings|pets)\b", re.IGNORECASE)),
)
WHEN = re.compile(r"^\s*(when|what (date|day|year|month|time))\b|\bhow long ago\b", re.IGNORECASE)


@dataclass(frozen=True)
class Weights:
    # Measured on LoCoMo dev, recall@10 over 1,340 questions (flat 0.755): fact 0.1 -> 0.761,
    # 0.2 -> 0.757, 0.5 -> 0.729; dated 0.1 -> 0.757 (temporal 0.815 -> 0.826); scene 0.1 -> 0.755
    # (no change); point 0.1 -> 0.753. Scenes and points stay searchable but add nothing by default.
    # Speaker-scoped facts (scoped 0.1, top 20) lift multi-hop 0.442 -> 0.469 and temporal 0.824 -> 0.837;
    # doing it for every named speaker adds multi-hop +0.003, temporal +0.005.
    fact: float = 0.1  # share of a turn's best fact score
    scene: float = 0.0  # scene score passed to the scene's best facts' turns
    point: float = 0.0  # hypergraph neighbourhood support
    dated: float = 0.2  # a "when" question lifts turns whose facts carry resolved dates (0.1 -> 0.2 with the
    # date lift and neighbours below: 0.797 -> 0.800, temporal 0.868 -> 0.890; 0.3: 0.797)
    history: float = 0.15  # current facts lead unless the question asks about the past
    scoped: float = 0.1  # topic match among the named speaker's own facts
    scoped_top: int = 20
    scoped_many: bool = True  # also when the question names several speakers ("What do Jon and Gina both...")
    scene_seeds: int = 5
    facts_per_scene: int = 5
    # Measured on LoCoMo dev, recall@10 (0.768 before both): a question naming a date ("in January 2022",
    # "on 1 May 2022") lifts turns said within it or the month after: 0.1 -> 0.777, 0.2 -> 0.779, 0.4 -> 0.781
    # (temporal 0.828 -> 0.847). Neighbours: a turn inherits a share of the score of the turns up to two
    # places away in its session (the question and the answer, the photo and its description, the same
    # speaker's previous line): with the date lift, 0.1 -> 0.787, 0.2 -> 0.795, 0.3 -> 0.788; one place
    # away only 0.790; seeding from the top 5 turns only 0.796 but open-domain falls 0.417 -> 0.374.
    # Tried and left out: session diversity (every decay lowered recall), Rocchio feedback from the best
    # turns (+0.000), lifting turns that mention entities whose names match the question's topic (-0.001).
    # A question asking for a class lifts the named speaker's turns mentioning an entity of its kind
    # (ASKED_KINDS; 120 dev questions): 0.1 -> multi-hop 0.461, 0.2 -> 0.472, 0.3 -> 0.479 (from 0.464).
    kind: float = 0.3
    # Tried and left out: persona routing (Bi-Mem's top-down path: a question about a named speaker's interests,
    # personality, values or relationships lifting the best facts of the scenes their persona links to that
    # dimension, 5 scenes, 5 facts each, by cosine to the question): overall tune / held 0.823 / 0.777 ->
    # 0.819 / 0.778 at 0.1 (single-hop 0.912 -> 0.905), 0.813 / 0.776 at 0.2 (open-domain 0.425 -> 0.358).
    # A thing whose WordNet classes hold the asked class (memory/classes.py) lifts the named speakers' turns
    # naming it, more when a class also carries the question's modifier ("outdoor activities": outdoor_sport).
    # Tuned on conv-26/30/41/42, held out conv-43/44, recall@10 multi-hop tune / held (kinds only 0.516 / 0.420):
    # 0.1 + 0.05 -> 0.531 / 0.424 (overall 0.821 -> 0.823, 0.776 -> 0.777); 0.2 + 0.1 -> 0.531 / 0.418 and
    # open-domain 0.425 -> 0.408 on tune; 0.3 + 0.1 -> 0.526 / 0.418. The merged entity kinds (memory/extract.py)
    # together with lifting every named speaker's turns, not only a single speaker's, moved the kinds-only
    # figures from 0.516 / 0.410 to 0.516 / 0.420 (the two were measured together).
    # With asking and the list weights tried below (0.8280 / 0.7865): 0.2 -> 0.8270 / 0.7848. Filing a photo caption's nouns
    # as classes of its turn (the dog of "this is Max!") changed no figure in four places: left out. WordNet's "activity"
    # holds half of a speaker's turns ("thanks", "support", "fun", "care"; 1,238 of 2,405 for the 8 dev activity questions,
    # 21 of their 27 evidence turns), yet leaving it out of the asked classes (the lexicon's activities keep their kind
    # lift) lowered multi-hop on tune 0.5652 -> 0.5622 (overall 0.8273 -> 0.8267, held out unchanged), and "event" with
    # it 0.5577: kept.
    classes: float = 0.1
    modifier: float = 0.05
    # A turn that asks and tells little (a question mark, under 8 words outside its questions, its caption counted)
    # keeps 1 - asking of its score: 25 of 1,309 dev evidence turns tell under 8 words, but 1,224 of the 8,830 top-10
    # hits that are not evidence do. Recall@10 tune / held out (conv-43/44), from 0.8233 / 0.7770 (multi-hop 0.5305 /
    # 0.4241): every short turn, 0.3 -> 0.8252 / 0.7858 but temporal on tune 0.954 -> 0.939; only the turns that ask,
    # 0.3 -> 0.8269 / 0.7825 (multi-hop 0.5634 / 0.4429), 0.5 -> 0.8244 / 0.7808; under 6 words (every, 0.5) 0.8205 / 0.7802.
    # All six 0.8075 -> 0.8118 (multi-hop 0.4928 -> 0.5207); the reader's F1 (`eval --mode qa --model reader`) 0.3378 ->
    # 0.3368, multi-hop 0.2286 -> 0.2339, adversarial 0.493 -> 0.511.
    asking: float = 0.3
    asking_words: int = 8
    # The first turn of a session carries its news ("Hey John, I joined a gym last week!"): among the best 100 turns,
    # one that opens its session gains a share of its score. On LoCoMo dev 156 of 3,435 turns open a session, but 91 of the
    # 809 evidence turns do (temporal evidence 63 of 201, multi-hop 79 of 508); of the top-10 hits, 21% of the openers were
    # evidence against 9.5% of the other turns. Recall@10 tune / held out (conv-43/44), from 0.8269 / 0.7825 (multi-hop 0.5634 /
    # 0.4429): 0.03, 0.05 and 0.08 -> 0.8273 (multi-hop 0.5652) on tune, 0.7836 / 0.7844 / 0.7944 held out; 0.1 -> 0.8239 /
    # 0.7932 (temporal on tune 0.946 -> 0.939); 0.2 -> 0.8223 / 0.7960; 0.3 -> 0.8062 / 0.7988; the first two turns of a
    # session at 0.05 -> 0.8249 / 0.7861 (single-hop on tune 0.910 -> 0.904), at 0.1 -> 0.8183 / 0.7964; seeding from the
    # best 400 at 0.05 -> 0.8273 / 0.7844 (as 100); lifting the openers before the neighbours take their shares, 0.05 ->
    # 0.8273 / 0.7836, 0.1 -> 0.8273 / 0.7944 (tune unmoved). 0.05, the middle of the flat stretch on tune: all six
    # 0.8118 -> 0.8127.
    # Tried and left out: a turn of the asked speaker that says "you" more than "I" (praise of the listener: 15% of that
    # speaker's top-20 turns that are not evidence, 4% of those that are) keeping 0.9 / 0.8 / 0.7 of its score -> tune
    # 0.8234 / 0.8236 / 0.8236 (single-hop 0.910 -> 0.907 / 0.904 / 0.904), held 0.7827 / 0.7865 / 0.7855; 0.8, and 0.9 for
    # a turn of theirs saying neither, 0.8251 / 0.7942. A photo's caption appended to its turn's last fact (the facts, and so the speaker's
    # own facts a question is matched against, saw no image): 0.8269 / 0.7825 -> 0.8232 / 0.7830 (all six 0.8095).
    opener: float = 0.05
    opener_seeds: int = 100
    # Tried and left out: a list question (a plural within four words of what / which) matching its topic against
    # the named speakers' 40 closest own facts at 0.3 instead of 20 at 0.1. Recall@10 tune / held 0.8269 / 0.7825 ->
    # 0.8280 / 0.7865, all six 0.8118 -> 0.8138 (multi-hop 0.5207 -> 0.5369), but the reader's F1 on all six
    # (`eval --mode qa --model reader`, shipped critic) fell 0.3368 -> 0.3261, multi-hop 0.2339 -> 0.1911: the critic
    # abstained on 27 multi-hop questions against 10. (Without the asking discount F1 was 0.3378, multi-hop 0.2286.)
    # 0.2 / 20 -> 0.8276 / 0.7819; 0.1 / 40 -> 0.8238 / 0.7831; 0.2 / 40 -> 0.8284 / 0.7869; 0.3 / 80 -> 0.8264 /
    # 0.7807; 0.4 / 60 -> 0.8226 / 0.7784. Also for list questions: a turn losing a share for each better turn of its
    # session (0.85: 0.8172 / 0.7718; 0.7: 0.8036 / 0.7639); a larger fact share (0.2: 0.8269 / 0.7869); the topic
    # matched against the speakers' own turns too, captions and all (0.1 of the top 20: 0.8284 / 0.7881; 0.1 for every
    # question: 0.8226 / 0.7914, temporal on tune 0.946 -> 0.931).
    date_named: float = 0.3
    date_after_days: int = 31  # people talk about what happened after it happened
    neighbours: float = 0.2
    neighbour_span: int = 2
    neighbour_seeds: int = 100


def associative_search(view, query: str, k: int, filters: Filters | None = None, weights: Weights = Weights(), pool: int = POOL) -> list[Hit]:
    """The k best turns of the view's namespace (a `MemoryView`: read-only, bound to one namespace)."""
    check_query(query, k)
    scoped = _scoped_speakers(view, query, weights)
    qv, topic_vector = _embed(view, query, _topic(query, scoped) if scoped else None)
    pool = max(pool, 4 * k)
    turn_scores = _scores(view, "turns", query, qv, pool)
    fact_scores = _scores(view, "facts", query, qv, pool)
    facts = view.fact_refs(list(fact_scores))
    if weights.scene:  # each level costs a search: skip the ones weighted out
        _add_scene_facts(view, _scores(view, "scenes", query, qv, 20), fact_scores, facts, qv, weights)
    scores = defaultdict(float, {s: v for s, v in turn_scores.items()})
    for fid, score in fact_scores.items():
        fact = facts[fid]
        scores[fact.turn_seq] = max(scores[fact.turn_seq], turn_scores.get(fact.turn_seq, 0.0) + weights.fact * score * _history(fact, query, weights))
    if weights.point:
        _add_points(view, query, scores, weights)
    if scoped:
        _add_speaker_facts(view, scoped, topic_vector, scores, weights)
    _weigh_history(view, query, scores, weights)
    if WHEN.search(query):
        for fact in facts.values():
            if fact.dated:
                scores[fact.turn_seq] += weights.dated
    turns = {t.seq: t for t in view.turns(scores)}
    boost_speaker(scores, turns, query, view.speakers())
    if weights.date_named:
        _lift_named_dates(query, scores, turns, weights)
    if weights.neighbours:
        _add_neighbours(view, scores, turns, weights)
    if weights.opener:
        _lift_openers(view, scores, turns, weights)
    if weights.kind:
        _lift_asked_kinds(view, query, scores, weights)
    if weights.asking:
        _discount_asking(scores, turns, k, filters, weights)
    return top_hits(scores, turns, query, k, view.namespace, filters)


def _scores(view, level: str, query: str, qv: np.ndarray, pool: int) -> dict[int, float]:
    vectors, bm25 = view.vectors(level), view.bm25(level)
    if len(vectors) == 0:
        return {}
    return hybrid_scores(query, qv, vectors, bm25, dense_weight=view.dense_weight, pool=pool)


def _add_scene_facts(view, scene_scores: dict[int, float], fact_scores: dict[int, float], facts: dict, qv, w: Weights) -> None:
    """A scene seed brings up to `facts_per_scene` of its facts, best by similarity to the question."""
    seeds = sorted(scene_scores, key=lambda s: -scene_scores[s])[: w.scene_seeds]
    for scene in seeds:
        members = view.scene_facts(scene)
        if not members:
            continue
        sims = view.vectors("facts").get(members) @ qv
        for j in np.argsort(-sims)[: w.facts_per_scene]:
            fid = members[j]
            fact_scores[fid] = fact_scores.get(fid, 0.0) + w.scene * scene_scores[scene]
    missing = [f for f in fact_scores if f not in facts]
    facts.update(view.fact_refs(missing))


def _add_points(view, query: str, scores: dict[int, float], w: Weights) -> None:
    """Facts of memory points near the question's entities, weighted by how well the question's words match them.

    Seeds are the named non-speaker entities (two hops); a question naming only a
    speaker searches that speaker's own points (one hop): every point of a speaker
    is one hop away, so two hops would be the whole conversation.
    """
    names = view.mentioned(query)
    speakers = set(view.speakers())
    seeds = names - speakers
    if not seeds:  # a speaker alone reaches every point they made: no locality to exploit
        return
    near = view.neighbourhood(seeds, hops=2)
    if not near:
        return
    lexical = view.bm25("facts").scores(query)
    near_facts = view.facts_of(near)
    supported = {f: s for f, s in lexical.items() if f in near_facts}
    if not supported:
        return
    top = max(supported.values())
    for fid, fact in view.fact_refs(list(supported)).items():
        scores[fact.turn_seq] += w.point * supported[fid] / top


def _scoped_speakers(view, query: str, w: Weights) -> list[str]:
    """The speakers whose own facts the question's topic is matched against (none: no scoped search)."""
    if not w.scoped:
        return []
    speakers = [s for s in view.speakers() if named_speaker(query, [s])]
    return [] if len(speakers) > 1 and not w.scoped_many else speakers


def _topic(query: str, speakers: list[str]) -> str:
    """The question with the speakers' names taken out: what it asks about them."""
    for speaker in speakers:
        query = re.sub(rf"\b({re.escape(speaker)}|{re.escape(speaker.split()[0])})('s)?\b", " ", query, flags=re.IGNORECASE)
    return query


def _embed(view, query: str, topic: str | None) -> tuple[np.ndarray, np.ndarray | None]:
    """The question's vector and its topic's, in one run of the model when there is a topic."""
    if topic is None:
        return view.embed(query), None
    vectors = view.embed_batch([query, topic])
    return vectors[0], vectors[1]


def _add_speaker_facts(view, speakers: list[str], topic_vector: np.ndarray, scores: dict[int, float], w: Weights) -> None:
    """For a question about named speakers, match its topic (the names taken out) against each one's own facts."""
    facts = view.vectors("facts")
    for speaker in speakers:
        own = view.spoken(speaker)
        near = facts.query_among(topic_vector, w.scoped_top, own) if own else []
        if not near:
            continue
        best = max(near[0][1], 1e-9)
        for fid, sim in near:
            scores[own[fid]] = scores.get(own[fid], 0.0) + w.scoped * sim / best


def _weigh_history(view, query: str, scores: dict[int, float], w: Weights) -> None:
    """A question about a changing attribute (where someone lives, works...) lifts the current value's turn,
    or the earlier values' turns when it asks about the past (RESEARCH.md section 8: newer wins unless asked)."""
    attribute = next((a for a, pattern in ATTRIBUTE_QUESTIONS.items() if pattern.search(query)), None)
    if attribute is None:
        return
    past = bool(PAST.search(query))
    facts = view.with_attribute(attribute, named_speaker(query, view.speakers()))
    wanted = {f.turn_seq for f in facts if (f.superseded_by is None) != past}
    other = {f.turn_seq for f in facts} - wanted
    if not wanted or not other:
        return
    for seq in other:
        scores[seq] = scores.get(seq, 0.0) * (1 - w.history)
    floor = max(scores.get(seq, 0.0) for seq in other) * (1 + w.history)
    for seq in wanted:  # the value the question asks for outranks the values it does not
        scores[seq] = max(scores.get(seq, 0.0), floor)


def _lift_asked_kinds(view, query: str, scores: dict[int, float], w: Weights) -> None:
    """A question about named speakers that asks for a class of things lifts their turns naming an instance:
    an entity of the asked kind (ASKED_KINDS), or a thing whose WordNet classes hold the asked class ("which
    cities" -> Chicago, "what instruments" -> violin), more when a class also carries the question's modifier."""
    kinds = [kind for kind, pattern in ASKED_KINDS if pattern.search(query)]
    heads, modifiers = asked_classes(query) if w.classes else ((), ())
    speakers = view.speakers() if kinds or heads else []
    asked = {s for s in speakers if named_speaker(query, [s])}  # "which city have both Jon and Gina visited": each
    if not asked:
        return
    # Only the asked speakers' facts in turns already scored can lift a turn: ask about those alone.
    candidates = view.facts_of_turns(list(scores), sorted(asked))
    # The speakers themselves are people in every point of theirs; "names of her kids" asks for someone else.
    lift = dict.fromkeys(set().union(*(view.facts_mentioning(kind, candidates, besides=speakers) for kind in kinds)), w.kind)
    for fid, narrowed in view.facts_of_classes(heads, candidates, modifiers).items():
        lift[fid] = max(lift.get(fid, 0.0), w.classes + (w.modifier if narrowed > 1 else 0.0))
    by_turn: dict[int, float] = {}
    for fid, value in lift.items():
        by_turn[candidates[fid]] = max(by_turn.get(candidates[fid], 0.0), value)
    for seq, value in by_turn.items():
        scores[seq] += value


def _discount_asking(scores: dict[int, float], turns: dict, k: int, filters: Filters | None, w: Weights) -> None:
    """A turn that says almost nothing but asks or reacts ("Cool! What type of music do you play?") holds no
    answer, yet shares the question's words: it keeps a share of its score (after passing it to its neighbours).

    A discount only lowers a score, so turns are looked at best first until k of those the filters admit score
    more than the next one could: at 100k turns, splitting every candidate's sentences was 28 ms a search."""
    best: list[float] = []  # a min-heap of the k best scores, after discounting, of the admitted turns looked at
    for seq in sorted((s for s in scores if s in turns), key=lambda s: -scores[s]):
        if len(best) == k and best[0] > scores[seq]:
            return
        turn = turns[seq]
        if "?" in turn.text and said_words(turn) < w.asking_words:
            scores[seq] *= 1.0 - w.asking
        if filters is None or filters.admits(turn):
            (heapq.heappush if len(best) < k else heapq.heappushpop)(best, scores[seq])


def said_words(turn) -> int:
    """Words of a turn outside its questions, its image's caption counted: what it tells rather than asks."""
    told = sum(len(turn.text[s:e].split()) for s, e in sentences(turn.text) if not turn.text[s:e].rstrip("\"'”’)] ").endswith("?"))
    return told + (len(turn.caption.split()) if turn.caption else 0)


def _lift_named_dates(query: str, scores: dict[int, float], turns: dict, w: Weights) -> None:
    """A question that names a date (absolute: the agent's rewrite has already resolved "last week")
    lifts the turns said on it or up to `date_after_days` later."""
    named = [m for m in resolve(query, None) if m.granularity in ("day", "month", "year", "season")]
    if not named:
        return
    for seq, turn in turns.items():
        said = parse_anchor(turn.created_at) if turn.created_at else None
        if said and any(m.first <= said.date() <= m.last + timedelta(days=w.date_after_days) for m in named):
            scores[seq] += w.date_named


def _add_neighbours(view, scores: dict[int, float], turns: dict, w: Weights) -> None:
    """Each of the best turns passes a share of its score to the turns around it in its session (in place;
    `turns` gains the neighbours it did not hold). A turn keeps the larger of its own and what it inherits."""
    seeds = [turns[s] for s in sorted(scores, key=lambda s: -scores[s])[: w.neighbour_seeds] if s in turns]
    wanted = {t.position + d for t in seeds for d in range(-w.neighbour_span, w.neighbour_span + 1) if d}
    around = {t.position: t for t in view.at_positions(wanted)}
    own = {t.seq: scores[t.seq] for t in seeds}  # a weak candidate's own score does not add to what it inherits
    for seed in seeds:
        for d in range(-w.neighbour_span, w.neighbour_span + 1):
            near = around.get(seed.position + d)
            if d == 0 or near is None or near.session != seed.session:
                continue
            turns.setdefault(near.seq, near)
            scores[near.seq] = max(scores.get(near.seq, 0.0), own.get(near.seq, 0.0) + w.neighbours * own[seed.seq])


def _lift_openers(view, scores: dict[int, float], turns: dict, w: Weights) -> None:
    """The first turn of a session carries its news ("Hey John, I joined a gym last week!"): each of the best turns
    that opens its session gains a share of its score (a multiple: a turn the question does not match gains little)."""
    seeds = [turns[s] for s in sorted(scores, key=lambda s: -scores[s])[: w.opener_seeds] if s in turns]
    starts = view.session_starts({t.session for t in seeds})
    for t in seeds:
        if starts.get(t.session) == t.position:
            scores[t.seq] *= 1.0 + w.opener


def _history(fact, query: str, w: Weights) -> float:
    """Superseded facts rank below current ones, unless the question asks about the past."""
    if fact.superseded_by is None:
        return 1.0
    return 1.0 + w.history if PAST.search(query) else 1.0 - w.history
