"""Self-practice for the sufficiency critic (SIM-RAG, RESEARCH.md section 3).

The project writes its own questions from conversations, no human labels. A question asks
for one part of what a turn says, in the way the benchmark's questions ask: a clause of the
turn (spaCy's parse) is turned into a question whose answer is a date ("When did Melanie go
camping?"), an object ("What did Caroline buy?"), an object under a WordNet class ("What
instrument does Melanie play?"), a person, a place, a number, a reason, a feeling, a
description, an activity, a duration — or a list over two turns of one speaker ("What
pets does Melanie have?"). Which of these forms is written how often, and how they open
("What kind of", "Which"), follows the forms of the real questions it is given (their
forms, never the questions: `form_of` reads only the opening); the words of the turn are
paraphrased (WordNet synonyms and hypernyms for nouns, modifiers dropped), so a practice
question shares about as many words with its turn as a real one does with its evidence.

The agent then runs its real retrieval rounds on each question with a critic that never
accepts; every round is labelled twice — is the reader's answer from that round's
evidence right (F1 ≥ 0.5 against the practice answer), does the evidence hold the source
turns — and a calibrated logistic regression for each label is fitted on those rounds.

    python -m hyperloom.agent.practice CONVERSATIONS.json [...] --out agent/critic.json

Writes the weights with the conversations they were practised on, so an evaluation can
say whether it measures the critic on conversations it never saw.
"""

from __future__ import annotations

import argparse
import random
import re
import tempfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from hyperloom.errors import ConfigError
from hyperloom.memory.formats import Conversation
from hyperloom.memory.log import Turn
from hyperloom.memory.temporal import parse_anchor, resolve

RIGHT = 0.5  # F1 at which the reader's answer counts as right (SIM-RAG's "the answer was correct")
MIN_QUESTIONS = 60  # fewer answerable practice questions than this cannot fit two calibrated models
MIN_CONVERSATIONS = 2  # the calibration is fitted on held-out conversations
MAX_REST = 10  # words of the turn kept after the verb
P_SYNONYM = 0.8  # a noun of the turn is replaced by a WordNet synonym or hypernym
P_DROP = 0.6  # an adjective or adverb of the turn is left out
CAP = 1.1
TWO_TURN_SHARE = 0.26  # of real LoCoMo dev questions (categories 1-4) have two or more evidence turns

# -- forms -----------------------------------------------------------------------------------------

_AUX = r"(?:did|does|do|is|was|are|were|has|have|had|will|can|would)"
# The forms practice can write, each recognised in a real question by its opening. Order matters: first match wins.
FORMS: tuple[tuple[str, re.Pattern[str]], ...] = tuple((name, re.compile(p, re.IGNORECASE)) for name, p in (
    ("when", r"^(when|what (date|day|year|month|time)|which (date|day|year|month))\b"),
    ("how_many", r"^how (many|much)\b"),
    ("how_long", r"^how (long|often)\b"),
    ("feel", rf"^how {_AUX}\b.*\bfeel"),
    ("describe", rf"^how {_AUX}\b.*\b(describe|think|like)"),
    ("who", r"^(who|whom|whose)\b"),
    ("where", r"^where\b"),
    ("why", r"^(why|what (made|motivated|inspired|prompted|led))\b"),
    ("do", rf"^what {_AUX} \w+(?: and \w+)? (do|doing|done)\b"),
    ("focus", rf"^((what|which) (kind|type|sort)s? of \w+|which \w+|what (?!{_AUX}\b)\w+(?: \w+)? {_AUX})\b"),
    ("what_is", r"^what (is|was|are|were)\b"),
    ("what", rf"^what {_AUX}\b"),
))
OPENINGS = {"what kind of": re.compile(r"^what (kind|sort)s? of\b", re.I), "what type of": re.compile(r"^what types? of\b", re.I), "which": re.compile(r"^which\b", re.I)}


def form_of(question: str) -> str | None:
    """The form of a question, read from its opening only; None for forms practice does not write (yes/no, "would ...")."""
    text = " ".join(question.split())
    return next((name for name, pattern in FORMS if pattern.search(text)), None)


@dataclass(frozen=True)
class Forms:
    """How often each form occurs among some real questions, how focus questions open, and which focus nouns they use."""

    weights: dict[str, float]
    openings: dict[str, float]  # "what kind of" / "what type of" / "which" / "what" -> share of focus questions
    focus: dict[str, int]  # focus noun lemma -> count
    two_turn: float = TWO_TURN_SHARE

    @classmethod
    def of(cls, questions: Iterable[tuple[str, int]]) -> "Forms":
        """From (question text, number of evidence turns) pairs."""
        from hyperloom.agent.question import analyse

        forms, openings, focus, n, multi = Counter(), Counter(), Counter(), 0, 0
        for text, turns in questions:
            n += 1
            multi += turns >= 2
            form = form_of(text)
            if form is None:
                continue
            forms[form] += 1
            if form == "focus":
                openings[next((o for o, p in OPENINGS.items() if p.search(text.strip())), "what")] += 1
                if noun := analyse(text).focus:
                    focus[noun] += 1
        total, opened = sum(forms.values()) or 1, sum(openings.values()) or 1
        return cls({f: c / total for f, c in forms.items()}, {o: c / opened for o, c in openings.items()}, dict(focus), multi / n if n else TWO_TURN_SHARE)

    @classmethod
    def default(cls) -> "Forms":
        """The form mix of LoCoMo dev's questions (categories 1-4), for conversations without questions of their own."""
        weights = {"what": 0.21, "focus": 0.19, "when": 0.19, "what_is": 0.1, "do": 0.05, "how_many": 0.03, "how_long": 0.04, "feel": 0.04, "describe": 0.04, "why": 0.05, "where": 0.03, "who": 0.03}
        focus = {f: 3 for f in ("activity", "book", "event", "city", "game", "movie", "item", "pet", "place", "class", "country", "painting", "recipe", "instrument", "dessert", "hobby", "genre", "dish", "food", "sport", "animal", "music", "art", "vehicle", "flower", "language", "tool", "plant", "drink")}
        return cls(weights, {"what kind of": 0.3, "what type of": 0.05, "which": 0.1, "what": 0.55}, focus)


