"""The narrow interfaces between the parts: what an embedder and a generator must do.

The vector index's interface lives with its backends: rag.index.vectors.VectorIndex.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

import numpy as np

from rag.schema import Answer, ScoredChunk


class Embedder(Protocol):
    model_id: str
    dimension: int

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text."""
        ...

    def embed_passages(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text."""
        ...


class Generator(Protocol):
    """An LLM that writes an answer from numbered passages."""

    def generate(self, question: str, lang: str, passages: Sequence[ScoredChunk]) -> Answer: ...

    def stream(self, question: str, lang: str, passages: Sequence[ScoredChunk]) -> Iterator[str | Answer]:
        """Yields text deltas as they arrive, then the verified Answer last."""
        ...
