"""The index folder builds the configured vector index, records it in the manifest, and loads it back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rag.assistant import ensure_index, open_assistant
from rag.config import RagConfig, load_config
from rag.errors import IndexStaleError
from rag.index.build import build_index, index_settings
from rag.index.store import load_generation, save_generation
from rag.index.vectors import VectorStoreOptions
from tests.fakes import HashingEmbedder


def rewrite(config: RagConfig, embedder: HashingEmbedder, target: Path, store: VectorStoreOptions) -> Path:
    """A new generation at `target` from the data of the one build_index wrote, with another vector store."""
    stored = load_generation(config.index_dir)
    extra = {k: stored.manifest[k] for k in ("sources", "source_fingerprint") if k in stored.manifest}
    return save_generation(target, index_settings(config, embedder), list(stored.documents.values()),
                           stored.chunks, stored.sentences, stored.chunk_vectors, stored.sentence_vectors,
                           extra=extra, store=store)


def test_the_default_build_records_exact_search_for_the_bundled_corpus(fake_config, fake_embedder) -> None:
    build_index(fake_config, fake_embedder, show_progress=False)
    stored = load_generation(fake_config.index_dir)
    assert stored.manifest["index_kind"] == "flat"
    assert stored.manifest["vector_store"] == "faiss"
    assert stored.vector_index.kind == "flat"


@pytest.mark.parametrize("kind", ["hnsw", "ivf", "ivfpq"])
def test_the_manifest_records_the_kind_that_was_built(fake_config, fake_embedder, tmp_path: Path, kind: str) -> None:
    build_index(fake_config, fake_embedder, show_progress=False)
    rewrite(fake_config, fake_embedder, tmp_path / "other", VectorStoreOptions(index_kind=kind))
    stored = load_generation(tmp_path / "other")
    assert stored.manifest["index_kind"] == kind == stored.vector_index.kind
    assert stored.manifest["index_params"] == stored.vector_index.params


def test_an_embedded_qdrant_collection_is_rebuilt_from_the_vectors_file(fake_config, fake_embedder,
                                                                        tmp_path: Path) -> None:
    pytest.importorskip("qdrant_client")
    build_index(fake_config, fake_embedder, show_progress=False)
    generation = rewrite(fake_config, fake_embedder, tmp_path / "q", VectorStoreOptions(vector_store="qdrant"))
    assert not (generation / "vectors.faiss").exists()
    faiss_side = load_generation(fake_config.index_dir)
    qdrant_side = load_generation(tmp_path / "q", store=VectorStoreOptions(vector_store="qdrant"))
    assert qdrant_side.manifest["vector_store"] == "qdrant"
    assert len(qdrant_side.vector_index) == len(faiss_side.chunks)
    queries = faiss_side.chunk_vectors[:4]
    assert np.array_equal(qdrant_side.vector_index.search(queries, 5)[1], faiss_side.vector_index.search(queries, 5)[1])


def test_a_config_asking_for_another_store_than_the_index_has_says_rebuild(fake_config, fake_embedder) -> None:
    build_index(fake_config, fake_embedder, show_progress=False)
    with pytest.raises(IndexStaleError, match="rag index"):
        load_generation(fake_config.index_dir, store=VectorStoreOptions(vector_store="qdrant"))


def test_options_come_from_the_config() -> None:
    config = load_config(env={"RAG_VECTOR_STORE": "qdrant", "RAG_QDRANT_URL": "http://qdrant:6333",
                              "RAG_INDEX_KIND": "hnsw"})
    assert VectorStoreOptions.from_config(config) == VectorStoreOptions("hnsw", "qdrant", "http://qdrant:6333",
                                                                        "rag-news")


# --- the config reaches the builder and the loader ------------------------------------------------------------

def test_rag_index_builds_the_kind_the_config_names(fake_config, fake_embedder) -> None:
    config = fake_config.with_overrides(index_kind="hnsw")
    build_index(config, fake_embedder, show_progress=False)
    assert load_generation(config.index_dir).manifest["index_kind"] == "hnsw"


def test_the_assistant_answers_from_a_qdrant_store_named_in_the_config(fake_config, fake_embedder) -> None:
    pytest.importorskip("qdrant_client")
    config = fake_config.with_overrides(vector_store="qdrant")
    assistant = open_assistant(config, embedder=fake_embedder)
    assert assistant.stored.manifest["vector_store"] == "qdrant"
    assert assistant.stored.vector_index.kind == "qdrant"
    assert assistant.retrieve("réunion des partenaires", mode="dense")


def test_changing_the_index_kind_in_the_config_rebuilds_on_the_next_start(fake_config, fake_embedder) -> None:
    build_index(fake_config, fake_embedder, show_progress=False)
    config = fake_config.with_overrides(index_kind="ivf")
    with pytest.raises(IndexStaleError, match="index_kind 'ivf'"):
        load_generation(config.index_dir, store=VectorStoreOptions.from_config(config))
    assert ensure_index(config, fake_embedder) is not None
    assert open_assistant(config, build=False, embedder=fake_embedder).stored.vector_index.kind == "ivf"


def test_a_faiss_index_meets_a_qdrant_config_with_a_rebuild(fake_config, fake_embedder) -> None:
    pytest.importorskip("qdrant_client")
    build_index(fake_config, fake_embedder, show_progress=False)
    config = fake_config.with_overrides(vector_store="qdrant")
    assert ensure_index(config, fake_embedder) is not None
    assert load_generation(config.index_dir).manifest["vector_store"] == "qdrant"


# --- collections on a Qdrant server go with their generations -------------------------------------------------

SERVER = VectorStoreOptions(vector_store="qdrant", qdrant_url="http://qdrant:6333")


@pytest.fixture
def qdrant_server(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """One in-memory Qdrant that every QdrantIndex reaches, whatever its URL: a stand-in for a server."""
    qdrant_client = pytest.importorskip("qdrant_client")
    client = qdrant_client.QdrantClient(location=":memory:")
    monkeypatch.setattr("rag.index.vectors.qdrant_index._client", lambda url: client)
    return client


def collections(client) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(c.name for c in client.get_collections().collections)


def test_pruning_a_generation_drops_its_server_collection(fake_config, fake_embedder, tmp_path: Path,
                                                          qdrant_server) -> None:
    build_index(fake_config, fake_embedder, show_progress=False)
    names = [rewrite(fake_config, fake_embedder, tmp_path / "q", SERVER).name for _ in range(3)]
    assert collections(qdrant_server) == [f"rag-news-{name}" for name in names[1:]]
    stored = load_generation(tmp_path / "q", store=SERVER)
    assert stored.manifest["index_params"] == {"collection": f"rag-news-{names[-1]}", "url": SERVER.qdrant_url}


def test_a_failed_save_drops_the_collection_it_filled(fake_config, fake_embedder, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch, qdrant_server) -> None:
    build_index(fake_config, fake_embedder, show_progress=False)

    def disk_full(path: Path, records: list) -> None:  # type: ignore[type-arg]
        raise OSError("No space left on device")

    monkeypatch.setattr("rag.index.store._write_jsonl", disk_full)
    with pytest.raises(OSError, match="No space"):
        rewrite(fake_config, fake_embedder, tmp_path / "q", SERVER)
    assert collections(qdrant_server) == []


def test_an_unreachable_server_only_warns_when_pruning(fake_config, fake_embedder, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch, qdrant_server,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    build_index(fake_config, fake_embedder, show_progress=False)
    oldest = rewrite(fake_config, fake_embedder, tmp_path / "q", SERVER)
    rewrite(fake_config, fake_embedder, tmp_path / "q", SERVER)

    def down(url: str) -> None:
        raise ConnectionRefusedError(f"{url} refused the connection")

    monkeypatch.setattr(qdrant_server, "collection_exists", down)
    with caplog.at_level("WARNING", logger="rag.index.store"):
        rewrite(fake_config, fake_embedder, tmp_path / "q", VectorStoreOptions())
    assert not oldest.exists()
    assert f"could not drop the collection of {oldest.name}" in caplog.text