# -- practice questions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Practice:
    question: str
    gold: tuple[str, ...]  # the turn ids it was written from
    answer: str  # what it asks for, as the turn says it (a date resolved as LoCoMo writes dates)
    now: str | None
    form: str
    code: int | None = None  # the LoCoMo F1 rule that scores an answer to it (1: a list, None: plain token F1)
    key: str = ""  # unique in a run: "conv-26/p3" (practice) or the benchmark's question key


@dataclass
class _Clause:
    turn: Turn
    verb: object  # spaCy Token
    subject: str  # as the question names it: "Melanie", "Melanie's kids"
    first: str  # the auxiliary that opens the question: did, does, has, is, will, can
    middle: str  # auxiliaries after the subject: "been"
    form: str  # the verb after the subject: "go" after did, else as said ("painting")
    speaker: str
    other: str
    vocabulary: frozenset[str] = frozenset()  # words the conversation uses: synonyms are chosen among them


def questions(conversation: Conversation, n: int, rng: random.Random, forms: Forms | None = None) -> list[Practice]:
    """Up to `n` practice questions from one conversation, forms mixed as in `forms` (LoCoMo dev's by default)."""
    from hyperloom.agent.nlp import spacy_pipeline

    forms = forms or Forms.default()
    turns = [t for t in conversation.turns if len(t.text.split()) >= 5]
    if not turns:
        return []
    speakers = sorted({t.speaker for t in conversation.turns})
    vocabulary = frozenset(w for w, c in Counter(w.lower() for t in conversation.turns for w in re.findall(r"[A-Za-z]+", t.text)).items() if c >= 2)
    docs = list(spacy_pipeline().pipe([t.text[:2000] for t in turns], batch_size=32))
    pools: dict[str, list[tuple[str, str, str, tuple[str, ...]]]] = {}
    objects: dict[tuple[str, str], list[tuple[_Clause, str]]] = {}
    for turn, doc in zip(turns, docs):
        other = next((s for s in speakers if s != turn.speaker), turn.speaker)
        for clause in _clauses(doc, turn, other, vocabulary):
            for form, (question, answer, _) in _write(clause, forms, rng):
                if form != "when" and len(question.split()) < 9 and rng.random() < 0.8:
                    question = _with_context(question, answer, doc, rng)
                pools.setdefault(form, []).append((question, answer, form, (turn.id,)))
            if (obj := _object(clause)) is not None and (cls := _focus_of(obj.root.lemma_.lower(), obj.root.text.lower(), forms)):
                objects.setdefault((turn.speaker, cls), []).append((clause, _phrase(obj)))
    lists = _lists(objects, rng)
    now = _last_time(conversation)
    for pool in (*pools.values(), lists):
        rng.shuffle(pool)
    out, seen, made = [], set(), Counter()
    # No form is written more than CAP times as often as the real questions use it: when the pools of the
    # others run dry, fewer questions are written rather than a mix unlike the real one.
    cap = {f: max(1, round(CAP * w * n)) for f, w in forms.weights.items()}
    while len(out) < n:
        names = [f for f in forms.weights if pools.get(f) and made[f] < cap[f]]
        if not names and (not lists or made["list"] >= max(1, round(forms.two_turn * 0.75 * n))):
            break
        if lists and made["list"] < max(1, round(forms.two_turn * 0.75 * n)) and (not names or rng.random() < forms.two_turn * 0.5):  # half the real two-turn questions are lists; the rest need reasoning
            question, answer, gold = lists.pop()
            form, code = "list", 1
        else:
            form = rng.choices(names, [forms.weights[f] for f in names])[0]
            question, answer, _, gold = pools[form].pop()
            code = None
        if question.lower() not in seen:
            seen.add(question.lower())
            made[form] += 1
            out.append(Practice(question, gold, answer, now, form, code, f"{conversation.name}/p{len(out)}"))
    return out


def _clauses(doc, turn: Turn, other: str, vocabulary: frozenset[str] = frozenset()) -> Iterable[_Clause]:
    """Every clause with a subject the question can name and a verb it can put in question form."""
    for verb in doc:
        if verb.pos_ not in ("VERB", "AUX") or any(c.dep_ == "neg" for c in verb.children):
            continue
        subj = next((c for c in verb.children if c.dep_ in ("nsubj", "nsubjpass")), None)
        if subj is None or verb.sent.text.rstrip().endswith("?"):
            continue
        named = _subject(subj, turn.speaker, other)
        if named is None:
            continue
        subject, plural = named
        if (tense := _tense(verb, plural)) is not None:
            yield _Clause(turn, verb, subject, *tense, turn.speaker, other, vocabulary)


