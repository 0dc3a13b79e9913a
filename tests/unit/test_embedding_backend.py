"""Which runtime embeds: `auto` takes ONNX for the bundled model's queries and torch for any other model, falls
back to torch when ONNX cannot run, and loads torch only when a bulk indexing job needs it."""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Sequence

import numpy as np
import pytest

from rag.config import BUNDLED_MODEL, load_config
from rag.embed import embedder as embedding
from rag.embed.embedder import SentenceTransformerEmbedder, plan_routes
from rag.embed.route import BULK_PASSAGES
from rag.errors import ModelError

HAS_ONNXRUNTIME = importlib.util.find_spec("onnxruntime") is not None
AVX2 = frozenset({"avx2", "fma"})
AMX = frozenset({"avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile", "amx_int8"})


@pytest.mark.skipif(not HAS_ONNXRUNTIME, reason="onnxruntime is not installed")
def test_auto_answers_queries_of_the_bundled_model_on_onnx() -> None:
    assert plan_routes(load_config(env={}, model=BUNDLED_MODEL), AMX)["query"].runtime == "onnx"


def test_auto_runs_any_other_model_on_torch() -> None:
    routes = plan_routes(load_config(env={}, model="sentence-transformers/all-MiniLM-L6-v2"), AVX2)
    assert {route.runtime for route in routes.values()} == {"torch"}


@pytest.mark.parametrize("backend", ["onnx", "onnx-int8"])
def test_an_explicit_onnx_backend_runs_both_jobs(backend: str) -> None:
    routes = plan_routes(load_config(env={}, embed_backend=backend), AMX, with_onnx=True)
    assert {route.runtime for route in routes.values()} == {"onnx"}


def test_an_explicit_bf16_precision_runs_on_torch_even_for_the_bundled_model() -> None:
    config = load_config(env={}, model=BUNDLED_MODEL, precision="bf16")
    assert plan_routes(config, AVX2, with_onnx=True)["query"].runtime == "torch"
    config = load_config(env={}, model=BUNDLED_MODEL, embed_backend="onnx", precision="bf16")
    assert plan_routes(config, AVX2, with_onnx=True)["query"].runtime == "onnx"


class _FakeTorchModel:
    prompts = {"query": "query: ", "passage": "passage: "}

    def get_embedding_dimension(self) -> int:
        return 384


class _FakeOnnxEncoder:
    dimension = 384
    prompts = {"query": "query: ", "passage": "passage: "}

    def __init__(self, folder: object, int8: bool = False) -> None:
        self.int8 = int8

    def encode(self, texts: Sequence[str], prompt_name: str | None = None, batch_size: int = 32,
               show_progress: bool = False) -> np.ndarray:
        return np.ones((len(texts), self.dimension), dtype=np.float32)


class _FakeTorchEncoder(_FakeOnnxEncoder):
    runs: list[bool] = []  # bf16 or not, one entry per encode() call

    def __init__(self, model: object, bf16: bool = False) -> None:
        self.bf16 = bf16

    def encode(self, texts: Sequence[str], prompt_name: str | None = None, batch_size: int = 32,
               show_progress: bool = False) -> np.ndarray:
        self.runs.append(self.bf16)
        return super().encode(texts, prompt_name, batch_size, show_progress)


