"""The vector index factory: the options pick the backend, both backends keep the VectorIndex protocol."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rag.errors import IndexStaleError, RagError
from rag.index.vectors import VectorIndex, VectorStoreOptions, create_vector_index, drop_vector_index, open_vector_index
from rag.index.vectors.faiss_index import FAISS_FILE, FaissIndex

REPO = Path(__file__).resolve().parents[2]
DIMENSION = 32


def unit_vectors(n: int, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((n, DIMENSION)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def manifest_of(index: VectorIndex, options: VectorStoreOptions) -> dict[str, Any]:
    """The vector index's part of a generation manifest, as save_generation writes it."""
    return {"settings": {"dimension": index.dimension}, "index_kind": index.kind, "index_params": index.params,
            "vector_store": options.vector_store}


@pytest.fixture
def qdrant_server(monkeypatch: pytest.MonkeyPatch) -> Any:
    """One in-memory Qdrant that every QdrantIndex reaches, whatever its URL: a stand-in for a server."""
    qdrant_client = pytest.importorskip("qdrant_client")
    client = qdrant_client.QdrantClient(location=":memory:")
    monkeypatch.setattr("rag.index.vectors.qdrant_index._client", lambda url: client)
    return client


def test_vector_store_faiss_gives_a_faiss_index_saved_in_the_generation_folder(tmp_path: Path) -> None:
    vectors = unit_vectors(40)
    index = create_vector_index(VectorStoreOptions(), DIMENSION, vectors, tmp_path, "gen-1")
    assert isinstance(index, FaissIndex) and index.kind == "flat"
    assert [p.name for p in tmp_path.iterdir()] == [FAISS_FILE]
    assert len(index) == 40 and index.search(vectors[:3], 1)[1][:, 0].tolist() == [0, 1, 2]


def test_vector_store_qdrant_gives_an_embedded_collection_named_after_the_generation(tmp_path: Path) -> None:
    pytest.importorskip("qdrant_client")
    from rag.index.vectors.qdrant_index import QdrantIndex

    options = VectorStoreOptions(vector_store="qdrant")
    index = create_vector_index(options, DIMENSION, unit_vectors(40), tmp_path, "gen-1")
    assert isinstance(index, QdrantIndex) and index.kind == "qdrant"
    assert index.params == {"collection": "rag-news-gen-1", "url": ""}
    # An embedded collection lives in the loading process: nothing is filled or written at build.
    assert len(index) == 0 and not list(tmp_path.iterdir())


@pytest.mark.parametrize("options", [VectorStoreOptions(), VectorStoreOptions(index_kind="hnsw"),
                                     VectorStoreOptions(vector_store="qdrant")], ids=["flat", "hnsw", "qdrant"])
def test_every_backend_opens_with_its_rows_and_keeps_the_protocol(tmp_path: Path, options: VectorStoreOptions) -> None:
    if options.vector_store == "qdrant":
        pytest.importorskip("qdrant_client")
    vectors, extra = unit_vectors(40), unit_vectors(5, seed=1)
    created = create_vector_index(options, DIMENSION, vectors, tmp_path, "gen-1")
    index = open_vector_index(tmp_path, manifest_of(created, options), vectors, options)
    assert isinstance(index, VectorIndex) and index.kind == created.kind and index.dimension == DIMENSION
    assert len(index) == 40 and index.search(vectors[:3], 1)[1][:, 0].tolist() == [0, 1, 2]
    index.add(extra)
    scores, ids = index.search(extra[:2], 3)
    assert len(index) == 45 and ids[:, 0].tolist() == [40, 41]
    assert scores.shape == ids.shape == (2, 3) and np.allclose(scores[:, 0], 1.0, atol=1e-5)


def test_an_embedded_collection_opened_from_the_vectors_ranks_like_faiss(tmp_path: Path) -> None:
    pytest.importorskip("qdrant_client")
    vectors, queries = unit_vectors(200), unit_vectors(6, seed=2)
    faiss_options, qdrant_options = VectorStoreOptions(), VectorStoreOptions(vector_store="qdrant")
    faiss_side = create_vector_index(faiss_options, DIMENSION, vectors, tmp_path, "gen-1")
    qdrant_manifest = manifest_of(create_vector_index(qdrant_options, DIMENSION, vectors, tmp_path, "gen-1"),
                                  qdrant_options)
    qdrant_side = open_vector_index(tmp_path, qdrant_manifest, vectors, qdrant_options)
    assert np.array_equal(qdrant_side.search(queries, 5)[1], faiss_side.search(queries, 5)[1])


