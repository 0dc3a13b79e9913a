"""FAISS index kinds: the auto rule, what each kind finds, and what survives a save and load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rag.index.vectors import faiss_index
from rag.index.vectors.faiss_index import INDEX_KINDS, FaissIndex, build_vector_index, choose_index_kind, ivf_lists


def unit_vectors(n: int, dimension: int = 64, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((n, dimension)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_auto_builds_exact_search_for_small_corpora_and_ivf_for_large_ones() -> None:
    assert choose_index_kind(33) == "flat"
    assert choose_index_kind(faiss_index.AUTO_FLAT_BELOW - 1) == "flat"
    assert choose_index_kind(faiss_index.AUTO_FLAT_BELOW) == "ivf"
    assert choose_index_kind(1_000_000) == "ivf"


def test_auto_resolves_to_a_concrete_kind() -> None:
    assert build_vector_index("auto", 64, 100).kind == "flat"


@pytest.mark.parametrize("kind", INDEX_KINDS)
def test_every_kind_finds_each_indexed_vector_among_its_nearest(kind: str) -> None:
    vectors = unit_vectors(3000)
    index = build_vector_index(kind, 64, len(vectors))
    index.add(vectors)
    _, ids = index.search(vectors[:50], 5)
    assert len(index) == 3000
    assert np.mean([row in found for row, found in enumerate(ids)]) >= 0.9


@pytest.mark.parametrize("kind", INDEX_KINDS)
def test_every_kind_works_on_a_corpus_as_small_as_the_bundled_one(kind: str) -> None:
    vectors = unit_vectors(33)
    index = build_vector_index(kind, 64, len(vectors))
    index.add(vectors)
    scores, ids = index.search(vectors[:3], 5)
    assert ids.shape == (3, 5) and scores.shape == (3, 5)
    assert list(ids[:, 0]) == [0, 1, 2]


@pytest.mark.parametrize("kind", INDEX_KINDS)
def test_a_saved_index_loads_back_with_its_kind_and_search_settings(kind: str, tmp_path: Path) -> None:
    vectors = unit_vectors(2000)
    index = build_vector_index(kind, 64, len(vectors))
    index.add(vectors)
    index.save(tmp_path / "vectors.faiss")
    loaded = FaissIndex.load(tmp_path / "vectors.faiss")
    assert (loaded.kind, loaded.params, len(loaded)) == (kind, index.params, 2000)
    assert np.array_equal(loaded.search(vectors[:5], 3)[1], index.search(vectors[:5], 3)[1])


def test_ivf_cells_grow_with_the_square_root_of_the_corpus() -> None:
    assert ivf_lists(1_000_000) == 2000
    assert ivf_lists(100_000) == 632
    assert ivf_lists(33) == 1


def test_an_unknown_kind_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match="hnsw"):
        build_vector_index("annoy", 64, 10)


def test_search_asking_for_more_than_the_corpus_returns_what_there_is() -> None:
    index = build_vector_index("flat", 64, 3)
    index.add(unit_vectors(3))
    _, ids = index.search(unit_vectors(1, seed=1), 10)
    assert sorted(ids[0].tolist()) == [0, 1, 2]


def test_ivf_probes_grow_with_the_cells_as_the_benchmark_required() -> None:
    from rag.index.vectors.faiss_index import ivf_probes
    assert ivf_probes(ivf_lists(100_000)) == 64      # 632 cells: 64 probes gave recall@10 0.969
    assert ivf_probes(ivf_lists(1_000_000)) == 128   # 2,000 cells: 64 gave 0.944, 128 gave 0.972
    assert ivf_probes(10) == 10                      # never more probes than cells
    assert all(ivf_probes(n) <= ivf_probes(n + 500) for n in range(1, 20_000, 500))
