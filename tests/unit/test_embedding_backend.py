"""Which runtime embeds: `auto` takes ONNX for the bundled model and torch otherwise, and falls back to torch."""

from __future__ import annotations

import importlib.util

import pytest

from rag.config import BUNDLED_MODEL, load_config
from rag.embed import embedder as embedding
from rag.embed.embedder import SentenceTransformerEmbedder, preferred_backend
from rag.errors import ModelError

HAS_ONNXRUNTIME = importlib.util.find_spec("onnxruntime") is not None


@pytest.mark.skipif(not HAS_ONNXRUNTIME, reason="onnxruntime is not installed")
def test_auto_runs_the_bundled_model_on_onnx() -> None:
    assert preferred_backend(load_config(env={}, model=BUNDLED_MODEL)) == "onnx"


def test_auto_runs_any_other_model_on_torch() -> None:
    assert preferred_backend(load_config(env={}, model="sentence-transformers/all-MiniLM-L6-v2")) == "torch"


@pytest.mark.parametrize("backend", ["torch", "onnx", "onnx-int8"])
def test_an_explicit_backend_is_kept(backend: str) -> None:
    assert preferred_backend(load_config(env={}, embed_backend=backend)) == backend


class _FakeTorchModel:
    prompts = {"query": "query: ", "passage": "passage: "}

    def get_embedding_dimension(self) -> int:
        return 384


@pytest.fixture(params=[ModelError("the ONNX backend needs onnxruntime and onnx"),
                        RuntimeError("onnxruntime: [ONNXRuntimeError] INVALID_PROTOBUF"),
                        ImportError("libonnxruntime.so: cannot open shared object file")])
def onnx_fails(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise request.param

    monkeypatch.setattr(embedding, "preferred_backend", lambda config: config.embed_backend.replace("auto", "onnx"))
    monkeypatch.setattr(embedding, "resolve_model_path", lambda config: ("/models/e5", "e5@test"))
    monkeypatch.setattr(embedding, "OnnxEncoder", fail)
    monkeypatch.setattr(SentenceTransformerEmbedder, "_load_torch", staticmethod(lambda config, location: _FakeTorchModel()))


@pytest.mark.usefixtures("onnx_fails")
def test_auto_falls_back_to_torch_when_onnx_cannot_run() -> None:
    embedder = SentenceTransformerEmbedder(load_config(env={}, embed_backend="auto"))
    assert embedder.backend == "torch" and embedder.dimension == 384 and embedder.model_id == "e5@test"


@pytest.mark.usefixtures("onnx_fails")
def test_an_explicit_onnx_backend_that_cannot_run_is_an_error() -> None:
    with pytest.raises((ModelError, RuntimeError, ImportError), match="onnxruntime"):
        SentenceTransformerEmbedder(load_config(env={}, embed_backend="onnx"))


def test_an_explicit_bf16_precision_runs_on_torch_even_for_the_bundled_model() -> None:
    assert preferred_backend(load_config(env={}, model=BUNDLED_MODEL, precision="bf16")) == "torch"
    assert preferred_backend(load_config(env={}, model=BUNDLED_MODEL, embed_backend="onnx", precision="bf16")) == "onnx"