@pytest.fixture
def torch_loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Fake runtimes; the list records every torch model load."""
    loads: list[str] = []

    def load_torch(config: object, location: str) -> _FakeTorchModel:
        loads.append(location)
        return _FakeTorchModel()

    _FakeTorchEncoder.runs = []
    monkeypatch.setattr(embedding, "onnx_available", lambda config: True)
    monkeypatch.setattr(embedding, "resolve_model_path", lambda config: ("/models/e5", "e5@test"))
    monkeypatch.setattr(embedding, "OnnxEncoder", _FakeOnnxEncoder)
    monkeypatch.setattr(embedding, "_TorchEncoder", _FakeTorchEncoder)
    monkeypatch.setattr(embedding, "load_torch_model", load_torch)
    return loads


def test_the_start_log_names_the_route_of_each_job(torch_loads: list[str], caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="rag.embed.embedder"):
        SentenceTransformerEmbedder(load_config(env={}), flags=AMX)
    assert "embedding: torch bf16 autocast (AMX) for indexing, ONNX fp32 for queries" in caplog.text


def test_answering_questions_never_loads_torch_on_an_amx_host(torch_loads: list[str]) -> None:
    embedder = SentenceTransformerEmbedder(load_config(env={}), flags=AMX)
    embedder.embed_queries(["Qui a ouvert la réunion ?"])
    embedder.embed_passages(["une release ajoutée"] * (BULK_PASSAGES - 1))
    assert torch_loads == [] and embedder.backend == "onnx"


def test_bulk_indexing_loads_torch_once_and_runs_it_under_bf16_autocast_on_an_amx_host(
        torch_loads: list[str]) -> None:
    embedder = SentenceTransformerEmbedder(load_config(env={}), flags=AMX)
    for _ in range(2):
        vectors = embedder.embed_passages(["un passage"] * BULK_PASSAGES)
    assert vectors.shape == (BULK_PASSAGES, 384)
    assert torch_loads == ["/models/e5"] and _FakeTorchEncoder.runs == [True, True]


def test_bulk_indexing_on_an_avx2_host_stays_on_onnx(torch_loads: list[str]) -> None:
    embedder = SentenceTransformerEmbedder(load_config(env={}), flags=AVX2)
    embedder.embed_passages(["un passage"] * BULK_PASSAGES)
    assert torch_loads == []


def test_under_auto_a_torch_that_cannot_load_leaves_bulk_indexing_on_onnx(
        torch_loads: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    def no_torch(config: object, location: str) -> None:
        raise ModelError("sentence-transformers is not installed")

    monkeypatch.setattr(embedding, "load_torch_model", no_torch)
    embedder = SentenceTransformerEmbedder(load_config(env={}), flags=AMX)
    assert embedder.embed_passages(["un passage"] * BULK_PASSAGES).shape == (BULK_PASSAGES, 384)
    assert embedder.routes["index"].label == "ONNX fp32"


def test_an_explicit_bf16_precision_that_cannot_load_torch_is_an_error(
        torch_loads: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    def no_torch(config: object, location: str) -> None:
        raise ModelError("sentence-transformers is not installed")

    monkeypatch.setattr(embedding, "load_torch_model", no_torch)
    with pytest.raises(ModelError, match="sentence-transformers"):
        SentenceTransformerEmbedder(load_config(env={}, precision="bf16"), flags=AMX)


@pytest.fixture(params=[ModelError("the ONNX backend needs onnxruntime and onnx"),
                        RuntimeError("onnxruntime: [ONNXRuntimeError] INVALID_PROTOBUF"),
                        ImportError("libonnxruntime.so: cannot open shared object file")])
def onnx_fails(torch_loads: list[str], monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise request.param

    monkeypatch.setattr(embedding, "OnnxEncoder", fail)


@pytest.mark.usefixtures("onnx_fails")
def test_auto_falls_back_to_torch_when_onnx_cannot_run() -> None:
    embedder = SentenceTransformerEmbedder(load_config(env={}, embed_backend="auto"), flags=AVX2)
    assert embedder.backend == "torch" and embedder.dimension == 384 and embedder.model_id == "e5@test"


@pytest.mark.usefixtures("onnx_fails")
def test_an_explicit_onnx_backend_that_cannot_run_is_an_error() -> None:
    with pytest.raises((ModelError, RuntimeError, ImportError), match="onnxruntime"):
        SentenceTransformerEmbedder(load_config(env={}, embed_backend="onnx"), flags=AVX2)
