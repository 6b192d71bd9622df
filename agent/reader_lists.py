"""A list answer: the typed candidates of several evidence sentences, joined with ", ".

"Which cities has Maya lived in?" is answered from more than one turn ("I live in Lisbon now",
"I moved to Porto"), so after the best candidate the reader keeps adding the next best ones
that are items of the asked class (WordNet: Lisbon and Porto are cities, a balcony is not),
said by the person the question is about, each from its own sentence, while they score at
least `ratio` of the best. When the question asks about an attribute memory files as changing
(where someone lives, works) and the evidence states it, only the stated values are items. LoCoMo scores a list against each gold part by its best predicted
part, so a missing item costs more than an extra one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hyperloom.agent.question import Analysis, words
from hyperloom.agent.reader_candidates import Candidate
from hyperloom.agent.reader_features import feature_names
from hyperloom.retrieval.spans import Span

MAX_PARTS = 8  # of a list answer
# A candidate WordNet does not file under the asked class still joins when it scores this share of the best: WordNet
# knows no "weight training". LoCoMo dev LOCO, categories 1-4 F1 (with `_typed_first`): 0.320 with none joining, 0.322 at
# 0.8 or 0.6; keeping a class list to its WordNet members alone costs 0.007 (list questions 0.282 -> 0.237).
UNTYPED = 0.6
# Item types a list can be checked against: the question names a class ("cities", "pets") or a broad type.
TYPED = ("person", "place", "organisation", "title", "activity", "class")

_NAMES = feature_names()
_FIT, _CLASS, _PARENT, _SPEAKER_NAMED, _ATTRIBUTE = (_NAMES.index(n) for n in ("type_fit", "class_match", "class_parent_match", "speaker_named", "asked_attribute"))


def typed(analysis: Analysis, c: Candidate) -> bool:
    """Whether a candidate is an item of what the list asks for: of the focus's WordNet class or its parent when it has
    one (a cello is a musical_instrument, filed under device, the parent of "instrument"'s first sense), else of the broad type."""
    return c.features[_CLASS] > 0 or c.features[_PARENT] > 0 if analysis.classes else c.features[_FIT] > 0


def about_asked(analysis: Analysis, c: Candidate, asked_speaks: bool) -> bool:
    """Said by the person the question names, when that person speaks in the evidence (Maya's cities, not Jonas's)."""
    return not asked_speaks or c.features[_SPEAKER_NAMED] > 0


def join(analysis: Analysis, found: Sequence[Candidate], scores: np.ndarray, order: np.ndarray, ratio: float) -> list[Candidate]:
    """The best candidate and the next ones scoring at least `ratio` of it, one per sentence, none overlapping;
    when the list's items have a type, only candidates of that type said by the person asked about."""
    asked_speaks = any(c.features[_SPEAKER_NAMED] > 0 for c in found)
    order = _typed_first(analysis, found, order, asked_speaks)
    best = found[order[0]]
    chosen = [best]
    if best.kind == "sentence":
        return chosen
    checked = analysis.answer_type in TYPED and typed(analysis, best)
    # The question asks about a changing attribute memory files ("lived in": residence) and the evidence states it:
    # the list is its values ("I live in Lisbon", "I moved to Porto"), not every city mentioned ("a team from Zurich").
    stated = any(c.features[_ATTRIBUTE] > 0 and about_asked(analysis, c, asked_speaks) for c in found)
    seen = {_norm(best.text)}
    for i in order[1:]:
        c = found[i]
        if len(chosen) >= MAX_PARTS or scores[i] < ratio * scores[order[0]]:
            break
        if c.kind == "sentence" or _norm(c.text) in seen or any(c.sentence == p.sentence or _overlaps(c.span, p.span) for p in chosen):
            continue
        if checked and not (typed(analysis, c) and about_asked(analysis, c, asked_speaks)) and scores[i] < UNTYPED * scores[order[0]]:
            continue
        if stated and not c.features[_ATTRIBUTE] > 0:
            continue
        seen.add(_norm(c.text))
        chosen.append(c)
    return chosen


def _typed_first(analysis: Analysis, found: Sequence[Candidate], order: np.ndarray, asked_speaks: bool) -> np.ndarray:
    """A list of a WordNet class leads with its best member said by the person asked about, as a when question leads
    with a date ("Which instruments does Jonas play?": the cello, not "three notes"). LoCoMo dev LOCO, categories 1-4
    F1 0.320 -> 0.322, list questions 0.274 -> 0.282."""
    if not analysis.classes or analysis.answer_type not in TYPED:
        return order
    lead = next((i for i in order if typed(analysis, found[i]) and about_asked(analysis, found[i], asked_speaks)), None)
    return order if lead is None else np.array([lead, *(i for i in order if i != lead)])


def _overlaps(a: Span, b: Span) -> bool:
    return a.turn_id == b.turn_id and a.start < b.end and b.start < a.end


def _norm(text: str) -> str:
    return " ".join(words(text))
