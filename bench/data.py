"""Benchmark inputs built from the seed releases: recombined passages, their real vectors, and larger noisy sets."""

from __future__ import annotations

import hashlib
import logging
import random
import time
from functools import lru_cache
from pathlib import Path

import numpy as np

from eval.items import load_items
from rag.config import RagConfig, load_config
from rag.text.chunking import split_sentences
from rag.text.loading import load_documents

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"
QA_FILE = REPO / "eval" / "qa.jsonl"
CACHE_DIR = Path.home() / ".cache" / "rag-news" / "bench"
# Bumped when the way passages or vectors are made changes, so stale caches are not reused.
DATA_VERSION = 2
BASE_SIZE = 10_000
# Per-dimension standard deviation of the noise that turns one real vector into many (d = 384): a noisy
# copy keeps cosine ~0.98 to its source, the median cosine of a real passage vector to its nearest real
# neighbour (random pairs of real passages are at ~0.89). Much more noise (sigma 0.025, cosine 0.90) would
# scatter the copies as far apart as unrelated passages: a cloud with no structure, unlike any real archive.
NOISE_SIGMA = 0.01


@lru_cache(maxsize=1)
def seed_sentences() -> tuple[str, ...]:
    """Every sentence of the cleaned seed releases (the ones the index is built from)."""
    documents = load_documents([SEEDS]).documents
    return tuple(d.text[s:e] for d in documents for s, e in split_sentences(d.text) if e - s >= 20)


def recombined_passages(count: int, seed: int, words: tuple[int, int] = (45, 65)) -> list[str]:
    """Passages of about 100 tokens: a random window of 45-65 words over four random seed sentences.

    Whole-sentence pairs would repeat (89 sentences give 64% exact duplicates in 10k passages); a window
    starting at a random word makes near-duplicates rare while every word still comes from the releases.
    """
    sentences = seed_sentences()
    rng = random.Random(seed)
    passages = []
    for _ in range(count):
        pool = " ".join(rng.choice(sentences) for _ in range(4)).split()
        length = rng.randint(*words)
        start = rng.randint(0, max(0, len(pool) - length))
        passages.append(" ".join(pool[start:start + length]))
    return passages


def questions(limit: int | None = None) -> list[str]:
    items = [item.question for item in load_items(QA_FILE)]
    return items[:limit] if limit else items


def _cache_path(name: str, config: RagConfig) -> Path:
    key = hashlib.sha256(f"{DATA_VERSION}|{config.model}|{name}".encode()).hexdigest()[:12]
    return CACHE_DIR / f"{name}-{key}.npy"


def _embedder(config: RagConfig):  # type: ignore[no-untyped-def]
    from rag.embed.embedder import SentenceTransformerEmbedder

    # onnxruntime fp32 gives the same vectors as torch fp32 (cosine >= 0.99999) in less time.
    try:
        return SentenceTransformerEmbedder(load_config(env={}, model=config.model, embed_backend="onnx"))
    except Exception as exc:  # noqa: BLE001 - any failure of the faster route falls back to the reference one
        log.warning("ONNX route unavailable (%s); embedding with torch", exc)
        return SentenceTransformerEmbedder(load_config(env={}, model=config.model))


def _cached(name: str, config: RagConfig, make) -> np.ndarray:  # type: ignore[no-untyped-def]
    path = _cache_path(name, config)
    if path.exists():
        return np.load(path)
    started = time.perf_counter()
    vectors = np.ascontiguousarray(make(), dtype=np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, vectors)
    tmp.replace(path)
    log.info("cached %s (%d vectors) in %.0fs at %s", name, len(vectors), time.perf_counter() - started, path)
    return vectors


def base_vectors(config: RagConfig | None = None, count: int = BASE_SIZE) -> np.ndarray:
    """`count` real passage vectors of recombined seed sentences (embedded once, then read from the cache)."""
    config = config or load_config(env={})
    return _cached(f"passages{count}", config,
                   lambda: _embedder(config).embed_passages(recombined_passages(count, seed=1), show_progress=True))


def query_vectors(config: RagConfig | None = None) -> np.ndarray:
    """Real query vectors: every question of eval/qa.jsonl, French and English."""
    config = config or load_config(env={})
    return _cached("questions", config, lambda: _embedder(config).embed_queries(questions()))


def noisy_vectors(base: np.ndarray, count: int, seed: int = 0, sigma: float = NOISE_SIGMA,
                  chunk: int = 100_000) -> np.ndarray:
    """`count` vectors: real vectors plus Gaussian noise, renormalised (the first len(base) are the originals)."""
    if count <= len(base):
        return np.ascontiguousarray(base[:count])
    rng = np.random.default_rng(seed)
    out = np.empty((count, base.shape[1]), dtype=np.float32)
    out[: len(base)] = base
    for start in range(len(base), count, chunk):
        stop = min(count, start + chunk)
        rows = base[rng.integers(0, len(base), stop - start)]
        noisy = rows + rng.standard_normal(rows.shape, dtype=np.float32) * sigma
        out[start:stop] = noisy / np.linalg.norm(noisy, axis=1, keepdims=True)
    return out
