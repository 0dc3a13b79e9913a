"""Words as the lexical side compares them: folded to lower case, French elisions removed, stemmed with the
Snowball stemmer of their language (BM25, the answerer's word overlap and the French-English lexicon)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

import Stemmer

from rag.text.normalize import fold_case_for_stemming, strip_accents

_WORD = re.compile(r"[^\W_]+(?:[-'][^\W_]+)*", re.UNICODE)
_ELISION = re.compile(r"^(?:l|d|j|m|n|s|t|c|qu|jusqu|lorsqu|puisqu)'", re.IGNORECASE)
_STEMMER_NAMES = {"fr": "french", "en": "english", "de": "german", "es": "spanish", "it": "italian"}


@lru_cache(maxsize=8)
def _stemmer(lang: str) -> Stemmer.Stemmer | None:
    name = _STEMMER_NAMES.get(lang)
    return Stemmer.Stemmer(name) if name else None


def _words(text: str) -> list[str]:
    """Words folded to lower case, French elisions (l', d', qu') removed."""
    return [w for w in (_ELISION.sub("", w) for w in _WORD.findall(fold_case_for_stemming(text))) if w]


def _stems(words: list[str], lang: str) -> list[str]:
    stemmer = _stemmer(lang)
    # Accents are stripped after stemming: English questions often write French names without them.
    return [strip_accents(s) for s in (stemmer.stemWords(words) if stemmer else words)]


def tokenize(text: str, lang: str) -> list[str]:
    """The text's words, stemmed for its language."""
    return _stems(_words(text), lang)


def tokenize_many(texts: Sequence[str], lang: str) -> list[list[str]]:
    """`tokenize` of each text, stemming every distinct word once (for tens of thousands of short texts)."""
    words = [_words(t) for t in texts]
    distinct = sorted({w for ws in words for w in ws})
    stem_of = dict(zip(distinct, _stems(distinct, lang)))
    return [[stem_of[w] for w in ws] for ws in words]