def _subject(token, speaker: str, other: str) -> tuple[str, bool] | None:
    """Whom the question is about, as it names them: a speaker, a speaker's someone ("Melanie's kids"), or a named person.
    Real questions are about people; "it", "this" and "the weather" are not in the clause's words."""
    words = [w for w in token.subtree if w.dep_ not in ("det", "nummod")]
    low = token.lower_
    if len(words) == 1 and low in ("i", "we", "you"):
        return (other if low == "you" else speaker), False
    if len(words) == 1 and token.text in (speaker, other):
        return token.text, False
    owner = next((w for w in words if w.dep_ == "poss"), None)
    if owner is not None and owner.lower_ in ("my", "our", "your") and token.pos_ == "NOUN" and len(words) <= 3:
        who = other if owner.lower_ == "your" else speaker
        return f"{who}'s " + " ".join(w.text for w in words if w != owner), token.tag_ == "NNS"
    return None


def _tense(verb, plural: bool) -> tuple[str, str, str] | None:
    """(opening auxiliary, auxiliaries after the subject, verb form) of the clause's verb."""
    auxes = [c for c in verb.children if c.dep_ in ("aux", "auxpass") and c.i < verb.i]
    if verb.lemma_ == "be" and not auxes:
        return ("was" if verb.tag_ == "VBD" else "is", "", "")  # a copula: what_is, describe, feel
    if auxes:
        first, rest = auxes[0], auxes[1:]
        low = first.lower_.strip("'")
        if first.lemma_ == "be":
            opening = ("were" if plural else "was") if first.tag_ == "VBD" else ("are" if plural else "is")
        elif first.lemma_ == "have":
            opening = "had" if first.tag_ == "VBD" else ("have" if plural else "has")
        elif first.lemma_ == "do":
            opening = "did" if first.tag_ == "VBD" else ("do" if plural else "does")
        elif first.tag_ == "MD":
            opening = {"ll": "will", "d": "would", "ca": "can", "wo": "will"}.get(low, low)
        else:
            return None
        return opening, " ".join(a.text for a in rest), verb.text
    if verb.tag_ == "VBD":
        return "did", "", verb.lemma_
    if verb.tag_ in ("VBZ", "VBP"):
        return ("do" if plural else "does"), "", verb.lemma_
    return None


_GENERIC = frozenset(
    "lot lots thing things people time times way ways difference fun blast kick job bit one ones stuff something anything everything "
    "idea sense part moment day week year month chance luck break care help look love feeling experience place world life kind sort "
    "type deal tip step question point reminder news wish hope rest shot try word words amount couple number while kinds types".split()
)
# Classes too broad to ask about: "what event" fits almost any noun.
_BROAD_FOCUS = frozenset("event state item experience area place advice recommendation deal thing name status memory goal plan reason aspect "
                         "challenge achievement setback focus topic content way path leaning subject field identity reaction location group".split())
_LIGHT = frozenset("have get do make find take give go see know think say want need come try keep let put tell mean feel love like".split())
_SKIP_DEPS = {"punct", "cc", "conj", "intj", "parataxis", "dep", "discourse", "mark", "advcl", "nsubj", "nsubjpass", "aux", "auxpass", "neg", "expl", "ccomp", "meta", "appos"}
_FILLER = {"really", "just", "so", "too", "also", "actually", "definitely", "totally", "pretty", "very", "even", "still", "already", "finally", "recently", "lately", "now", "again", "yeah", "oh", "wow", "super"}
_PRONOUNS = {"my": "their", "our": "their", "me": "them", "us": "them", "myself": "themselves", "i": "they", "we": "they", "mine": "theirs"}


def _rest(clause: _Clause, drop: Sequence = (), rng: random.Random | None = None) -> str | None:
    """The verb's right-hand words without `drop` (the answer's tokens), first person made third, paraphrased."""
    gone = {t.i for d in drop for t in (d.subtree if hasattr(d, "subtree") else d)}
    words = []
    # the verb's complements, then a prepositional phrase before it ("After work, I ...") at the end
    children = [c for c in clause.verb.rights] + [c for c in clause.verb.lefts if c.dep_ == "prep"]
    for child in children:
        if child.dep_ in _SKIP_DEPS:
            continue
        part = [t for t in child.subtree if t.i not in gone and not t.is_punct]
        if len(words) + len(part) > MAX_REST:
            break
        words += part
    out = []
    for t in words:
        if t.lower_ in _FILLER or (rng and t.pos_ in ("ADJ", "ADV") and t.dep_ in ("amod", "advmod") and rng.random() < P_DROP):
            continue
        if t.lower_ in _PRONOUNS:
            out.append(_PRONOUNS[t.lower_])
        elif t.lower_ in ("you", "your"):
            out.append(clause.other if t.lower_ == "you" else f"{clause.other}'s")
        elif rng and t.pos_ == "NOUN" and rng.random() < P_SYNONYM:
            out.append(_synonym(t.lemma_.lower(), t.tag_ == "NNS", rng, clause.vocabulary) or t.text)
        else:
            out.append(t.text)
    return " ".join(out)


def _ask(opening: str, clause: _Clause, rest: str, verb: str | None = None) -> str:
    parts = [opening, clause.first, clause.subject, clause.middle, clause.form if verb is None else verb, rest]
    text = " ".join(p for p in parts if p).replace(" 's", "'s").replace(" n't", "n't").replace("gon na", "going to").replace("wan na", "want to")
    return text[0].upper() + text[1:] + "?"


