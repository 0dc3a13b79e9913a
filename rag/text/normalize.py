"""Text folds, each named for what it keeps: the forms that text is compared in across the pipeline."""

from __future__ import annotations

import unicodedata


def fold_case_and_accents(text: str) -> str:
    """Lower case, typographic apostrophe unified, accents dropped: "Délégation’s" -> "delegation's".

    How the answerer compares a question's names and words with a release, whatever accents either writes."""
    text = unicodedata.normalize("NFKD", text.replace("’", "'").casefold())
    return "".join(ch for ch in text if not unicodedata.combining(ch))


def fold_case_keep_accents(text: str) -> str:
    """Lower case and single spaces, accents kept, apostrophes unified: the form an LLM's quote is checked in,
    so that a quote must match its passage letter for letter."""
    text = unicodedata.normalize("NFC", text).replace("’", "'").replace("‘", "'")
    return " ".join(text.casefold().split())


def fold_case_for_stemming(text: str) -> str:
    """Lower case, compatibility forms (ligatures, full-width letters) unified, apostrophes unified, accents
    kept: the stemmers need the accents, which are dropped after stemming."""
    return unicodedata.normalize("NFKC", text).replace("’", "'").replace("ʼ", "'").casefold()


def strip_accents(word: str) -> str:
    """The word without combining marks, case kept."""
    return "".join(ch for ch in unicodedata.normalize("NFD", word) if not unicodedata.combining(ch))
