"""What every vector index does, and the options that say which one a generation gets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from rag.config import RagConfig


@runtime_checkable
class VectorIndex(Protocol):
    """Inner-product search over L2-normalised passage vectors; a vector's id is its row, in the order added."""

    dimension: int
    kind: str  # the manifest's index_kind: flat | hnsw | ivf | ivfpq (FAISS) or qdrant

    @property
    def params(self) -> dict[str, Any]:
        """The manifest's index_params: the knobs that decide speed and recall, or where the collection lives."""
        ...

    def __len__(self) -> int: ...

    def add(self, vectors: np.ndarray) -> None:
        """Append rows of shape (n, dimension); they are numbered on from len(self)."""
        ...

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, row ids), one row per query, at most k columns, best first; a missing hit has id -1."""
        ...

    def drop(self) -> None:
        """Delete what the index keeps outside its generation folder (a server's collection), if anything."""
        ...


@dataclass(frozen=True)
class VectorStoreOptions:
    """Where the passage vectors are searched; not part of IndexSettings, since changing it needs no re-embedding."""

    index_kind: str = "auto"  # auto | flat | hnsw | ivf | ivfpq (FAISS)
    vector_store: str = "faiss"  # faiss | qdrant
    qdrant_url: str = ""  # empty: embedded, in memory, rebuilt from the vectors file at load
    qdrant_collection: str = "rag-news"

    @classmethod
    def from_config(cls, config: RagConfig) -> VectorStoreOptions:
        return cls(config.index_kind, config.vector_store, config.qdrant_url, config.qdrant_collection)
