"""The vector index seam: FAISS and Qdrant behind one factory."""
