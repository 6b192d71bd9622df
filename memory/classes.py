"""What things are: entity kinds from spaCy's recogniser and classes from WordNet's hypernyms.

A batch of turns is parsed in one spaCy pass (`parse`), tagger and recogniser only (tags and
entity labels are all this needs; 4.5 ms CPU a turn on LoCoMo dev, the rules alone 0.3 ms).
Every noun and activity of a sentence gets the lemmas of its first two senses' hypernyms
up to six levels up (the usual sense is often the second: "turtle"), stopping before WordNet's
uninformative top ("fishing" -> outdoor_sport, sport, diversion, activity; "Chicago" ->
city, municipality), and every recognised name gets the classes of its label (a GPE is a
city, a country or a place). A class question ("which cities", "what kind of pets") names
classes (`asked_classes`); retrieval lifts the facts holding instances of them.

When the pinned spaCy or WordNet files are missing or corrupted, `language()` returns None
once with the reason in `fallback_notice`, and extraction keeps to the rules of extract.py.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

# spaCy label -> the entity kind the hypergraph records, and the classes a question may ask it by.
LABELS = {
    "PERSON": ("person", ("person",)),
    "GPE": ("place", ("city", "country", "state", "place", "location")),
    "LOC": ("place", ("place", "location", "region")),
    "FAC": ("place", ("place", "location", "facility", "building")),
    "ORG": ("organisation", ("organization", "group")),
    "NORP": ("group", ("group", "nationality", "religion")),
    "EVENT": ("event", ("event",)),
    "WORK_OF_ART": ("work", ("work", "title", "creation", "art")),
    "PRODUCT": ("product", ("product", "artifact")),
    "LANGUAGE": ("language", ("language",)),
}
# WordNet synsets whose lemmas say nothing a question asks by ("what entities...", "which objects...").
TOPS = frozenset(
    """entity physical_entity abstraction abstract_entity object physical_object whole unit psychological_feature
    act deed human_action human_activity causal_agent cause causal_agency matter thing group grouping relation
    attribute measure quantity amount instrumentality instrumentation artifact artefact state change action
    organism being living_thing animate_thing content cognitive_content mental_object cognition knowledge noesis
    communication social_group people physical_object""".split()
)
LEVELS = 6  # "fishing" reaches "activity" at 5 (fishing, outdoor_sport, sport, diversion, activity)
SENSES = 2  # the usual sense is often the second ("turtle": turtleneck first, the reptile second)
# Question words that name a class by another word than WordNet's: a dog is a domestic_animal, not a pet.
ASKED_AS = {
    "pet": ("domestic_animal", "animal"), "hobby": ("activity", "sport", "diversion"), "activity": ("activity", "sport", "diversion"),
    "kid": ("person", "child"), "child": ("person", "child"), "place": ("place", "location", "city", "country", "region"),
    "destination": ("place", "location", "city", "country"), "trip": ("place", "city", "country"), "name": ("person",),
}
# Words that look like plural class nouns in a question but ask for no class.
NOT_CLASSES = frozenset("things ways times days years months weeks kinds types sorts lots others plans ideas thoughts feelings".split())
_WORD = re.compile(r"[A-Za-z][A-Za-z'’]*|/")
_KIND_OF = re.compile(r"\b(?:kinds?|types?|sorts?|genres?|forms?)\s+of\s+((?:[a-z]+\s+){0,2}[a-z]+)", re.IGNORECASE)
_WH_NOUN = re.compile(r"\b(what|which)\s+((?:[\w+'’/-]+\s+){0,3}[\w+'’/-]+)", re.IGNORECASE)
# Where the wh-phrase ends: "what activities | does Melanie ...", "what events | for veterans ..."
_AUX = frozenset(
    "is are was were do does did has have had can could would will should might may am be been des "
    "for of with in at to from about on by during after before that which who".split()
)
_ACTIVITY = re.compile(r"\b(activities|hobbies|sports|exercise|workouts?)\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Token:
    start: int
    end: int
    text: str
    tag: str  # Penn tag: NN NNS NNP VBG ...


@dataclass(frozen=True, slots=True)
class Name:
    start: int
    end: int
    text: str
    label: str  # spaCy's label: PERSON GPE LOC ORG ...


@dataclass(frozen=True, slots=True)
class Parsed:
    """What spaCy read in one turn: its nouns and gerunds, and its named entities."""

    nouns: tuple[Token, ...]
    names: tuple[Name, ...]


_lock = threading.Lock()
_state: dict[str, object] = {}
fallback_notice: list[str] = []  # filled once if the language data cannot be loaded


def _pinned():
    from hyperloom.memory.language import spacy_pipeline, wordnet

    return spacy_pipeline(), wordnet()


_loader = _pinned


def language():
    """(spaCy pipeline, WordNet), or None after recording why structured memory keeps to its rules."""
    from hyperloom.memory.language import LanguageDataError

    with _lock:
        if "loaded" not in _state:
            try:
                _state["loaded"] = _loader()
            except LanguageDataError as exc:
                _state["loaded"] = None
                fallback_notice.append(f"{exc} Until then, structured memory labels entities by its rules and files no classes.")
        return _state["loaded"]


def reload(loader=None) -> None:
    """Forget the loaded language data and load it next time with `loader` (default: the pinned packages) —
    for a process that reinstalled them, and for tests of damaged data."""
    global _loader
    with _lock:
        _loader = loader or _pinned
        _state.clear()
        fallback_notice.clear()
    classes.cache_clear()
    asked_classes.cache_clear()


def parse(texts: Sequence[str]) -> list[Parsed | None]:
    """One spaCy pass over a batch of turns; None for each when the language data is unavailable."""
    loaded = language()
    if loaded is None or not texts:
        return [None] * len(texts)
    nlp, _ = loaded
    # Tags and entities only: the parser, the lemmatizer and the attribute ruler (POS from tags) are 40% of the time.
    docs = nlp.pipe([t[:20000] for t in texts], disable=["parser", "lemmatizer", "attribute_ruler"], batch_size=64)
    return [_parsed(doc) for doc in docs]


def _parsed(doc) -> Parsed:
    nouns = tuple(Token(t.idx, t.idx + len(t), t.text, t.tag_) for t in doc if t.tag_ in ("NN", "NNS", "VBG") and t.is_alpha and len(t) > 2)
    names = tuple(Name(e.start_char, e.end_char, e.text, e.label_) for e in doc.ents if e.label_ in LABELS)
    return Parsed(nouns, names)


def kind_of_label(label: str) -> str | None:
    return LABELS[label][0] if label in LABELS else None


@lru_cache(maxsize=65536)
def classes(word: str, levels: int = LEVELS, senses: int = SENSES) -> tuple[tuple[str, int], ...]:
    """(class lemma, depth) of a word's usual senses up to `levels` hypernyms above, below WordNet's top.

    Depth 1 is the sense's hypernym (its own synonyms are not classes of it); a word WordNet does not know has none.
    """
    loaded = language()
    if loaded is None or not word.strip():
        return ()
    net = loaded[1]
    found: dict[str, int] = {}
    for sense in net.synsets(word)[:senses]:
        frontier, seen = [sense], {sense}
        for depth in range(levels):
            kept = [s for s in frontier if not TOPS.intersection(net.lemmas(s))]
            for s in kept if depth else ():
                for lemma in net.lemmas(s):
                    found.setdefault(lemma, depth)
            frontier = [u for s in kept for u in net.hypernyms(s) if u not in seen]
            seen.update(frontier)
    return tuple(found.items())


_PLACES = frozenset("city town country state region geographical_area continent river stream body_of_water lake mountain island park".split())


def is_place(name: str) -> bool:
    """Whether WordNet files the name (as written, capitalised) as an instance of a city, country or region."""
    return any(c in _PLACES for c, d in classes(name, 3, 1) if d > 0)


@lru_cache(maxsize=4096)
def asked_classes(question: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The classes a question asks for ("what outdoor activities" -> ["activity", "sport", ...]) and the
    modifiers that narrow them (["outdoor"]); both empty for a question that asks for no class."""
    heads, modifiers = [], []
    kinds_of = [m.group(1) for m in _KIND_OF.finditer(question)]  # "what kind of music": a class in the singular
    kinds_of += [m.group(2) for m in _WH_NOUN.finditer(question) if m.group(1).lower() == "which"]  # "which city"
    phrases = kinds_of + [m.group(2) for m in _WH_NOUN.finditer(question)]
    phrases += [m.group(1) for m in _ACTIVITY.finditer(question)]
    for phrase in phrases:
        words = [w.lower() for w in _WORD.findall(phrase)]
        words = words[: next((i for i, w in enumerate(words) if w in _AUX or w == "/"), len(words))]  # "artists/bands": the first
        if not words or words[-1] in NOT_CLASSES or not (words[-1].endswith("s") or phrase in kinds_of):
            continue
        head = _base(words[-1])
        if head is None:
            continue
        heads += [head, *ASKED_AS.get(head, ())]
        modifiers += [w for w in words[:-1] if w not in ("of", "the", "a", "an", "kind", "kinds", "type", "types", "does", "did", "do", "has", "have")]
    return tuple(dict.fromkeys(heads)), tuple(dict.fromkeys(modifiers))


def _base(word: str) -> str | None:
    """The WordNet lemma of a (plural) noun, or None when WordNet has no noun of that spelling."""
    loaded = language()
    if loaded is None:
        return word.removesuffix("s") or None
    return loaded[1].base_form(word)
