"""LLM-free extraction: sentences with offsets, entities, keywords and resolved dates of one turn.

Entities come from a small rule set rather than a statistical NER model: spaCy's
English models are not published on PyPI by their authors, and what a memory
needs here is cheap, deterministic recall of names (speakers, people, places,
organisations) and activities, not fine-grained types. Names are capitalised
word runs that do not start a sentence (or that the namespace already knows);
activities come from a lexicon; kinds come from cue words around the name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

from hyperloom.retrieval.lexical import terms
from hyperloom.retrieval.spans import sentences

ACTIVITIES = frozenset(
    """
    art baking basketball biking board-games bowling boxing camping canoeing ceramics chess climbing coding cooking
    cycling dance dancing drawing drumming fishing football gaming gardening golf guitar hiking hockey horseback
    journaling kayaking knitting marathon meditation music painting photography piano pilates poetry pottery reading
    running sailing sculpting sewing singing skateboarding skating skiing snowboarding soccer surfing swimming
    taekwondo tennis theater theatre traveling travelling violin volleyball volunteering walking weightlifting
    woodworking workout writing yoga kickboxing karate jogging archery crochet calligraphy scrapbooking birdwatching
    """.split()
)
# Capitalised words that are not names even mid-sentence.
NOT_NAMES = frozenset(
    """
    I I'm I've I'd I'll Im OK Ok Hey Hi Hello Thanks Thank Wow Yes Yeah No Oh Congrats Congratulations Sure Great
    Mr Mrs Ms Dr Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March April May June July
    August September October November December Christmas Easter Halloween Thanksgiving LGBTQ LGBT LOL Omg OMG TV
    """.split()
)
_PLACE_CUES = frozenset({"in", "to", "from", "at", "of", "visited", "visit", "near", "around", "across"})
_ORG_WORDS = frozenset({"University", "College", "School", "Inc", "Company", "Club", "Center", "Centre", "Hospital", "Foundation", "Bank", "Studio", "Shelter", "Church", "Museum", "Institute", "Group", "Team"})
_PERSON_CUES = frozenset({"sister", "brother", "mom", "dad", "mother", "father", "friend", "wife", "husband", "son", "daughter", "aunt", "uncle", "cousin", "boyfriend", "girlfriend", "partner", "teacher", "boss", "named", "called", "grandma", "grandpa"})
_WORD = re.compile(r"[A-Za-zÀ-ÖØ-öø-ÿ][\w'’-]*")
_NAME_RUN = re.compile(r"[A-ZÀ-Ö][\w'’-]*(?:\s+(?:of|de|da|van|von|the)?\s*[A-ZÀ-Ö][\w'’-]*)*")


@dataclass(frozen=True, slots=True)
class Entity:
    name: str
    kind: str  # person | place | organisation | activity | thing


@dataclass(frozen=True, slots=True)
class Sentence:
    start: int
    end: int
    text: str
    entities: tuple[Entity, ...] = ()
    keywords: tuple[str, ...] = ()
    times: tuple = ()  # TimeMention from memory.temporal, offsets relative to the turn text


@dataclass(frozen=True)
class Extraction:
    sentences: list[Sentence] = field(default_factory=list)

    @property
    def entities(self) -> set[Entity]:
        return {e for s in self.sentences for e in s.entities}


def extract(text: str, speaker: str, anchor: str | datetime | None, known: frozenset[str] = frozenset()) -> Extraction:
    """Every sentence of a turn with its entities (the speaker always among them), keywords and dates."""
    from hyperloom.memory.temporal import parse_anchor, resolve

    moment = parse_anchor(anchor) if anchor is not None else None
    bounds = sentences(text) or [(0, len(text))]
    out = []
    for start, end in bounds:
        chunk = text[start:end]
        found = {Entity(speaker, "person")} | set(entities(chunk, known))
        times = tuple(_shift(m, start) for m in resolve(chunk, moment)) if chunk else ()
        out.append(Sentence(start, end, chunk, tuple(sorted(found, key=lambda e: e.name)), tuple(dict.fromkeys(terms(chunk))), times))
    return Extraction(out)


def _shift(mention, offset: int):
    from dataclasses import replace

    return replace(mention, start=mention.start + offset, end=mention.end + offset)


def entities(sentence: str, known: frozenset[str] = frozenset()) -> list[Entity]:
    """Names (person, place, organisation) and activities mentioned in one sentence."""
    found = [Entity(w.lower(), "activity") for w in _WORD.findall(sentence) if w.lower() in ACTIVITIES]
    for match in _NAME_RUN.finditer(sentence):
        name = _clean_name(match.group(), initial=match.start() == _first_word_start(sentence), known=known)
        if name:
            found.append(Entity(name, _kind(sentence, match.start(), name)))
    return list(dict.fromkeys(found))


def _first_word_start(sentence: str) -> int:
    m = _WORD.search(sentence)
    return m.start() if m else 0


def _clean_name(run: str, *, initial: bool, known: frozenset[str]) -> str | None:
    words = [w.strip("'’") for w in run.split()]
    if initial and len(words) > 1 and words[0] not in known:
        words, initial = words[1:], False  # "How's Pixel", "The Bosch": the opener is an ordinary word
    while words and words[0] in NOT_NAMES:
        words, initial = words[1:], False
    while words and words[-1] in NOT_NAMES:
        words = words[:-1]
    name = " ".join(words).removesuffix("'s").removesuffix("’s")
    if not name or (initial and len(words) == 1 and name not in known):
        return None  # a single capitalised sentence opener is usually an ordinary word
    return name if len(name) > 1 else None


def _kind(sentence: str, at: int, name: str) -> str:
    before = sentence[:at].split()[-2:]
    cue = {w.lower().strip(",.") for w in before}
    if any(w in _ORG_WORDS for w in name.split()):
        return "organisation"
    if cue & _PERSON_CUES:
        return "person"
    if cue & _PLACE_CUES:
        return "place"
    return "person" if len(name.split()) <= 2 and _looks_like_person(name) else "thing"


@lru_cache(maxsize=4096)
def _looks_like_person(name: str) -> bool:
    # Without a gazetteer: one or two plain capitalised words read as a person's name more often than not in chat.
    return all(w[:1].isupper() and w[1:].islower() for w in name.split())
