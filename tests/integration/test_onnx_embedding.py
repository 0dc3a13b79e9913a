"""The ONNX routes of the bundled model: fp32 gives torch's vectors, int8 is close and says so in its id,
and the default configuration runs the bundled model on the ONNX route."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

from rag.config import load_config  # noqa: E402
from rag.embed.embedder import SentenceTransformerEmbedder  # noqa: E402

pytestmark = pytest.mark.integration

PASSAGES = [
    "Le général de corps d’armée Janusz Adamczak, directeur général de l’EMI, a ouvert la réunion.",
    "Les participants de 26 pays partenaires de l’OTAN ont discuté de l’importance de la résilience.",
    "Court.",
]
QUERIES = ["Qui a ouvert la réunion ?", "How many partner countries took part?"]


@pytest.fixture(scope="module")
def onnx_embedder() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(load_config(env={}, embed_backend="onnx"))


@pytest.fixture(scope="module")
def torch_embedder() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(load_config(env={}, embed_backend="torch", precision="fp32"))


def test_the_default_configuration_embeds_the_bundled_model_with_onnx(real_embedder) -> None:
    assert real_embedder.backend == "onnx"


def test_onnx_fp32_gives_the_torch_vectors(torch_embedder, onnx_embedder) -> None:
    for texts, method in ((PASSAGES, "embed_passages"), (QUERIES, "embed_queries")):
        expected = getattr(torch_embedder, method)(texts)
        got = getattr(onnx_embedder, method)(texts)
        assert got.shape == expected.shape and got.dtype == np.float32
        assert (got * expected).sum(axis=1).min() >= 0.9999


def test_onnx_fp32_keeps_the_model_id_so_an_index_is_shared(torch_embedder, onnx_embedder) -> None:
    assert onnx_embedder.model_id == torch_embedder.model_id


def test_onnx_int8_is_close_but_is_a_different_model_for_the_index(real_embedder) -> None:
    int8 = SentenceTransformerEmbedder(load_config(env={}, embed_backend="onnx-int8"))
    cosine = (int8.embed_passages(PASSAGES) * real_embedder.embed_passages(PASSAGES)).sum(axis=1)
    assert cosine.min() >= 0.98
    assert int8.model_id.endswith("+onnx-int8")
