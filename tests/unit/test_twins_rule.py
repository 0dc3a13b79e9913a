"""The twin rule (rag.index.twins) on hand-made sentence vectors: what links two releases and what does not."""

from __future__ import annotations

import numpy as np
import pytest

from rag.config import RagConfig
from rag.index import build
from rag.index.store import load_generation
from rag.index.twins import align, find_twins, twins_from_manifest
from rag.schema import Document, Sentence
from tests.fakes import HashingEmbedder

RNG = np.random.default_rng(7)
DIM = 64
# Every sentence shares a component, as releases on NATO meetings share a vocabulary: cosines between
# unrelated sentences sit high, as they do with the real model.
SHARED = RNG.normal(size=DIM)


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def _release_vectors(n: int) -> np.ndarray:
    return _unit(2.0 * SHARED + RNG.normal(size=(n, DIM)))


def _translation_of(vectors: np.ndarray) -> np.ndarray:
    return _unit(vectors + 0.03 * RNG.normal(size=vectors.shape))


def _doc(doc_id: str, lang: str, date: str | None) -> Document:
    return Document(doc_id, f"{doc_id}.txt", doc_id, date, lang, "text", doc_id)


def _corpus(releases: list[tuple[Document, np.ndarray]]) -> tuple[list[Document], list[Sentence], np.ndarray]:
    sentences = [Sentence(i, doc.doc_id, f"{doc.doc_id}#0", "s", 0, 1)
                 for doc, vectors in releases for i in range(len(vectors))]
    return [d for d, _ in releases], sentences, np.vstack([v for _, v in releases])


def test_a_release_and_its_translation_of_the_same_day_are_twins() -> None:
    french = _release_vectors(12)
    corpus = _corpus([(_doc("fr", "fr", "2025-01-15"), french),
                      (_doc("en", "en", "2025-01-15"), _translation_of(french))])
    assert find_twins(*corpus) == {"fr": "en", "en": "fr"}


def test_two_different_releases_of_the_same_day_are_not_twins() -> None:
    corpus = _corpus([(_doc("fr", "fr", "2025-01-15"), _release_vectors(12)),
                      (_doc("en", "en", "2025-01-16"), _release_vectors(10))])
    alignment = align(corpus[2][:12], corpus[2][12:])
    assert alignment.mean_best_cosine > 0.7  # close in topic, as the real model sees them
    assert find_twins(*corpus) == {}


def test_a_translation_dated_more_than_a_day_apart_is_not_a_twin() -> None:
    french = _release_vectors(12)
    corpus = _corpus([(_doc("fr", "fr", "2025-01-15"), french),
                      (_doc("en", "en", "2025-01-17"), _translation_of(french))])
    assert find_twins(*corpus) == {}


def test_two_copies_in_the_same_language_are_not_twins() -> None:
    french = _release_vectors(12)
    corpus = _corpus([(_doc("a", "fr", "2025-01-15"), french), (_doc("b", "fr", "2025-01-15"), french)])
    assert find_twins(*corpus) == {}


def test_a_release_has_one_twin_the_best_aligned() -> None:
    french = _release_vectors(12)
    close, loose = _translation_of(french), _unit(french + 0.06 * RNG.normal(size=french.shape))
    corpus = _corpus([(_doc("fr", "fr", "2025-01-15"), french), (_doc("en", "en", "2025-01-15"), close),
                      (_doc("en2", "en", "2025-01-15"), loose)])
    assert find_twins(*corpus)["fr"] == "en"


def test_a_manifest_without_twins_or_with_a_wrong_shape_has_none() -> None:
    assert twins_from_manifest({}) == {}
    assert twins_from_manifest({"twins": ["a", "b"]}) == {}


def test_the_build_records_twins_in_the_manifest_and_the_index_exposes_them(
        fake_config: RagConfig, fake_embedder: HashingEmbedder, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []

    def pair_first_two(documents: list[Document], sentences: list[Sentence], vectors: np.ndarray) -> dict[str, str]:
        seen.append(len(vectors))  # the sentence vectors of the build, not new embeddings
        a, b = sorted(d.doc_id for d in documents)[:2]
        return {a: b, b: a}

    monkeypatch.setattr(build, "find_twins", pair_first_two)
    build.build_index(fake_config, fake_embedder, show_progress=False)
    stored = load_generation(fake_config.index_dir)
    assert stored.twins == {"000_7420c92f95da150b": "001_5327e5ba5f57af7b",
                            "001_5327e5ba5f57af7b": "000_7420c92f95da150b"}
    assert seen == [len(stored.sentences)]
    assert fake_embedder.passage_calls == [len(stored.chunks) + len(stored.sentences)]
