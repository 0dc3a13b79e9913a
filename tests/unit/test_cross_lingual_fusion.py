"""Hybrid fusion when the question's language differs from the corpus's: the dense ranking leads."""

from __future__ import annotations

import numpy as np
import pytest

from rag.assistant import Assistant
from rag.retrieve.hybrid import HybridRetriever
from rag.text.lexicon import build_lexicon

DENSE_POOL = 30
LEXICAL_ONLY_HIT = 20  # dense rank 21: far down, but first for BM25


@pytest.fixture
def retriever(fake_assistant: Assistant, monkeypatch: pytest.MonkeyPatch) -> HybridRetriever:
    retriever = fake_assistant._state.retriever
    assert len(retriever.stored.chunks) > DENSE_POOL
    dense = list(range(DENSE_POOL))
    lexical = [LEXICAL_ONLY_HIT, *[r for r in range(DENSE_POOL, len(retriever.stored.chunks))][:5]]
    monkeypatch.setattr(retriever, "dense_ranking", lambda vector, depth: (dense[:depth], np.zeros(depth)))
    monkeypatch.setattr(retriever, "lexical_ranking",
                        lambda question, lang, depth, translated=None: (lexical, np.zeros(len(lexical))))
    return retriever


def top_rows(retriever: HybridRetriever, lang: str, top_k: int) -> list[int]:
    chunk_rows = {c.chunk_id: row for row, c in enumerate(retriever.stored.chunks)}
    ranked = retriever.retrieve("question", np.zeros(4, dtype=np.float32), lang, "hybrid", top_k)
    return [chunk_rows[p.chunk.chunk_id] for p in ranked]


def test_same_language_lexical_first_place_lifts_a_passage_to_the_top(retriever: HybridRetriever) -> None:
    assert retriever.corpus_lang == "fr"
    assert top_rows(retriever, "fr", 1) == [LEXICAL_ONLY_HIT]


def test_cross_lingual_lexical_first_place_does_not_overtake_the_dense_top_passages(
        retriever: HybridRetriever) -> None:
    assert top_rows(retriever, "en", 5) == [0, 1, 2, 3, 4]


def test_cross_lingual_lexical_first_place_still_lifts_a_passage_some_way(retriever: HybridRetriever) -> None:
    rows = top_rows(retriever, "en", DENSE_POOL)
    assert rows.index(LEXICAL_ONLY_HIT) < LEXICAL_ONLY_HIT



def test_a_translated_question_gives_the_lexical_ranking_more_weight(retriever: HybridRetriever) -> None:
    # "question" is translated, so BM25 searched the French words: its first place now counts.
    retriever.lexicon = lambda: build_lexicon([("question", "en", "question", "fr")])
    assert retriever.translated_query("question", "en") is not None
    assert LEXICAL_ONLY_HIT in top_rows(retriever, "en", 5)
