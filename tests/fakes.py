"""A tiny deterministic embedder for fast unit tests: hashed character trigrams, L2-normalised."""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Sequence

import numpy as np


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