def _write(clause: _Clause, forms: Forms, rng: random.Random) -> Iterable[tuple[str, tuple[str, str, str]]]:
    """(form, (question, answer, form)) for every form this clause can be asked in."""
    verb = clause.verb
    if verb.lemma_ == "be" and not clause.form:
        yield from _copula(clause, rng)
        return
    content = [t for c in verb.rights if c.dep_ not in _SKIP_DEPS for t in c.subtree if t.pos_ in ("NOUN", "PROPN", "VERB", "ADJ", "NUM")]
    if not content and (verb.lemma_ in _LIGHT or any(c.dep_ == "dobj" and c.pos_ == "PRON" for c in verb.children)):
        return  # "When did Caroline love it?" asks about nothing
    obj = _object(clause)
    preps = [c for c in verb.rights if c.dep_ in ("prep", "dative")]
    dated = _date_in(clause)
    if dated is not None or clause.first == "did":
        answer, tokens = dated if dated is not None else (_day(clause.turn), ())
        if rest := _rest(clause, [tokens], rng):  # "When did Melanie go?" asks about nothing
            yield "when", (_ask("when", clause, rest), answer, "when")
    if obj is not None and not _is_time(obj):
        rest = _rest(clause, [obj], rng)
        if len(rest.split()) < 3 and rng.random() < 0.5:  # LoCoMo's "What did Jon do in May 2023?"
            rest = f"{rest} {_month(clause.turn)}".strip()
        yield "what", (_ask("what", clause, rest), _phrase(obj), "what")
        if cls := _focus_of(obj.root.lemma_.lower(), obj.root.text.lower(), forms):
            yield "focus", (_ask(_opening(cls, forms, rng), clause, rest), _phrase(obj), "focus")
        if numbers := [c for c in obj.root.children if c.dep_ == "nummod" and c.like_num]:
            yield "how_many", (_ask(f"how many {obj.root.text}", clause, _rest(clause, [obj], rng)), numbers[0].text, "how_many")
        if clause.first in ("did", "does", "do") and any(c.dep_ == "prep" for c in preps):  # "What did Melanie do at the park?"
            yield "do", (_ask("what", clause, rest, "do"), f"{verb.text} {_phrase(obj)}", "do")
    for prep in preps:
        pobj = next((c for c in prep.children if c.dep_ == "pobj"), None)
        if pobj is None:
            continue
        kind = pobj.ent_type_
        if kind == "PERSON":
            yield "who", (_ask("who", clause, f"{_rest(clause, [pobj], rng)} {prep.text}".strip()), pobj.text, "who")
        elif kind in ("GPE", "LOC", "FAC"):
            yield "where", (_ask("where", clause, _rest(clause, [prep], rng)), _phrase(pobj), "where")
        elif prep.lower_ == "for" and kind == "DATE" and re.search(r"\b(years?|months?|weeks?|days?)\b", pobj.text):
            yield "how_long", (_ask("how long", clause, _rest(clause, [prep], rng)), " ".join(t.text for t in pobj.subtree), "how_long")
    if obj is not None and obj.root.ent_type_ == "PERSON":
        yield "who", (_ask("who", clause, _rest(clause, [obj], rng)), obj.root.text, "who")
    for c in verb.children:
        if c.dep_ == "advcl" and any(m.lower_ in ("because", "cause", "'cause") for m in c.children if m.dep_ == "mark"):
            reason = " ".join(t.text for t in c.subtree if t.dep_ != "mark" or t.head != c)
            yield "why", (_ask("why", clause, _rest(clause, [c], rng)), reason, "why")
    if verb.lemma_ == "feel" and (adj := next((c for c in verb.children if c.dep_ == "acomp"), None)) is not None:
        yield "feel", (_ask("how", clause, _rest(clause, [adj], rng), "feel"), _phrase(adj), "feel")


def _copula(clause: _Clause, rng: random.Random) -> Iterable[tuple[str, tuple[str, str, str]]]:
    """"My favourite book is X" -> what_is; "I'm excited about X" -> feel; "The trip was amazing" -> describe."""
    verb = clause.verb
    subj = next(c for c in verb.children if c.dep_ in ("nsubj", "nsubjpass"))
    attr = next((c for c in verb.children if c.dep_ == "attr"), None)
    adj = next((c for c in verb.children if c.dep_ == "acomp"), None)
    past = clause.first in ("was", "were")
    if attr is not None and subj.pos_ in ("NOUN", "PROPN") and subj.lower_ not in ("thing", "one"):
        yield "what_is", (f"What {clause.first} {clause.subject}?", _phrase(attr), "what_is")
    if adj is not None:
        about = [t for c in adj.children if c.dep_ == "prep" for t in c.subtree]
        rest = " ".join(_PRONOUNS.get(t.lower_, t.text) for t in about[:MAX_REST])
        adj = [t for t in adj.subtree if t not in about and t.lower_ not in _FILLER]
        if clause.subject == clause.speaker:
            yield "feel", (f"How {'did' if past else 'does'} {clause.speaker} feel {rest}".strip() + "?", " ".join(t.text for t in adj), "feel")
        elif subj.pos_ == "NOUN" and all(w.isalpha() for w in clause.subject.replace("'s", "").split()):
            thing = clause.subject.replace(f"{clause.speaker}'s", "their")
            yield "describe", (f"How {'did' if past else 'does'} {clause.speaker} describe {thing}?", " ".join(t.text for t in adj), "describe")


def _object(clause: _Clause):
    """The clause's object, unless it is a word that answers nothing ("a lot", "fun", "a great time")."""
    obj = next((c for c in clause.verb.children if c.dep_ in ("dobj", "attr") and c.pos_ in ("NOUN", "PROPN")), None)
    if obj is None or obj.lemma_.lower() in _GENERIC:
        return None
    return obj.doc[obj.left_edge.i : obj.i + 1]


