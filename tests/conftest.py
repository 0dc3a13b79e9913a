"""Shared fixtures: a fake-embedder corpus for unit tests, the real model and index for integration tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rag.config import RagConfig, load_config

from .fakes import HashingEmbedder

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"


@pytest.fixture
def seeds_copy(tmp_path: Path) -> Path:
    target = tmp_path / "seeds"
    shutil.copytree(SEEDS, target)
    return target


@pytest.fixture
def fake_config(tmp_path: Path, seeds_copy: Path) -> RagConfig:
    return load_config(env={}, corpus_dir=seeds_copy, index_dir=tmp_path / "index")


@pytest.fixture
def fake_embedder() -> HashingEmbedder:
    return HashingEmbedder()


@pytest.fixture
def fake_assistant(fake_config: RagConfig, fake_embedder: HashingEmbedder):  # type: ignore[no-untyped-def]
    from rag.assistant import Assistant
    from rag.index.build import build_index

    build_index(fake_config, fake_embedder, show_progress=False)
    return Assistant(fake_config, fake_embedder)


@pytest.fixture(scope="session")
def real_embedder():  # type: ignore[no-untyped-def]
    """The bundled multilingual model, converted once into the user cache (as `make run` does)."""
    from rag.embed.embedder import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(load_config(env={}))


@pytest.fixture(scope="session")
def real_index_dir(tmp_path_factory: pytest.TempPathFactory, real_embedder) -> Path:  # type: ignore[no-untyped-def]
    from rag.index.build import build_index

    root = tmp_path_factory.mktemp("real")
    seeds = root / "seeds"
    shutil.copytree(SEEDS, seeds)
    config = load_config(env={}, corpus_dir=seeds, index_dir=root / "index")
    build_index(config, real_embedder, show_progress=False)
    return root


@pytest.fixture(scope="session")
def real_config(real_index_dir: Path) -> RagConfig:
    return load_config(env={}, corpus_dir=real_index_dir / "seeds", index_dir=real_index_dir / "index")


@pytest.fixture(scope="session")
def real_assistant(real_config: RagConfig, real_embedder):  # type: ignore[no-untyped-def]
    from rag.assistant import Assistant

    return Assistant(real_config, real_embedder)
