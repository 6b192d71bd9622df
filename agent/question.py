"""Question analysis for the reader: what kind of answer a question asks for (RESEARCH.md section 10).

The expected answer type comes from the wh-word and the question's focus noun, in the TREC QA
tradition: "who" asks for a person, "when" for a date, "how many" for a number, and "what
instrument" for anything WordNet files under the focus noun's senses (a cello is a
musical_instrument), with the broad classes (people, places, organisations, times, works,
activities) read off WordNet's hypernyms too rather than off a hand list. A plural focus
("what activities", "which cities") asks for a list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from hyperloom.agent.nlp import spacy_pipeline, wordnet

# Broad classes, each as WordNet 3.0 lemmas whose first noun sense is the class (looked up at run time).
_BROAD = (
    ("person", ("person", "people")),
    ("place", ("location", "region", "structure", "area", "geographic_point", "establishment")),
    ("organisation", ("organization", "institution", "company", "team")),
    ("date", ("time_period", "time_unit", "calendar_day", "date", "month", "year", "season")),
    ("title", ("publication", "movie", "show", "song", "musical_composition", "game", "work", "album", "written_communication", "broadcast", "work_of_art")),
    ("activity", ("activity", "act", "sport", "hobby", "diversion", "exercise", "recreation")),
)
_REASONS = {"reason", "reasons", "cause", "motivation", "purpose"}  # "what is X's reason for ...": a why question
_GENERIC_FOCUS = {"thing", "things", "kind", "kinds", "type", "types", "sort", "sorts", "way", "ways", "something", "stuff", "one", "ones", "lot", "name"}
_BE = {"is", "are", "was", "were"}
_AUX = {"is", "are", "was", "were", "do", "does", "did", "can", "could", "would", "will", "has", "have", "had", "should", "may", "might", "shall", "am"}
_STOP = frozenset(
    "a an the of to in on at for with by from about as into and or but is are was were be been being do does did has have had "
    "what when where who whom whose which why how i you he she it we they me him her us them my your his its our their this that "
    "these those there here not no yes can could would will should may might shall am any some ever also just so than then".split()
)
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)
# "What does Jon do?", "What do Andrew and Buddy like doing on walks?": an activity
_DO = re.compile(r"^\s*what (?:does|did|do|is|was|are|were|has|had|have) \S+(?: \S+){0,3}? (?:do|doing|done|(?:like|love|enjoy|prefer)s? (?:to do|doing))\b", re.IGNORECASE)
_TITLE = re.compile(r"\b(books?|novels?|movies?|films?|games?|songs?|shows?|series|albums?|titles?|paintings?|poems?|bands?|artists?)\b", re.IGNORECASE)
_NAME = re.compile(r"\b(name|called|named)\b", re.IGNORECASE)
_LIST_WORDS = re.compile(r"\b(both|all|ever|items|things|activities|ways|kinds|types)\b", re.IGNORECASE)
# "What has John cooked?", "Where has Maria made friends?": what happened over time, usually several things
_SO_FAR = re.compile(r"^\s*(what|where|who|which \w+) (has|have) \w+", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Analysis:
    """What the reader needs to know about a question."""

    text: str
    answer_type: str  # person place organisation date number duration title activity class yesno reason manner description text
    is_list: bool
    focus: str | None  # the focus noun's lemma ("instrument"), if any
    classes: tuple[int, ...]  # WordNet synsets of the focus noun (for "class" questions)
    words: frozenset[str]  # the question's content lemmas, lowercased
    verb: str | None  # the question's main content verb lemma
    named: tuple[str, ...]  # proper names the question mentions
    wh_role: str | None = None  # the wh-word's dependency relation ("who teaches" -> nsubj, "what did X make" -> dobj)

    @property
    def label(self) -> str:
        """The answer type as the Reading reports it: "class:<focus>", "list:<item type>", or the type."""
        kind = f"class:{self.focus}" if self.answer_type == "class" else self.answer_type
        return f"list:{kind}" if self.is_list else kind


_NOW = re.compile(r"\b(now|currently|these days|at the moment|nowadays|still)\b", re.IGNORECASE)


def over_time(analysis: Analysis) -> bool:
    """Whether the question asks for what has been true over time ("Which cities has Maya lived in?"), so that a
    fact a later one replaced is one of its items, not stale ("Where does Maya live now?")."""
    return analysis.is_list and not _NOW.search(analysis.text)


def keeps_replaced(question: str) -> bool:
    """Whether evidence a later fact replaced still answers the question: it asks about before ("where did Maya
    live before Porto?") or over time; "where does Maya live now?" does not."""
    from hyperloom.retrieval.associative import PAST

    return bool(PAST.search(question)) or over_time(analyse(question))


def words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def content_words(text: str) -> set[str]:
    return {w for w in words(text) if w not in _STOP}


def is_english(question: str) -> bool:
    """Whether the reader can read the question: at least half of its words, names aside, are English function
    words (spaCy's stop list) or WordNet nouns. "Wo wohnt Maya?" is not; a question of names only is given the benefit."""
    from spacy.lang.en.stop_words import STOP_WORDS

    from hyperloom.agent.nlp import wordnet

    found = [re.split(r"['’]", w)[0] for w in _WORD.findall(question)]  # "what's" -> what
    said = [w.lower() for w in found if w.lower() in STOP_WORDS or not w[:1].isupper()]  # a capital word not a function word: a name
    known = sum(w in STOP_WORDS or bool(wordnet().synsets(w)) for w in said)
    return not said or known * 2 >= len(said)


@lru_cache(maxsize=4096)
def analyse(question: str) -> Analysis:
    """The expected answer of one question (a single question: split compound ones first)."""
    text = " ".join(question.split())[:1000]  # the type is in the first words; a 10,000-character question is cut
    if not words(text):
        return Analysis(text, "text", False, None, (), frozenset(), None, ())
    doc = next(spacy_pipeline().pipe([text], disable=["ner"]))  # names are read off the tags; the recogniser is half the time
    lemmas = frozenset(t.lemma_.lower() for t in doc if t.is_alpha and t.lemma_.lower() not in _STOP) | content_words(text)
    named = tuple(dict.fromkeys(t.text for t in doc if t.pos_ == "PROPN" and t.is_alpha and t.text[0].isupper()))
    focus_token, of_kind = _focus(doc)
    focus = (focus_token.lower_ if focus_token.tag_ == "VBG" else focus_token.lemma_.lower()) if focus_token is not None else None  # "frosting"
    kind, classes = _type(text, doc, focus)
    if of_kind and kind not in ("person", "place", "organisation", "class"):  # "what type of date": a kind of date, not a day
        kind = "class"
    plural = focus_token is not None and focus_token.tag_ in ("NNS", "NNPS")
    listed = bool(_LIST_WORDS.search(text) or _SO_FAR.match(text))
    is_list = kind not in ("date", "number", "duration", "yesno", "reason") and (plural or listed and kind in ("activity", "class", "text", "place", "title", "person", "manner"))
    verb = next((t.lemma_.lower() for t in doc if t.pos_ == "VERB" and t.lemma_.lower() not in _AUX), None)
    if verb is None:  # "What did John host ...?": the parser took the verb for a noun
        verb = next((t.lemma_.lower() for t in doc if t.dep_ == "ROOT" and t.pos_ in ("NOUN", "VERB") and t.lower_ not in _AUX and t is not focus_token), None)
    wh = next((t for t in doc if t.lower_ in ("what", "who", "whom", "which", "whose")), None)
    wh_role = (wh.head.dep_ if wh.dep_ == "det" else wh.dep_) if wh is not None else None
    return Analysis(text, kind, is_list, focus, classes, lemmas, verb, named, wh_role)


def _focus(doc):
    """The noun the wh-word asks about ("what instrument", "which pet", "what kind of music", "what is X's job"),
    and whether it came after "kind of" / "type of"."""
    tokens = [t for t in doc if not t.is_punct]
    if not tokens or tokens[0].lower_ not in ("what", "which", "whose") and not (len(tokens) > 1 and tokens[1].lower_ in ("what", "which")):
        return None, False
    start = 0 if tokens[0].lower_ in ("what", "which", "whose") else 1
    rest = tokens[start + 1 :]
    # what/which [adjectives] NOUN ...
    for t in rest[:4]:
        if t.tag_ in ("NNP", "NNPS"):
            continue  # "which US cities"
        if t.pos_ in ("NOUN", "PROPN"):
            t = _head_noun(t)
            if t.lower_ in _GENERIC_FOCUS:
                nxt = [u for u in t.rights if u.dep_ == "prep"]
                obj = [v for u in nxt for v in u.children if v.dep_ == "pobj" and (v.pos_ == "NOUN" or v.tag_ in ("VBG", "NN"))]
                if obj and obj[0].lower_ not in _GENERIC_FOCUS:
                    return obj[0], True
                if t.lower_ in ("things", "ways", "kinds", "types"):
                    return t, False
                continue
            return t, False
        if t.pos_ not in ("ADJ", "DET", "NUM", "ADV") and t.dep_ != "amod":
            break
    # what is/was [X's] NOUN: the attribute asked for — not "what did X find for her store", not "what was X's audition for"
    stranded = tokens[-1].pos_ == "ADP" and not any(c.dep_ == "pobj" for c in tokens[-1].children)
    if rest and rest[0].lower_ in _BE and not stranded:
        for t in rest[1:6]:
            if t.pos_ in ("VERB", "AUX"):
                break
            if t.pos_ == "NOUN" and t.dep_ in ("attr", "nsubj", "nsubjpass", "dobj", "ROOT", "appos", "compound") and t.lower_ not in _GENERIC_FOCUS:
                return _head_noun(t), False
    return None, False


def _head_noun(token):
    while token.dep_ == "compound" and token.head.pos_ == "NOUN":
        token = token.head
    return token


def _type(text: str, doc, focus: str | None) -> tuple[str, tuple[int, ...]]:
    low = text.lower().lstrip("¿¡\"' ")
    first = low.split()[0] if low.split() else ""
    if re.match(r"(when|what (date|day|year|month|time)|which (date|day|year|month))\b", low) or "how long ago" in low:
        return "date", ()
    if re.match(r"how (many|much)\b", low):
        return "number", ()
    if re.match(r"how (long|old|often|far)\b", low):
        return "duration", ()
    if first in ("who", "whom", "whose"):
        if re.match(r"(?i:who) (?i:is|was|are) [A-Z]", text.lstrip()) and len(words(text)) <= 4:
            return "description", ()
        return "person", ()
    if first == "where":
        return "place", ()
    if first == "why":
        return "reason", ()
    if first == "how":
        return "manner", ()
    if first in _AUX:
        return "yesno", ()
    if _DO.match(low):
        return "activity", ()
    if _TITLE.search(low) and (_NAME.search(low) or re.match(r"(what|which) (\w+ ){0,2}(books?|novels?|movies?|films?|songs?|shows?|series|albums?|games?|paintings?|poems?)\b", low)):
        return "title", ()
    if focus and _NAME.search(low) and focus in ("name",):
        return "text", ()
    if focus:
        return _focus_type(focus)
    return "text", ()


def _focus_type(focus: str) -> tuple[str, tuple[int, ...]]:
    if focus in _REASONS:
        return "reason", ()
    net = wordnet()
    senses = net.synsets(focus)[:2]
    if not senses:
        return "class", ()
    first = net.ancestors(senses[0])
    if first & broad_classes("place") or first & broad_classes("organisation") and any(net.ancestors(s) & broad_classes("place") for s in senses):
        return "place", tuple(senses)  # "country": a nation (first sense) or its land; not "goal" (second sense: a place on a field)
    for kind, _ in _BROAD:
        if net.ancestors(senses[0]) & broad_classes(kind):
            return kind, tuple(senses)
    # A class question also admits the focus's parent class: "which pet" -> a dog is an animal, not a pet in WordNet.
    return "class", tuple(senses)


@lru_cache(maxsize=16)
def broad_classes(kind: str) -> frozenset[int]:
    """The WordNet synsets that stand for one broad answer type (the first sense of each of its lemmas)."""
    net = wordnet()
    lemmas = dict(_BROAD).get(kind, ())
    return frozenset(s for lemma in lemmas for s in net.synsets(lemma)[:1])