def _phrase(span) -> str:
    """The span without leading determiners and possessives ("my cello" -> "cello")."""
    tokens = list(span.subtree) if not hasattr(span, "start") else list(span)
    while tokens and (tokens[0].dep_ in ("det", "predet") or tokens[0].dep_ in ("poss", "case") and tokens[0].pos_ in ("PRON", "PART") or tokens[0].is_punct):
        tokens = tokens[1:]
    return " ".join(t.text for t in tokens)


def _is_time(span) -> bool:
    return span.root.ent_type_ in ("DATE", "TIME")


def _date_in(clause: _Clause) -> tuple[str, list] | None:
    """A time expression of the clause's sentence, resolved against the turn's time: (LoCoMo's label, its tokens)."""
    sent = clause.verb.sent
    anchor = parse_anchor(clause.turn.created_at)
    for m in resolve(sent.text, anchor):
        span = sent.doc.char_span(sent.start_char + m.start, sent.start_char + m.end, alignment_mode="expand")
        if span is not None:
            return m.label(), list(span)
    return None


def _day(turn: Turn) -> str:
    """LoCoMo's convention: an event told without a date happened around the telling — the turn's own day."""
    when = parse_anchor(turn.created_at)
    return f"{when.day} {when:%B %Y}" if when else ""


_CONTEXT_PREPS = frozenset("at in with for after during from on about to".split())


def _with_context(question: str, answer: str, doc, rng: random.Random) -> str:
    """A short question made as specific as real ones are: a prepositional phrase of the same turn
    that names neither the answer nor a word already asked ("How did Jon feel" + "after the competition")."""
    asked = {w.lower() for w in re.findall(r"\w+", question + " " + answer)}
    phrases = []
    for t in doc:
        pobj = next((c for c in t.children if c.dep_ == "pobj"), None)
        if t.dep_ != "prep" or t.lower_ not in _CONTEXT_PREPS or pobj is None:
            continue
        words = [t, *pobj.subtree]
        content = [w for w in words if w.pos_ in ("NOUN", "PROPN")]
        if len(words) <= 6 and content and not any(w.lower_ in asked for w in content):
            phrases.append(" ".join(_PRONOUNS.get(w.lower_, w.text) for w in words if not w.is_punct))
    return f"{question[:-1]} {rng.choice(phrases)}?" if phrases else question


def _month(turn: Turn) -> str:
    when = parse_anchor(turn.created_at)
    return f"in {when:%B %Y}" if when else ""


def _opening(cls: str, forms: Forms, rng: random.Random) -> str:
    names = list(forms.openings) or ["what"]
    opening = rng.choices(names, [forms.openings[o] for o in names])[0] if forms.openings else "what"
    return f"{opening} {cls}"


def _lists(objects: dict, rng: random.Random) -> list[tuple[str, str, tuple[str, ...]]]:
    """Two turns of one speaker naming things of one class: "What pets does Melanie have?"."""
    out = []
    for (speaker, cls), said in objects.items():
        by_turn = {}
        for clause, answer in said:
            by_turn.setdefault(clause.turn.id, (clause, answer))
        if len(by_turn) < 2:
            continue
        (c1, a1), (c2, a2) = rng.sample(list(by_turn.values()), 2)
        if a1.lower() == a2.lower():
            continue
        verb = c1.verb.lemma_ if c1.verb.lemma_ == c2.verb.lemma_ else "mention"
        aux = "did" if "did" in (c1.first, c2.first) or verb == "mention" else "does"
        out.append((f"What {_plural(cls)} {aux} {speaker} {verb}?", f"{a1}, {a2}", (c1.turn.id, c2.turn.id)))
    return out


def _plural(noun: str) -> str:
    if noun.endswith(("s", "x", "ch", "sh")):
        return noun + "es"
    if noun.endswith("y") and noun[-2:-1] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + "s"


def _last_time(conversation: Conversation) -> str | None:
    times = [t.created_at for t in conversation.turns if t.created_at]
    return max(times) if times else None


# -- WordNet: classes, synonyms and hypernyms of nouns --------------------------------------------------


@lru_cache(maxsize=1)
def _noun_data() -> bytes:
    """WordNet 3.0's data.noun (checksum-verified by agent/nlp.py); nlp.WordNet names only a synset's first lemma."""
    from hyperloom.agent.nlp import WORDNET_DIR, WORDNET_FILES, WORDNET_PACKAGE, package_dir, verified_dir

    root = verified_dir(package_dir(WORDNET_PACKAGE) / WORDNET_DIR, WORDNET_FILES, WORDNET_PACKAGE)
    return (root / "data.noun").read_bytes().replace(b"\r\n", b"\n")


@lru_cache(maxsize=65536)
def lemmas(offset: int) -> tuple[str, ...]:
    """Every lemma of a noun synset, spaces for underscores."""
    data = _noun_data()
    fields = data[offset : data.index(b"\n", offset)].decode("latin-1").split()
    return tuple(fields[4 + 2 * i].replace("_", " ") for i in range(int(fields[3], 16)))


def _synonym(noun: str, plural: bool, rng: random.Random, vocabulary: frozenset[str] = frozenset()) -> str | None:
    """Another word for a noun that people use (in `vocabulary`): a synonym of its first sense, else a hypernym of it."""
    from hyperloom.agent.nlp import wordnet

    net = wordnet()
    senses = net.synsets(noun)[:1]
    if not senses:
        return None
    used = lambda w: " " not in w and w.lower() != noun and (not vocabulary or w.lower() in vocabulary)
    choices = [w for w in lemmas(senses[0]) if used(w)]
    if not choices:
        choices = [w for up in net.hypernyms(senses[0]) for w in lemmas(up) if used(w)]
    if not choices:
        return None
    word = rng.choice(choices)
    return _plural(word) if plural else word


