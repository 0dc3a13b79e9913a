"""Finding candidate passages: dense and BM25 search fused by language."""
