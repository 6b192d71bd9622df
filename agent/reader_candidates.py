"""The reader's candidate answers: typed spans of the parsed evidence sentences, each with its feature vector.

Named entities, noun chunks (alone, with their modifier's object, and with the chunks coordinated
with them: "loss, redemption, and forgiveness"), verb phrases, reasons, numbers, quoted titles,
whole sentences and, for a *when* question, the dates resolved against the turn's day.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from hyperloom.agent.question import Analysis
from hyperloom.agent import reader_evidence
from hyperloom.agent.nlp import wordnet
from hyperloom.agent.question import broad_classes
from hyperloom.agent.reader_evidence import Passage, passages
from hyperloom.agent.reader_features import aggregate, features, passage_info, scene
from hyperloom.memory.temporal import parse_anchor, resolve
from hyperloom.retrieval.search import Hit
from hyperloom.retrieval.spans import Span

_ENT_KIND = {"PERSON": "person", "GPE": "place", "LOC": "place", "FAC": "place", "ORG": "org", "NORP": "entity", "DATE": "time", "TIME": "time",
             "CARDINAL": "number", "QUANTITY": "number", "MONEY": "number", "PERCENT": "number", "ORDINAL": "number",
             "WORK_OF_ART": "work", "PRODUCT": "work", "EVENT": "work", "LANGUAGE": "entity", "LAW": "work"}
_SKIP_LEAD = {"det", "poss", "predet", "nummod", "case", "neg"}
_QUOTED = re.compile(r'"([^"]{2,80})"|“([^”]{2,80})”')
_VERB_RIGHT = ("dobj", "prt", "xcomp", "prep", "attr", "acomp", "ccomp", "oprd", "dative")


@dataclass(frozen=True, slots=True)
class Candidate:
    text: str  # the answer part (a resolved date's label for a date)
    span: Span  # what it cites: hit.text[span.start:span.end] == span.text
    kind: str
    features: np.ndarray
    sentence: tuple[str, int]  # (turn id, sentence start): candidates of one sentence share it


_recent: OrderedDict[tuple, list[Candidate]] = OrderedDict()
_recent_lock = threading.Lock()
RECENT = 64  # the critic reads a round's evidence and the answer node reads it again: the second reading is free


def candidates(analysis: Analysis, hits: Sequence[Hit]) -> list[Candidate]:
    """Every candidate answer span of the evidence's best sentences, with its feature vector (the same list for the same evidence)."""
    key = (analysis, tuple((h.turn_id, h.score, h.text, h.speaker, h.time, tuple(h.spans)) for h in hits[:reader_evidence.LOOK]))
    with _recent_lock:
        if key in _recent:
            _recent.move_to_end(key)
            return list(_recent[key])
    found = _candidates(analysis, hits)
    with _recent_lock:
        _recent[key] = found
        while len(_recent) > RECENT:
            _recent.popitem(last=False)
    return list(found)


def _candidates(analysis: Analysis, hits: Sequence[Hit]) -> list[Candidate]:
    hits = [h for h in hits if isinstance(h.text, str) and h.text.strip()]
    found = passages(analysis.text, hits, reader_evidence.LIST_BUDGET if analysis.is_list else reader_evidence.BUDGET) if hits else []
    if not found:
        return []
    where = scene(analysis, found, hits)
    out: list[Candidate] = []
    seen: set[tuple[str, int, int, str]] = set()
    for p in found:
        info = passage_info(where, p)
        for start, end, kind, text in _spans(p, analysis):
            tokens = p.doc[start:end]
            if not _worth(tokens, analysis) or _vocative(tokens, analysis, where.speakers):
                continue
            cite = _cite(p, tokens)
            key = (cite.turn_id, cite.start, cite.end, text or "")
            if key not in seen:
                seen.add(key)
                out.append(Candidate(text if text is not None else cite.text, cite, kind, features(where, info, tokens, kind), (p.hit.turn_id, p.start)))
    if analysis.answer_type == "date":
        out += _turn_dates(where, found)
    if out:
        X = np.stack([c.features for c in out])
        aggregate(X, [c.sentence for c in out], [c.span.turn_id for c in out])
        out = [Candidate(c.text, c.span, c.kind, x, c.sentence) for c, x in zip(out, X)]
    return out


def _cite(p: Passage, tokens) -> Span:
    start, end = p.start + tokens.start_char, p.start + tokens.end_char
    return Span(p.hit.turn_id, start, end, p.hit.text[start:end])