@lru_cache(maxsize=65536)
def _classes(noun: str, word: str) -> dict[int, int]:
    """Synset -> distance above the noun's first two senses (breadth first over hypernyms)."""
    from hyperloom.agent.nlp import wordnet

    net = wordnet()
    todo = [(s, 0) for s in (net.synsets(word)[:2] or net.synsets(noun)[:2])]
    seen: dict[int, int] = {}
    while todo:
        s, d = todo.pop(0)
        if s in seen:
            continue
        seen[s] = d
        todo += [(u, d + 1) for u in net.hypernyms(s)]
    return seen


def _focus_of(noun: str, word: str, forms: Forms) -> str | None:
    """The nearest class above the noun that real questions ask about ("cello" -> "instrument"), never the noun itself."""
    from hyperloom.agent.nlp import wordnet

    above = _classes(noun, word)
    if not above:
        return None
    net = wordnet()
    best = None
    for cls in forms.focus:
        if cls == noun or cls in _BROAD_FOCUS:
            continue
        depth = min((above[s] for s in net.synsets(cls)[:1] if s in above and above[s] > 0), default=None)
        if depth is not None and depth <= 4 and (best is None or depth < best[0]):
            best = (depth, cls)
    return best[1] if best else None


# -- how close practice questions are to real ones ----------------------------------------------------


@dataclass(frozen=True)
class Shape:
    """Length, wh-word mix and lexical overlap with the source turns of a set of questions."""

    questions: int
    length: float  # mean words
    length_quartiles: tuple[float, float, float]
    overlap: float  # mean share of the question's content words (names left out) found in its source turns
    overlap_quartiles: tuple[float, float, float]
    wh: dict[str, float]  # first word -> share

    def distance(self, other: "Shape") -> dict[str, float]:
        """|difference of mean length| (words), |difference of mean overlap|, and the wh-mix's total variation distance."""
        keys = set(self.wh) | set(other.wh)
        return {"length": abs(self.length - other.length), "overlap": abs(self.overlap - other.overlap), "wh": 0.5 * sum(abs(self.wh.get(k, 0) - other.wh.get(k, 0)) for k in keys)}


WH = ("what", "when", "how", "which", "why", "where", "who", "whose", "would", "is", "did", "does")


def shape(pairs: Sequence[tuple[str, str]], names: Iterable[str] = ()) -> Shape:
    """The Shape of (question, source text) pairs; `names` (the speakers) do not count as overlap."""
    from hyperloom.retrieval.lexical import terms

    skip = {t for n in names for t in terms(n)}
    lengths, overlaps, wh = [], [], Counter()
    for question, source in pairs:
        words = question.split()
        lengths.append(len(words))
        first = words[0].lower() if words else ""
        wh[first if first in WH else "other"] += 1
        wanted = [t for t in terms(question) if t not in skip]
        found = set(terms(source))
        overlaps.append(sum(t in found for t in wanted) / len(wanted) if wanted else 0.0)
    q = lambda v: tuple(float(x) for x in np.percentile(v, (25, 50, 75))) if v else (0.0, 0.0, 0.0)
    n = len(pairs) or 1
    return Shape(len(pairs), float(np.mean(lengths)) if lengths else 0.0, q(lengths), float(np.mean(overlaps)) if overlaps else 0.0, q(overlaps), {k: c / n for k, c in wh.most_common()})


# -- rounds: every question through the agent's real graph --------------------------------------------


class PracticeError(ConfigError):
    """Too few practice questions, or conversations, to fit a critic that means anything."""


class Recorder:
    """A critic that never accepts, keeping what it was shown: every round runs and is seen."""

    threshold = 1.1

    def __init__(self) -> None:
        self.seen: list = []

    def probability(self, evidence) -> float:
        self.seen.append(evidence)
        return 0.0


def play(agent, items: Sequence[Practice], ranking_depth: int = 25) -> list[dict]:
    """Per question: its gold, each round's new hits (spans included) and its own ranking, as plain JSON.
    `agent` must have a `Recorder` for its critic."""
    from hyperloom.agent.rounds import ranking
    from hyperloom.agent.state import hit_to_dict

    recorder = agent.critic
    assert isinstance(recorder, Recorder)
    out = []
    for item in items:
        recorder.seen.clear()
        answer = agent.ask(item.question, now=item.now)
        rounds, before = [], set()
        for seen, trace in zip(recorder.seen, answer.trace.rounds):
            new = [h for h in seen.hits if h.turn_id not in before]
            before |= {h.turn_id for h in new}
            rounds.append({"kind": trace.kind, "queries": list(trace.queries), "new": [hit_to_dict(h) for h in new]})
        query = recorder.seen[0].question if recorder.seen else item.question
        ranked = [hit_to_dict(h) for h in ranking(agent.store, agent.namespace, query, ranking_depth)[:ranking_depth]]
        out.append({**item.__dict__, "gold": list(item.gold), "query": query, "rounds": rounds, "ranking": ranked})
    return out


def evidence_of(record: dict, upto: int) -> list:
    """The evidence after round `upto` (1-based), best first, as the graph's retrieve node merges it."""
    from hyperloom.agent.state import hit_from_dict

    return sorted((hit_from_dict(d) for r in record["rounds"][:upto] for d in r["new"]), key=lambda h: -h.score)


