"""The reader's language layer: re-exported from `memory/language.py`, where extraction reads it too
(memory never imports agent)."""

from hyperloom.memory.language import (  # noqa: F401
    INSTALL,
    SPACY_DIR,
    SPACY_FILES,
    SPACY_PACKAGE,
    WORDNET_DIR,
    WORDNET_FILES,
    WORDNET_PACKAGE,
    LanguageDataError,
    WordNet,
    package_dir,
    spacy_pipeline,
    verified_dir,
    wordnet,
)
