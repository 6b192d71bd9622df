"""Yes/no questions ("Did Jonas pass his cello exam?"): "Yes" or "No", judged from the one evidence sentence that says
what the question asks, with that sentence as the citation — or no answer when no sentence says it.

The word is the reader's verdict, not a quote: `Verdict.text` is "Yes", "No", "Likely yes" or "Likely no" and
`Verdict.span` is the exact sentence it was judged from. A sentence supports the question when it holds the question's
content words (a word's stem, a stem it begins, or a WordNet kind of the noun asked about: a cello is a musical
instrument) and is about the question's subject: said by that person, or naming them. It says "No" when the words it
matched are negated. A would/could question asks for an inference the evidence can only make likely, so its verdict
says "Likely" (LoCoMo's own form for them, e.g. "Likely no").

LoCoMo dev's 23 yes/no questions of categories 1-4: "Yes" 10 (4 with a reason after it),
"No" 5, "Likely no" 4, a choice between two things 4 ("A national park or a theme park?").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from hyperloom.agent.nlp import wordnet
from hyperloom.agent.question import Analysis
from hyperloom.agent.reader_evidence import Passage
from hyperloom.agent.reader_features import _matches, first_name, stem
from hyperloom.retrieval.spans import Span

# Words a yes/no question carries that say nothing about what happened ("Does Maya *have* a car?": the car does).
LIGHT = frozenset("have do be get go make take ever still really also likely consider considered would could might "
                  "more someone something anyone anything somewhat yet already".split())
# Share of the question's content words a supporting sentence must hold. LoCoMo dev's 23 yes/no questions of categories
# 1-4 over the agent's cached evidence (/tmp/a-ynscore.py; chosen by looking at them, no other fit): 0.5 answers 13,
# 5 right (F1 >= 0.5), mean F1 0.271; 0.6 answers 7, none right, 0.141; 0.4 as 0.5. The reader before yes/no
# answers (a span, or a said "yes") answered 22, 1 right, 0.101. Both adversarial yes/no questions abstain at 0.5.
SUPPORT = 0.5
_NEGATION = frozenset({"not", "n't", "never", "no", "nothing", "none", "neither", "nor", "nobody"})
_FIRST_PERSON = frozenset({"i", "my", "me", "mine", "we", "our", "us", "myself", "ours"})
_SECOND_PERSON = frozenset({"you", "your", "yours", "yourself"})
_CHOICE = re.compile(r"\w \bor\b (?!no\b|not\b)\w", re.IGNORECASE)  # "a national park or a theme park?": a choice, read as a "what" question
_HEDGED = re.compile(r"^\s*(would|could|might|is it likely|are .+ likely)\b|\blikely\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Verdict:
    text: str  # "Yes", "No", "Likely yes", "Likely no"
    span: Span  # the sentence it was judged from (exact: hit.text[span.start:span.end])
    support: float  # share of the question's content words the sentence holds (0-1)
    negated: bool
    rank: int  # the evidence turn's rank, 0 best


def is_choice(analysis: Analysis) -> bool:
    """"A or B?" (not "Answer yes or no.", not "and/or")."""
    return bool(_CHOICE.search(analysis.text.replace("/or", " ")))


def wanted_words(analysis: Analysis, speakers: set[str]) -> frozenset[str]:
    """The stems a supporting sentence must hold: the question's content words and the names of things (not of speakers)."""
    names = {n.lower() for n in analysis.named}
    out = {stem(w) for w in analysis.words if w not in LIGHT and w not in names and w.isalpha()}
    out |= {stem(n) for n in names if n not in speakers}
    return frozenset(out)


def subjects(analysis: Analysis, speakers: set[str]) -> set[str]:
    """Who the question is about: the speakers it names (none: anyone)."""
    return {n.lower() for n in analysis.named if n.lower() in speakers}


def judge(analysis: Analysis, found: Sequence[Passage]) -> Verdict | None:
    """The best-supported sentence's verdict, or None when no sentence about the subject holds enough of the question."""
    speakers = {first_name(p.hit.speaker) for p in found if p.hit.speaker}
    wanted, who = wanted_words(analysis, speakers), subjects(analysis, speakers)
    if not wanted:
        return None
    best: tuple[float, int, Verdict] | None = None
    for p in found:
        if p.doc.text.rstrip().endswith("?") or not _about(p, who):
            continue
        matched = _matched(p.doc, wanted)
        support = len(set(matched.values())) / len(wanted)
        if support < SUPPORT or best is not None and (support, -p.rank) <= best[:2]:
            continue
        negated = _negated(p.doc, matched)
        best = (support, -p.rank, Verdict(_word(analysis, negated), _sentence_span(p), support, negated, p.rank))
    return best[2] if best else None