# -- labelled rows ----------------------------------------------------------------------------------------


@dataclass
class Rows:
    """One row per (question, round): the critic's features, both labels, and where it came from."""

    X: list[np.ndarray] = field(default_factory=list)
    right: list[int] = field(default_factory=list)  # the reader's answer from this round's evidence has F1 >= RIGHT
    holds: list[int] = field(default_factory=list)  # this round's evidence holds every gold turn
    group: list[str] = field(default_factory=list)  # the conversation
    key: list[str] = field(default_factory=list)
    round: list[int] = field(default_factory=list)
    code: list[int] = field(default_factory=list)  # LoCoMo category (0: practice)
    f1: list[float] = field(default_factory=list)
    turns: list[int] = field(default_factory=list)  # evidence turns after the round
    recall: list[float] = field(default_factory=list)

    def __add__(self, other: "Rows") -> "Rows":
        return Rows(**{k: v + getattr(other, k) for k, v in self.__dict__.items()})

    def array(self, name: str) -> np.ndarray:
        return np.stack(self.X) if name == "X" else np.asarray(getattr(self, name))

    def where(self, mask: np.ndarray) -> "Rows":
        return Rows(**{k: [x for x, m in zip(v, mask) if m] for k, v in self.__dict__.items()})

    @property
    def questions(self) -> int:
        return len(set(self.key))


def rows(records: Sequence[dict], group: str, signals: dict | None = None, max_rounds: int = 3) -> Rows:
    """Every round of every answerable question as a row; `signals` ((key, round) -> critic.Signals) skip reading."""
    from hyperloom.agent.critic import DEEP, Evidence, features, read_signals
    from hyperloom.evals.metrics import locomo_f1

    out = Rows()
    for r in records:
        if r["code"] == 5 or r["answer"] is None or not r["gold"]:
            continue
        gold, before, scores = set(r["gold"]), [], [h["score"] for h in r["ranking"][: DEEP]]
        for n in range(1, min(len(r["rounds"]), max_rounds) + 1):
            hits = evidence_of(r, n)
            said = signals[r["key"], n] if signals is not None else read_signals(r["query"], hits)
            out.X.append(features(Evidence(r["query"], hits, scores, n, tuple(before), r["now"]), said))
            before.append(said.text)
            f1 = locomo_f1(said.text, r["answer"], r["code"])
            found = {h.turn_id for h in hits}
            out.right.append(int(f1 >= RIGHT))
            out.holds.append(int(gold <= found))
            out.group.append(group)
            out.key.append(r["key"])
            out.round.append(n)
            out.code.append(r["code"] or 0)
            out.f1.append(f1)
            out.turns.append(len(hits))
            out.recall.append(len(gold & found) / len(gold))
    return out


# -- fitting ------------------------------------------------------------------------------------------------

C = 0.1  # L2 strength of both regressions (LoCoMo dev LOCO AUROC is flat over 0.05-1)
BUDGET = 10.0  # mean evidence turns the stopping threshold is chosen for


def fit_head(rows_: Rows, label: str):
    """A logistic regression for one label over standardised features (uncalibrated: Platt's (1, 0));
    P(holds) reads only critic.HOLDS_FEATURES, P(right) all but critic.RIGHT_SKIPS (the others get weight 0)."""
    from sklearn.linear_model import LogisticRegression

    from hyperloom.agent.critic import FEATURES, HOLDS_FEATURES, RIGHT_SKIPS, Head

    used = np.array([f in HOLDS_FEATURES if label == "holds" else f not in RIGHT_SKIPS for f in FEATURES])
    X, y = rows_.array("X"), rows_.array(label)
    mean, scale = X.mean(axis=0), X.std(axis=0)
    scale[scale < 1e-9] = 1.0
    mean[~used], scale[~used] = 0.0, 1.0
    model = LogisticRegression(C=C, max_iter=3000).fit(((X - mean) / scale)[:, used], y)
    weights = np.zeros(len(FEATURES))
    weights[used] = model.coef_[0]
    return Head(weights, float(model.intercept_[0]), mean, scale)


def held_out_logits(rows_: Rows, label: str) -> np.ndarray:
    """Each conversation's logits from a head fitted on the other conversations (what Platt's scaling is fitted on)."""
    groups, X = rows_.array("group"), rows_.array("X")
    out = np.zeros(len(groups))
    for g in sorted(set(groups)):
        out[groups == g] = fit_head(rows_.where(groups != g), label).logit(X[groups == g])
    return out


def platt(logits: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=1e4, max_iter=1000).fit(logits[:, None], labels)
    return float(model.coef_[0][0]), float(model.intercept_[0])


def check(rows_: Rows, what: str = "practice") -> None:
    """Refuse to fit on too little: a degenerate model would stop every search, or none."""
    groups = set(rows_.group)
    if rows_.questions < MIN_QUESTIONS or len(groups) < MIN_CONVERSATIONS:
        raise PracticeError(f"Only {rows_.questions} answerable {what} questions from {len(groups)} conversation(s): a critic needs at least {MIN_QUESTIONS} questions from {MIN_CONVERSATIONS} conversations; practise on more conversations (or more --questions).")
    for label in ("right", "holds"):
        counts = Counter(getattr(rows_, label))
        if min(counts.get(0, 0), counts.get(1, 0)) < 10:
            raise PracticeError(f"The {what} rounds have {counts.get(1, 0)} '{label}' and {counts.get(0, 0)} not: too one-sided to fit; practise on more conversations.")