def _spans(p: Passage, analysis: Analysis):
    """(token start, token end, kind, text or None) of each candidate in one sentence."""
    doc = p.doc
    if reader_evidence.NER:
        for ent in doc.ents:
            yield _trim(ent.start, ent.end, doc) + (_ENT_KIND.get(ent.label_, "entity"), None)
    else:
        yield from _name_spans(doc)
    yield from _chunk_spans(doc)
    yield from _verb_spans(doc)
    for m in _QUOTED.finditer(doc.text):
        group = 1 if m.group(1) else 2
        span = doc.char_span(m.start(group), m.end(group), alignment_mode="expand")
        if span is not None:
            yield span.start, span.end, "quoted", None
    start, end = _trim(0, len(doc), doc)
    if end > start:
        yield start, end, "sentence", None
    if analysis.answer_type == "yesno":  # a yes or a no said in the evidence, cited where it was said
        for t in doc:
            if t.lower_ in ("yes", "no") and (t.pos_ == "INTJ" or t.i == 0):
                yield t.i, t.i + 1, "yesno", None
    if analysis.answer_type == "date":
        anchor = parse_anchor(p.hit.time)
        for m in resolve(doc.text, anchor):
            span = doc.char_span(m.start, m.end, alignment_mode="expand")
            if span is not None:
                yield span.start, span.end, "date", _date_label(m, anchor)


_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _date_label(mention, anchor) -> str:
    """LoCoMo's form for a weekday told relative to the day it was said: "last Friday", said on 24 June 2022, is
    "the Friday before 24 June 2022" (51 of the dev set's 180 temporal gold answers are "The <day|week|weekend>
    before/after <day>"). On the 17 dev temporal questions answered from a weekday this lifts their summed F1 from
    7.98 (the resolved day, "17 June 2022") to 10.95 (/tmp/a-dates.py; one rule, no fitting). Every other mention
    keeps `memory.temporal`'s label."""
    said = mention.text.lower()
    day = next((d for d in _WEEKDAYS if d in said), None)
    if day is None or mention.granularity != "day" or anchor is None or mention.first == anchor.date():
        return mention.label()
    side = "before" if mention.first < anchor.date() else "after"
    return f"the {day.title()} {side} {anchor.day} {anchor:%B %Y}"


def _name_spans(doc):
    """Without the entity recogniser: runs of proper nouns typed by WordNet (a name it does not know is a person's),
    and a number with its unit ("five years", "58 minutes")."""
    i = 0
    while i < len(doc):
        if doc[i].pos_ == "PROPN" and doc[i].is_alpha:
            j = i + 1
            while j < len(doc) and j - i < 5 and (doc[j].pos_ == "PROPN" or doc[j].text == "-" and not doc[j - 1].whitespace_ and j + 1 < len(doc) and doc[j + 1].pos_ == "PROPN"):
                j += 1  # "Sara Bareilles", "Saint-Saëns"
            yield i, j, _name_kind(doc[i:j].text), None
            i = j
            continue
        t = doc[i]
        if t.like_num and t.head.pos_ == "NOUN" and t.head.i == i + 1:
            yield i, i + 2, "time" if _name_kind(t.head.lemma_) == "time" else "number", None
        i += 1


@lru_cache(maxsize=16384)
def _name_kind(name: str) -> str:
    net = wordnet()
    senses = net.synsets(name)[:2] or net.synsets(name.split()[-1])[:1]
    if not senses:
        return "person" if name[:1].isupper() else "entity"
    ups = net.ancestors(senses[0])
    for kind, label in (("place", "place"), ("person", "person"), ("organisation", "org"), ("date", "time"), ("title", "work")):
        if ups & broad_classes(kind):
            return label
    return "entity"


