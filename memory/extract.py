"""LLM-free extraction: sentences with offsets, entities, keywords, classes and resolved dates of one turn.

Names are capitalised word runs that do not start a sentence (or that the namespace
already knows), and the names spaCy's recogniser finds; activities come from a lexicon.
An entity's kind comes, in this order, from the speakers (a speaker is a person), from
spaCy's label of the name (memory/classes.py: GPE, LOC and FAC are places, ORG an
organisation...), from WordNet (Sweden is a country), and last from cue words around
the name ("my sister X", "in X"): the cue rules alone read "Sweden" and "Grand Canyon"
as persons. Each sentence also carries its classes: WordNet hypernyms of its nouns and
activities and the classes of its names' labels. Without the language data the rules
alone label entities and no classes are filed (memory/classes.py says so once).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

from hyperloom.memory import classes
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
# Words beside a title: "the game Catan", "a Valorant tournament", "the movie Inception".
_WORK_CUES = frozenset({"game", "games", "movie", "film", "book", "novel", "song", "album", "show", "series", "tournament", "tournaments", "trilogy"})
_PLACE_WORDS = frozenset("river lake park mountain mountains beach bay valley island street avenue falls canyon coast trail".split())
_NAME_CUES = frozenset({"name", "name's", "names"})  # "her name is Shadow": a pet the recogniser calls an organisation
_PERSON_CUES = frozenset({"sister", "brother", "mom", "dad", "mother", "father", "friend", "wife", "husband", "son", "daughter", "aunt", "uncle", "cousin", "boyfriend", "girlfriend", "partner", "teacher", "boss", "named", "called", "grandma", "grandpa"})
_WORD = re.compile(r"[A-Za-zÀ-ÖØ-öø-ÿ][\w'’-]*")
_NAME_RUN = re.compile(r"[A-ZÀ-Ö][\w'’-]*(?:\s+(?:of|de|da|van|von|the)?\s*[A-ZÀ-Ö][\w'’-]*)*")


@dataclass(frozen=True, slots=True)
class Entity:
    name: str
    kind: str  # person | place | organisation | activity | group | event | work | product | language | thing


@dataclass(frozen=True, slots=True)
class Sentence:
    start: int
    end: int
    text: str
    entities: tuple[Entity, ...] = ()
    keywords: tuple[str, ...] = ()
    times: tuple = ()  # TimeMention from memory.temporal, offsets relative to the turn text
    classes: tuple[tuple[str, str, int], ...] = ()  # (word or name, class lemma, depth): "fishing", "sport", 2


@dataclass(frozen=True)
class Extraction:
    sentences: list[Sentence] = field(default_factory=list)

    @property
    def entities(self) -> set[Entity]:
        return {e for s in self.sentences for e in s.entities}


def extract_many(turns, known: frozenset[str] = frozenset()) -> list[Extraction]:
    """`extract` of each turn, with spaCy run once over the whole batch (the turns' speakers are persons)."""
    persons = frozenset(t.speaker for t in turns)
    parsed = classes.parse([t.text for t in turns])
    return [extract(t.text, t.speaker, t.created_at, known, parsed=p, persons=persons) for t, p in zip(turns, parsed)]


def extract(text: str, speaker: str, anchor: str | datetime | None, known: frozenset[str] = frozenset(), *, parsed=None, persons: frozenset[str] = frozenset()) -> Extraction:
    """Every sentence of a turn with its entities (the speaker always among them), keywords, classes and dates.

    `parsed` is spaCy's reading of the turn (`classes.parse`); without it the rules alone label entities."""
    from hyperloom.memory.temporal import parse_anchor, resolve

    moment = parse_anchor(anchor) if anchor is not None else None
    bounds = sentences(text) or [(0, len(text))]
    persons = persons | {speaker}
    out = []
    for start, end in bounds:
        chunk = text[start:end]
        found = {Entity(speaker, "person")}
        if parsed is None:
            found |= set(entities(chunk, known))
            labelled = ()
        else:
            found |= set(_labelled_entities(chunk, start, parsed, known, persons))
            labelled = _classes(chunk, start, parsed, found)
        times = tuple(_shift(m, start) for m in resolve(chunk, moment)) if chunk else ()
        out.append(Sentence(start, end, chunk, tuple(sorted(found, key=lambda e: e.name)), tuple(dict.fromkeys(terms(chunk))), times, labelled))
    return Extraction(out)


def _labelled_entities(sentence: str, offset: int, parsed, known: frozenset[str], persons: frozenset[str]) -> list[Entity]:
    """The rules' names, and the places the recogniser finds that the rules drop as sentence openers
    ("Sweden was lovely"), each with its merged kind (`_merged_kind`)."""
    end = offset + len(sentence)
    names = [n for n in parsed.names if offset <= n.start and n.end <= end]
    out = []
    for e in entities(sentence, known):
        if e.kind == "activity":
            out.append(e)
            continue
        at = sentence.find(e.name)
        label = next((n.label for n in names if e.name in n.text or n.text in e.name), None)
        out.append(Entity(e.name, _merged_kind(sentence, max(at, 0), e.name, label, persons)))
    seen = {e.name for e in out}
    for n in names:  # a recognised sentence opener is an entity only if WordNet knows it as a place
        name = _clean_name(n.text, initial=False, known=known)
        if name and name not in seen and n.label in ("GPE", "LOC") and classes.is_place(name) and not any(name in s or s in name for s in seen):
            out.append(Entity(name, "place"))
            seen.add(name)
    return list(dict.fromkeys(out))


def _merged_kind(sentence: str, at: int, name: str, label: str | None, persons: frozenset[str]) -> str:
    """Speakers are persons; a quoted or game-, film- or book-cued name is a title; then the rules' name and
    organisation cues, the recogniser's label, WordNet's places, the rules' place cues and their default."""
    if name in persons or name.split()[0] in persons:
        return "person"
    before = {w.lower().strip(",.:;!?\"'“”") for w in sentence[:at].split()[-2:]}
    after = sentence[at + len(name) :].split()[:1]
    if _quoted(sentence, at, name) or before & _WORK_CUES or {w.lower().strip(",.!?") for w in after} & _WORK_CUES:
        return "work"  # "Little Women", "a Valorant tournament", "this game Catan": a title, whatever the recogniser says
    if {w.lower().strip(",.!?") for w in [*after, name.split()[-1]]} & _PLACE_WORDS:
        return "place"  # "the Spree river", "Whispering Falls"
    cue = "person" if before & _NAME_CUES else _cue_kind(sentence, at, name)
    if cue in ("person", "organisation"):
        return cue
    if label != "PERSON" and classes.is_place(name):
        return "place"  # WordNet knows the Douro is a river whatever the recogniser says; a PERSON Jordan stays one
    if label is not None and label != "PERSON" or label == "PERSON" and cue is None:
        return classes.kind_of_label(label) or "thing"
    return cue or _kind(sentence, at, name)


def _quoted(sentence: str, at: int, name: str) -> bool:
    before, after = sentence[:at].rstrip()[-1:], sentence[at + len(name) :][:3]
    return before in ('"', "“", "'", "‘") and any(q in after for q in ('"', "”", "'", "’"))


def _classes(sentence: str, offset: int, parsed, found: set[Entity]) -> tuple[tuple[str, str, int], ...]:
    """(word, class, depth) for the sentence's nouns, gerunds and activities, and for its labelled names."""
    end = offset + len(sentence)
    out: dict[tuple[str, str], int] = {}
    words = {t.text.lower() for t in parsed.nouns if offset <= t.start < end} | {e.name for e in found if e.kind == "activity"}
    for word in words:
        for cls, depth in classes.classes(word):
            out.setdefault((word, cls), depth)
    for e in found:  # the lexicon's activities are activities, whatever WordNet's first sense of "camping" is
        if e.kind == "activity":
            out[(e.name, "activity")] = 1
    for n in parsed.names:
        if offset <= n.start < end:
            name = n.text.removeprefix("the ").removeprefix("The ")
            for cls in classes.LABELS[n.label][1]:
                out.setdefault((name, cls), 1)
            for cls, depth in classes.classes(name, 4, 1):  # Chicago -> city, municipality
                out.setdefault((name, cls), depth)
    return tuple((w, c, d) for (w, c), d in out.items())


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
    return _cue_kind(sentence, at, name) or ("person" if len(name.split()) <= 2 and _looks_like_person(name) else "thing")


def _cue_kind(sentence: str, at: int, name: str) -> str | None:
    """The kind the words around a name say it is ("my sister X", "X University", "in X"), if they say one."""
    before = sentence[:at].split()[-2:]
    cue = {w.lower().strip(",.") for w in before}
    if any(w in _ORG_WORDS for w in name.split()):
        return "organisation"
    if cue & _PERSON_CUES:
        return "person"
    if cue & _PLACE_CUES:
        return "place"
    return None


@lru_cache(maxsize=4096)
def _looks_like_person(name: str) -> bool:
    # Without a gazetteer: one or two plain capitalised words read as a person's name more often than not in chat.
    return all(w[:1].isupper() and w[1:].islower() for w in name.split())
