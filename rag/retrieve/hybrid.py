"""Dense, lexical and hybrid passage retrieval over a loaded index."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np

from rag.index.store import StoredIndex
from rag.retrieve.bm25 import BM25Index
from rag.schema import ScoredChunk
from rag.text.lexicon import Lexicon
from rag.text.stems import tokenize

# How much the lexical ranking counts in fusion when the question's language differs from the passage's:
# French BM25 sees only names and numbers of an English question, so its ranking is mostly noise: at 0.15 a
# lexical first place lifts a passage about ten dense places, not past the dense top few (eval: 0 to 0.2 all
# beat 0.3 on EN recall@1; 0 loses answers; feeding BM25 the dense top passages' terms did no better).
CROSS_LINGUAL_LEXICAL_WEIGHT = 0.15
# With the question's words translated (rag/text/lexicon.py), the lexical ranking counts twice as much (tune,
# English: recall@1 0.761 -> 0.804 at 0.3 to 1.0; cross-validated answers 0.783 at 0.3 against 0.772 at 1.0).
TRANSLATED_LEXICAL_WEIGHT = 0.3


def top_rows(scores: np.ndarray, depth: int) -> np.ndarray:
    """Rows of the `depth` highest scores, best first, ties by row: the order a full stable argsort gives,
    at the cost of a partition (a full sort of a million BM25 scores took four times longer)."""
    if depth <= 0:
        return np.zeros(0, dtype=np.int64)
    if depth >= len(scores):
        return np.argsort(-scores, kind="stable")
    threshold = np.partition(scores, len(scores) - depth)[len(scores) - depth]
    # Every row that ties with the cut-off competes, so the lowest-numbered ones win as in a stable sort.
    chosen = np.flatnonzero(scores >= threshold)
    return chosen[np.argsort(-scores[chosen], kind="stable")][:depth]


def reciprocal_rank_fusion(rankings: Sequence[tuple[Sequence[int], float]], k: int) -> dict[int, float]:
    """sum(weight / (k + rank)) over the rankings each row appears in (rank starts at 1)."""
    fused: dict[int, float] = {}
    for ranking, weight in rankings:
        for rank, row in enumerate(ranking, start=1):
            fused[row] = fused.get(row, 0.0) + weight / (k + rank)
    return fused


class HybridRetriever:
    """Ranks the chunks of one StoredIndex; the query vector is computed once by the caller."""

    def __init__(self, stored: StoredIndex, candidate_pool: int = 30, rrf_k: int = 60,
                 sentence_weight: float = 0.0, lexicon: Callable[[], Lexicon] | None = None) -> None:
        """`lexicon` gives the French-English lexicon when a question's language is not the corpus's (loaded
        on the first such question)."""
        self.stored = stored
        self.lexicon = lexicon
        self.candidate_pool = candidate_pool
        self.rrf_k = rrf_k
        self.sentence_weight = sentence_weight
        # (chunk row, sentence row) pairs for every sentence that overlaps a chunk.
        pairs = [(chunk_row, row) for chunk_row, rows in enumerate(stored.sentence_rows_by_chunk) for row in rows]
        self._pair_chunks = np.array([p[0] for p in pairs], dtype=np.int64)
        self._pair_sentences = np.array([p[1] for p in pairs], dtype=np.int64)
        langs = [stored.documents[c.doc_id].lang for c in stored.chunks]
        self.corpus_lang = Counter(langs).most_common(1)[0][0] if langs else "fr"
        self.bm25 = BM25Index([c.text for c in stored.chunks], langs)

    def dense_ranking(self, query_vector: np.ndarray, depth: int) -> tuple[list[int], np.ndarray]:
        if self.sentence_weight <= 0 or not len(self._pair_chunks):
            scores, ids = self.stored.vector_index.search(query_vector[None, :], depth)
            rows = [int(i) for i in ids[0] if i >= 0]
            return rows, scores[0][: len(rows)]
        # A passage is as good as its best sentence, blended with the passage as a whole: the answer
        # sentence can be found even when the rest of the passage is about something else.
        chunk_scores = self.stored.chunk_vectors @ query_vector
        sentence_scores = self.stored.sentence_vectors @ query_vector
        best_sentence = np.full(len(chunk_scores), -1.0, dtype=np.float32)
        np.maximum.at(best_sentence, self._pair_chunks, sentence_scores[self._pair_sentences])
        blended = (1 - self.sentence_weight) * chunk_scores + self.sentence_weight * best_sentence
        order = top_rows(blended, depth)
        return [int(i) for i in order], blended[order]

    def translated_query(self, question: str, lang: str) -> list[str] | None:
        """The question's stems and, for a question in another language than the corpus, the stems of its
        words' translations in the corpus's language; None when there is no lexicon for that pair."""
        if lang == self.corpus_lang or self.lexicon is None:
            return None
        lexicon = self.lexicon()
        stems = tokenize(question, lang)
        translated = lexicon.translations(stems, lang, self.corpus_lang)
        if not translated:
            return None
        return stems + sorted({t for ts in translated.values() for t in ts})

    def lexical_ranking(self, question: str, lang: str, depth: int,
                        translated: list[str] | None = None) -> tuple[list[int], np.ndarray]:
        scores = self.bm25.scores(question, lang) if translated is None else self.bm25.scores_of_stems(translated)
        order = top_rows(scores, depth)
        rows = [int(i) for i in order if scores[i] > 0]
        return rows, scores[rows]

    def retrieve(
        self, question: str, query_vector: np.ndarray, lang: str, mode: str, top_k: int
    ) -> list[ScoredChunk]:
        depth = max(self.candidate_pool, top_k)
        chunks = self.stored.chunks
        if mode == "dense":
            rows, scores = self.dense_ranking(query_vector, depth)
            ranked = enumerate(zip(rows, scores))
            return [ScoredChunk(chunks[r], float(s), dense_rank=i + 1) for i, (r, s) in ranked][:top_k]
        if mode == "lexical":
            rows, scores = self.lexical_ranking(question, lang, depth, self.translated_query(question, lang))
            ranked = enumerate(zip(rows, scores))
            return [ScoredChunk(chunks[r], float(s), lexical_rank=i + 1) for i, (r, s) in ranked][:top_k]
        dense_rows, _ = self.dense_ranking(query_vector, depth)
        translated = self.translated_query(question, lang)
        lexical_rows, _ = self.lexical_ranking(question, lang, depth, translated)
        lexical_weight = (1.0 if lang == self.corpus_lang else
                          CROSS_LINGUAL_LEXICAL_WEIGHT if translated is None else TRANSLATED_LEXICAL_WEIGHT)
        fused = reciprocal_rank_fusion([(dense_rows, 1.0), (lexical_rows, lexical_weight)], self.rrf_k)
        dense_rank = {r: i + 1 for i, r in enumerate(dense_rows)}
        lexical_rank = {r: i + 1 for i, r in enumerate(lexical_rows)}
        best = sorted(fused, key=lambda r: (-fused[r], dense_rank.get(r, depth + 1)))[:top_k]
        return [ScoredChunk(chunks[r], fused[r], dense_rank.get(r), lexical_rank.get(r)) for r in best]