@pytest.mark.parametrize(("built", "asked", "message"), [
    (VectorStoreOptions(), VectorStoreOptions(vector_store="qdrant"),
     "was built for vector_store 'faiss', config asks 'qdrant': rebuild with `rag index`"),
    (VectorStoreOptions(), VectorStoreOptions(index_kind="ivf"),
     "is a 'flat' FAISS index, config asks index_kind 'ivf': rebuild with `rag index`"),
])
def test_a_config_that_disagrees_with_the_manifest_makes_the_index_stale(
        tmp_path: Path, built: VectorStoreOptions, asked: VectorStoreOptions, message: str) -> None:
    vectors = unit_vectors(10)
    manifest = manifest_of(create_vector_index(built, DIMENSION, vectors, tmp_path, "gen-1"), built)
    with pytest.raises(IndexStaleError) as raised:
        open_vector_index(tmp_path, manifest, vectors, asked)
    assert str(raised.value) == f"the index at {tmp_path} {message}"


def test_a_server_collection_is_filled_at_build_and_dropped_with_its_manifest(tmp_path: Path, qdrant_server) -> None:
    options = VectorStoreOptions(vector_store="qdrant", qdrant_url="http://qdrant:6333")
    index = create_vector_index(options, DIMENSION, unit_vectors(40), tmp_path, "gen-1")
    assert qdrant_server.count("rag-news-gen-1").count == 40 == len(index)
    drop_vector_index(manifest_of(index, options))
    assert not qdrant_server.collection_exists("rag-news-gen-1")


@pytest.mark.parametrize("options", [VectorStoreOptions(), VectorStoreOptions(vector_store="qdrant")],
                         ids=["faiss", "embedded"])
def test_dropping_an_index_without_a_server_reaches_for_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             options: VectorStoreOptions) -> None:
    if options.vector_store == "qdrant":
        pytest.importorskip("qdrant_client")
    manifest = manifest_of(create_vector_index(options, DIMENSION, unit_vectors(10), tmp_path, "gen-1"), options)

    def no_client(url: str) -> None:
        raise AssertionError(f"a Qdrant client was made for {url!r}")

    monkeypatch.setattr("rag.index.vectors.qdrant_index._client", no_client)
    drop_vector_index(manifest)


def test_importing_the_library_does_not_import_qdrant_client() -> None:
    code = ("import sys, rag, rag.assistant, rag.index.store, rag.index.vectors; "
            "sys.exit('qdrant_client' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO).returncode == 0


@pytest.mark.parametrize("damage", [
    {"settings": "384"},                                          # settings is not an object
    {"settings": {}},                                             # no dimension
    {"index_params": {"url": "http://qdrant:6333", "collection": 7}},
])
def test_a_damaged_manifest_names_no_collection_to_drop_and_says_so(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: dict[str, object]) -> None:
    manifest = {"vector_store": "qdrant", "settings": {"dimension": DIMENSION},
                "index_params": {"url": "http://qdrant:6333", "collection": "rag-news-gen-1"}} | damage

    def no_client(url: str) -> None:
        raise AssertionError(f"a Qdrant client was made for {url!r}")

    monkeypatch.setattr("rag.index.vectors.qdrant_index._client", no_client)
    with pytest.raises(RagError, match="does not say which Qdrant collection"):
        drop_vector_index(manifest)


@pytest.mark.parametrize("manifest_text", ['["a", "list"]', '{"vector_store": "qdrant", "index_params": "x"}',
                                           '{"vector_store": "qdrant", "index_params": {"url": "u"}}', "\xff"])
def test_pruning_a_generation_with_a_damaged_manifest_warns_and_goes_on(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, manifest_text: str) -> None:
    from rag.index.store import MANIFEST, _drop_vector_index

    generation = tmp_path / "gen-1"
    generation.mkdir()
    (generation / MANIFEST).write_text(manifest_text, encoding="latin-1")
    with caplog.at_level("WARNING", logger="rag.index.store"):
        _drop_vector_index(generation)  # raises nothing: the build that prunes has already published
    assert "gen-1" in caplog.text and "drop it" in caplog.text
