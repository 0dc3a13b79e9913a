"""A tiny deterministic embedder for fast unit tests: hashed character trigrams, L2-normalised."""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rag.config import load_config
from rag.index.build import build_index
from rag.index.store import StoredIndex, load_generation


class HashingEmbedder:
    model_id = "test:hashing-trigrams"

    def __init__(self, dimension: int = 256) -> None:
        self.dimension = dimension
        self.passage_calls: list[int] = []

    def _vector(self, text: str) -> np.ndarray:
        folded = "".join(c for c in unicodedata.normalize("NFKD", text.casefold()) if not unicodedata.combining(c))
        vector = np.zeros(self.dimension, dtype=np.float32)
        padded = f"  {folded}  "
        for i in range(len(padded) - 2):
            bucket = int.from_bytes(hashlib.blake2b(padded[i:i + 3].encode(), digest_size=4).digest(), "little")
            vector[bucket % self.dimension] += 1.0
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm else vector

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return np.vstack([self._vector(t) for t in texts]) if texts else np.zeros((0, self.dimension), np.float32)

    def embed_passages(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        self.passage_calls.append(len(texts))
        return self.embed_queries(texts)


def fake_index(root: Path, releases: dict[str, str]) -> StoredIndex:
    """The releases (file name -> text) written under `root`/corpus and indexed with the hashing embedder."""
    corpus = root / "corpus"
    corpus.mkdir()
    for name, text in releases.items():
        (corpus / name).write_text(text, encoding="utf-8")
    config = load_config(env={}, corpus_dir=corpus, index_dir=root / "index")
    build_index(config, HashingEmbedder(), show_progress=False)
    return load_generation(Path(config.index_dir))