def _about(p: Passage, who: set[str]) -> bool:
    """Said by the question's subject of themselves ("I passed my exam", not "Pixel is a perfect name for a cat"), told
    to them by someone else ("you passed!"), or naming them (not only addressing them: "Jonas! I'm back")."""
    if not who:
        return True
    said = {t.lower_ for t in p.doc}
    if first_name(p.hit.speaker) in who:
        return bool(said & _FIRST_PERSON)
    if said & _SECOND_PERSON:
        return True
    return any(t.lower_ in who and not (t.i == 0 and len(p.doc) > 1 and p.doc[1].is_punct) for t in p.doc)


def _matched(doc, wanted: frozenset[str]) -> dict[int, str]:
    """Token index -> the wanted stem it holds (by stem, by a stem it begins, or as a WordNet kind of the wanted noun)."""
    out = {}
    for t in doc:
        if not t.is_alpha:
            continue
        m = _matches(stem(t.lemma_), wanted) or _matches(stem(t.text), wanted)
        if m is None and t.pos_ == "NOUN":
            m = next((w for w in wanted if _kind_of(t.lemma_.lower(), w)), None)
        if m is not None:
            out[t.i] = m
    return out


@lru_cache(maxsize=16384)
def _kind_of(noun: str, stem_word: str) -> bool:
    """Whether `noun` is a kind of the noun whose stem is `stem_word`: under one of its first two senses ("cat" of
    "animal"), or under a class named by it ("cello" under musical_instrument, for "instrument")."""
    net = wordnet()
    base = net.base_form(stem_word) or stem_word
    classes = set(net.synsets(base)[:2])
    if not classes or noun == base:
        return False
    ups = set().union(*(net.ancestors(s) for s in net.synsets(noun)[:2])) if net.synsets(noun) else set()
    return bool(ups & classes) or any(net.name(u).endswith("_" + base) for u in ups)


def _negated(doc, matched: dict[int, str]) -> bool:
    """A negation whose head governs a matched word ("I never passed", "I don't have a car", "no car")."""
    hold = set(matched)
    for t in doc:
        if t.lower_ in _NEGATION and (t.dep_ in ("neg", "det") or t.lower_ == "never"):
            head = t.head
            if head.i in hold or any(u.i in hold for u in head.subtree):
                return True
    return False


def _word(analysis: Analysis, negated: bool) -> str:
    if _HEDGED.search(analysis.text):
        return "Likely no" if negated else "Likely yes"
    return "No" if negated else "Yes"


def _sentence_span(p: Passage) -> Span:
    text = p.doc.text
    start = len(text) - len(text.lstrip())
    end = len(text.rstrip())
    s, e = p.start + start, p.start + end
    return Span(p.hit.turn_id, s, e, p.hit.text[s:e])


def someone_else(analysis: Analysis, hits: Sequence, span: Span) -> bool:
    """The answer's sentence is another speaker's first-person account while the question asks about a named speaker
    ("When did Jonas adopt Pixel?" answered from Maya's "I'm also adopting a cat next week, ... called Pixel")."""
    from hyperloom.retrieval.spans import sentences

    speakers = {first_name(h.speaker) for h in hits if h.speaker}
    who = subjects(analysis, speakers)
    hit = next((h for h in hits if h.turn_id == span.turn_id), None)
    if not who or hit is None or first_name(hit.speaker) in who:
        return False
    bounds = next(((s, e) for s, e in sentences(hit.text) if s <= span.start < e), (0, len(hit.text)))
    said = {w.lower() for w in re.findall(r"[^\W_]+(?:'[^\W_]+)?", hit.text[bounds[0] : bounds[1]])}
    said |= {w.split("'")[0] for w in said}
    return bool(said & _FIRST_PERSON) and not said & (_SECOND_PERSON | who)


def coverage(analysis: Analysis, found: Sequence[Passage]) -> tuple[float, bool]:
    """(the largest share of the question's content words one sentence about its subject holds, whether the sentence
    holding the most of them is someone else's first-person account) — what says a question's premise is not in the
    evidence, as LoCoMo's adversarial questions ask about one speaker what the other said."""
    speakers = {first_name(p.hit.speaker) for p in found if p.hit.speaker}
    wanted, who = wanted_words(analysis, speakers), subjects(analysis, speakers)
    if not wanted or not found:
        return 0.0, False
    about, top, top_else = 0.0, -1.0, False
    for p in found:
        if p.doc.text.rstrip().endswith("?"):
            continue
        held = {m for t in p.doc if t.is_alpha and (m := _matches(stem(t.lemma_), wanted))}
        share = len(held) / len(wanted)
        if _about(p, who):
            about = max(about, share)
        if share > top:
            top, top_else = share, bool(who) and _elsewhere(p, who)
    return about, top_else


def _elsewhere(p: Passage, who: set[str]) -> bool:
    said = {t.lower_ for t in p.doc}
    return first_name(p.hit.speaker) not in who and bool(said & _FIRST_PERSON) and not said & (_SECOND_PERSON | who)
