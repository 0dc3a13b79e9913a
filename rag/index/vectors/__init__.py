"""The vector index seam: FAISS and Qdrant behind one VectorIndex protocol and one factory (create, open, drop)."""

from rag.index.vectors.base import VectorIndex, VectorStoreOptions
from rag.index.vectors.factory import create_vector_index, drop_vector_index, open_vector_index

__all__ = ["VectorIndex", "VectorStoreOptions", "create_vector_index", "drop_vector_index", "open_vector_index"]
