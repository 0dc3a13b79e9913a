"""The routes of the bundled model: ONNX fp32 gives torch's vectors, int8 is close and says so in its id, bf16
autocast (where the CPU runs it natively) matches fp32, and the default configuration answers queries on ONNX."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

from rag.config import load_config  # noqa: E402
from rag.embed.embedder import SentenceTransformerEmbedder  # noqa: E402
from rag.embed.route import BULK_PASSAGES, bf16_unit, cpu_flags  # noqa: E402
from rag.text.chunking import chunk_document  # noqa: E402
from rag.text.loading import load_documents  # noqa: E402

pytestmark = pytest.mark.integration

SEEDS = Path(__file__).resolve().parents[2] / "seeds"

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


def _seed_passages() -> list[str]:
    config = load_config(env={})
    documents = load_documents([SEEDS]).documents
    return [c.text for d in documents for c in chunk_document(d, config.chunk_size, config.chunk_overlap)]


BF16_UNIT = bf16_unit(cpu_flags())
needs_bf16_unit = pytest.mark.skipif(not BF16_UNIT, reason="this CPU has neither AMX nor AVX-512 BF16: bf16 would be "
                                     "emulated (slower than fp32), so `auto` never picks it here")


@needs_bf16_unit
def test_bf16_autocast_passage_vectors_match_fp32_on_the_seed_passages(torch_embedder) -> None:
    passages = _seed_passages()
    bf16 = SentenceTransformerEmbedder(load_config(env={}, embed_backend="torch", precision="bf16"))
    cosine = (bf16.embed_passages(passages) * torch_embedder.embed_passages(passages)).sum(axis=1)
    assert len(passages) >= 30 and cosine.min() >= 0.9999


@needs_bf16_unit
def test_the_default_bulk_indexing_route_runs_bf16_here_and_matches_fp32(real_embedder, torch_embedder) -> None:
    passages = _seed_passages()
    bulk = (passages * (BULK_PASSAGES // len(passages) + 1))[:BULK_PASSAGES]
    vectors = real_embedder.embed_passages(bulk)
    assert real_embedder.routes["index"].precision == "bf16" and real_embedder.routes["query"].runtime == "onnx"
    cosine = (vectors[: len(passages)] * torch_embedder.embed_passages(passages)).sum(axis=1)
    assert cosine.min() >= 0.9999


def _real_folder() -> Path:
    from rag.embed.embedder import resolve_model_path

    return Path(resolve_model_path(load_config(env={}))[0])


def test_the_onnx_route_tokenizer_gives_the_tokenizers_library_ids_on_the_corpus_and_questions() -> None:
    from tokenizers import Tokenizer

    from eval.items import load_items
    from rag.embed.onnx_runtime import ONNX_SUBDIR
    from rag.embed.tokenizer import UnigramTokenizer

    folder = _real_folder()
    library = Tokenizer.from_file(str(folder / "tokenizer.json"))
    library.enable_truncation(512)
    ours = UnigramTokenizer.from_folder(folder, folder / ONNX_SUBDIR)
    questions = [item.question for item in load_items(SEEDS.parent / "eval" / "qa.jsonl")]
    documents = [d.text for d in load_documents([SEEDS]).documents]
    odd = ["", "  deux  espaces  ", "fin ", "<s>x</s>", "a <mask>", "ＯＴＡＮ　２０２４", "e\u0301té", "日本語", "😀 ok",
           "\ue000\ue001", "ﬁn", "x\u00a0y"]
    texts = [*_seed_passages(), *documents, *(f"query: {q}" for q in questions), *odd]
    assert [ours.encode(t) for t in texts] == [e.ids for e in library.encode_batch(texts)]


def test_the_split_onnx_graph_gives_the_inline_graphs_output(onnx_embedder) -> None:
    from rag.embed.onnx_runtime import FP32_FILE, ONNX_SUBDIR, make_session

    encoder = onnx_embedder._encoder(onnx_embedder.routes["query"])
    ids, mask = encoder.tokenize(["passage: " + p for p in _seed_passages()[:8]])
    inline = make_session(_real_folder() / ONNX_SUBDIR / FP32_FILE)
    expected = inline.run(None, {"input_ids": ids, "attention_mask": mask})[0]
    assert np.abs(encoder.forward(ids, mask) - expected).max() <= 1e-5
