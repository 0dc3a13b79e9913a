"""BM25 over the passages, with language-aware stemming, as the lexical side of hybrid retrieval."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Sequence
from functools import lru_cache

import bm25s
import numpy as np
import Stemmer

from rag.text.normalize import fold_case_for_stemming, strip_accents

# bm25s sets its own logger to DEBUG when imported, which overrides the level the application chose (rag -q
# printed "DEBUG bm25s: Building index from IDs objects"); leave the level to the application's root logger.
logging.getLogger("bm25s").setLevel(logging.NOTSET)

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


class BM25Index:
    """bm25s over pre-tokenised passages; each passage is stemmed in its own document's language."""

    def __init__(self, texts: Sequence[str], langs: Sequence[str]) -> None:
        self._lock = threading.Lock()
        self._retriever = bm25s.BM25()
        corpus_tokens = [tokenize(t, lang) for t, lang in zip(texts, langs)]
        self._size = len(corpus_tokens)
        vocab: dict[str, int] = {}
        ids = [[vocab.setdefault(tok, len(vocab)) for tok in doc] for doc in corpus_tokens]
        self._vocab = vocab
        self._retriever.index(bm25s.tokenization.Tokenized(ids=ids, vocab=vocab), show_progress=False)

    def __len__(self) -> int:
        return self._size

    def scores(self, query: str, lang: str) -> np.ndarray:
        """BM25 score of every passage for the query (zeros when no query word is known)."""
        return self.scores_of_stems(tokenize(query, lang))

    def scores_of_stems(self, stems: Sequence[str]) -> np.ndarray:
        """BM25 score of every passage for already stemmed query words."""
        tokens = [t for t in stems if t in self._vocab]
        if not tokens or not self._size:
            return np.zeros(self._size, dtype=np.float32)
        with self._lock:
            return np.asarray(self._retriever.get_scores(tokens), dtype=np.float32)
