"""The Qdrant backend in embedded mode: same answers as exact FAISS, same conventions for missing hits."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("qdrant_client")

from rag.index.vectors.faiss_index import build_vector_index  # noqa: E402
from rag.index.vectors.qdrant_index import QdrantIndex  # noqa: E402


def unit_vectors(n: int, dimension: int = 32, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((n, dimension)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_qdrant_ranks_like_exact_faiss() -> None:
    vectors, queries = unit_vectors(300), unit_vectors(10, seed=1)
    qdrant = QdrantIndex(32, "test")
    qdrant.add(vectors)
    flat = build_vector_index("flat", 32, 300)
    flat.add(vectors)
    q_scores, q_ids = qdrant.search(queries, 5)
    f_scores, f_ids = flat.search(queries, 5)
    assert np.array_equal(q_ids, f_ids)
    assert np.allclose(q_scores, f_scores, atol=1e-5)


def test_hits_past_the_collection_size_have_id_minus_one() -> None:
    qdrant = QdrantIndex(32, "small")
    qdrant.add(unit_vectors(3))
    _, ids = qdrant.search(unit_vectors(1, seed=2), 5)
    assert sorted(ids[0, :3].tolist()) == [0, 1, 2]
    assert ids[0, 3:].tolist() == [-1, -1]


def test_rows_added_later_continue_the_numbering() -> None:
    vectors = unit_vectors(10)
    qdrant = QdrantIndex(32, "grow")
    qdrant.add(vectors[:6])
    qdrant.add(vectors[6:])
    _, ids = qdrant.search(vectors[8:9], 1)
    assert len(qdrant) == 10 and ids[0, 0] == 8


def test_ensure_rebuilds_a_missing_collection_from_the_vectors() -> None:
    vectors = unit_vectors(20)
    qdrant = QdrantIndex(32, "fresh").ensure(vectors)
    _, ids = qdrant.search(vectors[:2], 1)
    assert len(qdrant) == 20 and ids[:, 0].tolist() == [0, 1]


def test_wrong_vector_width_is_refused() -> None:
    with pytest.raises(ValueError, match="shape"):
        QdrantIndex(32, "bad").add(unit_vectors(2, dimension=16))
