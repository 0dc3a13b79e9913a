"""BM25 over the passages, with language-aware stemming, as the lexical side of hybrid retrieval."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

import bm25s
import numpy as np

from rag.text.stems import tokenize

# bm25s sets its own logger to DEBUG when imported, which overrides the level the application chose (rag -q
# printed "DEBUG bm25s: Building index from IDs objects"); leave the level to the application's root logger.
logging.getLogger("bm25s").setLevel(logging.NOTSET)


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