def _chunk_spans(doc):
    for t in doc:  # "my sister Clara": the noun that says what the name is
        if t.dep_ == "compound" and t.pos_ == "NOUN" and t.head.pos_ == "PROPN":
            yield _trim(min(u.i for u in t.subtree), t.i + 1, doc) + ("noun", None)
        if t.pos_ == "NOUN" and any(c.dep_ in ("acl", "relcl") and c.lemma_ in ("call", "name") for c in t.children):
            left = min([t.i] + [c.i for c in t.lefts if c.dep_ in ("amod", "compound", "det", "poss", "nummod")])
            yield _trim(left, t.i + 1, doc) + ("chunk", None)  # "a grey rescue called Pixel", parsed as an adverbial
    for chunk in doc.noun_chunks:
        start, end = _trim(chunk.start, chunk.end, doc)
        if end <= start:
            continue
        yield start, end, "chunk", None
        if end - start > 1 and doc[end - 1].pos_ in ("NOUN", "PROPN"):
            yield end - 1, end, "noun", None
        root = chunk.root
        for t in doc[root.i + 1 : root.i + 6]:  # "a teacher called Ines": the chunk with its modifier's object
            if t.dep_ in ("acl", "relcl", "prep") and t.head == root:
                last = max(u.i for u in t.subtree)
                if last - start < 10:
                    yield start, last + 1, "chunk", None
                break
        conj = [t for t in root.subtree if t.dep_ == "conj" and t.head.i >= root.i and t.pos_ in ("NOUN", "PROPN", "ADJ")]
        if conj and root.dep_ != "conj":  # "coconut milk, vanilla extract, sugar, and salt"
            last = max(u.i for t in conj for u in t.subtree)
            if last - start < 16:
                yield start, last + 1, "coord", None


def _verb_spans(doc):
    for t in doc:
        if t.pos_ == "VERB" and t.dep_ not in ("aux", "auxpass"):
            right = [u for u in t.rights if u.dep_ in _VERB_RIGHT]
            if right:
                end = max(u.i for r in right[:2] for u in r.subtree) + 1
                if end - t.i <= 10:
                    yield t.i, end, "verb", None
            elif t.tag_ == "VBG":
                yield t.i, t.i + 1, "verb", None
            conj = [c for c in t.children if c.dep_ == "conj" and c.pos_ == "VERB"]
            if conj and t.dep_ != "conj":  # "petted and hugged her, spoke calmly": the coordinated actions
                last = max(u.i for c in conj for u in c.subtree)
                if last + 1 - t.i <= 14:
                    yield t.i, _trim(t.i, last + 1, doc)[1], "verb", None
        if t.dep_ == "mark" and t.lower_ in ("because", "since", "so", "as") or (t.lower_ == "to" and t.dep_ == "aux" and t.head.dep_ in ("advcl", "xcomp")):
            sub = [u.i for u in t.head.subtree if u.i >= t.i]
            if sub and max(sub) - t.i <= 20:
                yield t.i, max(sub) + 1, "clause", None
        if t.like_num and not (reader_evidence.NER and t.ent_type_):
            yield t.i, t.i + 1, "number", None


def _turn_dates(where, found: list[Passage]) -> list[Candidate]:
    """LoCoMo's convention: an event told without a date happened around the telling — the turn's own day."""
    out = []
    for p in found:
        anchor = parse_anchor(p.hit.time)
        if anchor is None or not (p.in_best or not p.hit.spans and p.index == 0):
            continue
        start, end = _trim(0, len(p.doc), p.doc)
        if end > start:
            tokens = p.doc[start:end]
            x = features(where, passage_info(where, p), tokens, "date_turn")
            out.append(Candidate(f"{anchor.day} {anchor:%B %Y}", _cite(p, tokens), "date_turn", x, (p.hit.turn_id, -1)))
    return out


def _trim(start: int, end: int, doc) -> tuple[int, int]:
    """Drop leading determiners and possessives ("my cello" -> "cello") and edge punctuation."""
    while start < end and (doc[start].dep_ in _SKIP_LEAD and doc[start].pos_ in ("DET", "PRON", "PART") or doc[start].is_punct or doc[start].is_space):
        start += 1
    while end > start and (doc[end - 1].is_punct or doc[end - 1].is_space):
        end -= 1
    return start, end


def _vocative(tokens, analysis: Analysis, speakers: set[str]) -> bool:
    """A speaker's name or its short form ("Mel" for Melanie) is how people address each other, not an answer to a non-person question."""
    if analysis.answer_type in ("person", "description") or len(tokens) > 2 or tokens.root.pos_ != "PROPN":
        return False
    name = tokens.text.lower()
    return any(s.startswith(name) for s in speakers if s)


def _worth(tokens, analysis: Analysis) -> bool:
    """Not empty, not only stop words or pronouns, and not merely the question's own words."""
    if len(tokens) == 1 and tokens[0].lower_ in ("yes", "no"):
        return analysis.answer_type == "yesno"
    content = [t for t in tokens if t.is_alpha and not t.is_stop and t.pos_ != "PRON"] or [t for t in tokens if t.like_num]
    if not content:
        return False
    return not all(t.lower_ in analysis.words or t.lemma_.lower() in analysis.words for t in content)