def fit(practice: Rows, trained_on: Sequence[str], calibrate: Rows | None = None, budget: float = BUDGET):
    """The critic: both heads fitted on `practice`; Platt's scaling fitted on `calibrate` (by default the practice
    rounds, each conversation scored by heads fitted on the others); the stopping threshold the highest that keeps
    the mean evidence of the practice questions within `budget` turns."""
    from hyperloom.agent.critic import Head, LogisticCritic

    check(practice)
    heads = {}
    for label in ("right", "holds"):
        head = fit_head(practice, label)
        logits = head.logit(calibrate.array("X")) if calibrate is not None else held_out_logits(practice, label)
        labels = (calibrate or practice).array(label)
        heads[label] = Head(head.weights, head.bias, head.mean, head.scale, platt(logits, labels))
    critic = LogisticCritic(heads["right"], heads["holds"], 0.5, "holds", trained_on=tuple(trained_on))
    return _with_threshold(critic, practice, budget)


def _with_threshold(critic, practice: Rows, budget: float):
    from dataclasses import replace

    p = critic.holds.probability(practice.array("X"))
    best = 0.0
    for t in np.round(np.arange(0.05, 1.0, 0.01), 2):
        turns, _ = replay(practice, p, t)
        if turns <= budget:
            best = float(t)
    return replace(critic, threshold=best)


def replay(rows_: Rows, p: np.ndarray, threshold: float, max_rounds: int = 3, value: str = "recall") -> tuple[float, float]:
    """Stop at the first round whose probability reaches `threshold` (else at the last): (mean turns, mean `value`)."""
    turns, values, at = [], [], {}
    for i, (key, n) in enumerate(zip(rows_.key, rows_.round)):
        if n <= max_rounds:
            at.setdefault(key, []).append(i)
    for key, idx in at.items():
        stop = next((i for i in idx if p[i] >= threshold), idx[-1])
        turns.append(rows_.turns[stop])
        values.append(getattr(rows_, value)[stop])
    return float(np.mean(turns)), float(np.mean(values))


# -- the command -------------------------------------------------------------------------------------------------


def units_of(path: Path) -> list[tuple[Conversation, list[tuple[str, int]]]]:
    """The conversations of a file, each with its own questions (text, evidence turns) if it is a LoCoMo file."""
    import json

    from hyperloom.memory.formats import load_conversations

    conversations = load_conversations(path)
    try:
        raw = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        raw = None
    asked = [[(q["question"], len(q.get("evidence") or [])) for q in s.get("qa", []) if isinstance(q, dict) and q.get("category") != 5 and isinstance(q.get("question"), str)] for s in raw] if isinstance(raw, list) else []
    return [(c, asked[i] if i < len(asked) else []) for i, c in enumerate(conversations)]


def practise(paths: Sequence[Path], per_conversation: int, seed: int, only: Sequence[str] = ()) -> tuple[Rows, list[str]]:
    """Practice questions of every conversation (in the forms of the *other* conversations' questions), run and labelled."""
    from hyperloom.agent.api import Agent
    from hyperloom.config import Config

    units = [u for path in paths for u in units_of(path) if not only or u[0].name in only]
    out, names = Rows(), []
    with tempfile.TemporaryDirectory(prefix="hyperloom-practice-") as home:
        for conversation, _ in units:
            asked = [q for other, qs in units if other.name != conversation.name for q in qs]
            forms = Forms.of(asked) if len(asked) >= 50 else Forms.default()
            items = questions(conversation, per_conversation, random.Random(f"{seed}/{conversation.name}"), forms)
            config = Config(home=Path(home), namespace=conversation.name, model="none", memory="structured")
            with Agent(config, critic=Recorder()) as agent:
                agent.store.remember(conversation.turns, conversation.name, conversation.sessions)
                agent.store.consolidate(conversation.name)
                out = out + rows(play(agent, items), conversation.name)
            names.append(conversation.name)
            print(f"{conversation.name}: {len(items)} practice questions", flush=True)
    return out, names


def main(argv: Sequence[str] | None = None) -> None:
    from hyperloom.errors import HyperloomError

    parser = argparse.ArgumentParser(description="Fit the sufficiency critic by self-practice on conversations.")
    parser.add_argument("files", nargs="+", type=Path, help="LoCoMo or hyperloom JSON conversation files")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("critic.json"))
    parser.add_argument("--questions", type=int, default=150, help="practice questions per conversation (at most)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--conversations", default="", help="comma-separated names: practise on these only (keep the others for testing)")
    parser.add_argument("--budget", type=float, default=BUDGET, help="mean evidence turns the stopping threshold is chosen for")
    args = parser.parse_args(argv)
    try:
        practice, names = practise(args.files, args.questions, args.seed, [c for c in args.conversations.split(",") if c])
        critic = fit(practice, names, budget=args.budget)
    except HyperloomError as exc:
        raise SystemExit(str(exc)) from None
    critic.dump(args.out, practice_questions=practice.questions, practice_rounds=len(practice.key), right_share=round(float(np.mean(practice.right)), 3), holds_share=round(float(np.mean(practice.holds)), 3), calibrated_on="practice rounds, leave-one-conversation-out")
    print(f"{practice.questions} practice questions, {len(practice.key)} rounds from {len(names)} conversations ({np.mean(practice.right):.1%} answered right, {np.mean(practice.holds):.1%} holding their turns) -> {args.out} (threshold {critic.threshold})")


if __name__ == "__main__":
    main()
