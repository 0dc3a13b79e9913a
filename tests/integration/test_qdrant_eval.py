"""The Qdrant backend (embedded mode) gives the same eval figures as FAISS on the bundled set."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("qdrant_client")

from eval.items import load_items  # noqa: E402
from eval.run import run_eval  # noqa: E402
from rag.assistant import Assistant  # noqa: E402
from rag.index.build import index_settings  # noqa: E402
from rag.index.store import load_generation, save_generation  # noqa: E402
from rag.index.vectors import VectorStoreOptions  # noqa: E402

pytestmark = pytest.mark.integration

QA_FILE = Path(__file__).resolve().parents[2] / "eval" / "qa.jsonl"
MODES = ["dense", "hybrid"]
FIGURES = ("recall@1", "recall@5", "mrr@10", "answer_accuracy")


class QueryCache:
    """The real embedder, asked once per distinct question: both stores are then given identical query
    vectors, and the four eval runs cost one embedding each instead of four."""

    def __init__(self, embedder) -> None:  # type: ignore[no-untyped-def]
        self.embedder = embedder
        self.model_id, self.dimension = embedder.model_id, embedder.dimension
        self._vectors: dict[str, np.ndarray] = {}

    def embed_queries(self, texts):  # type: ignore[no-untyped-def]
        missing = [t for t in dict.fromkeys(texts) if t not in self._vectors]
        if missing:
            self._vectors.update(zip(missing, self.embedder.embed_queries(missing)))
        return np.stack([self._vectors[t] for t in texts])

    def embed_passages(self, texts, show_progress: bool = False):  # type: ignore[no-untyped-def]
        return self.embedder.embed_passages(texts, show_progress=show_progress)


def test_eval_figures_are_identical_with_faiss_and_qdrant(real_config, real_embedder, tmp_path: Path) -> None:
    items = load_items(QA_FILE)
    embedder = QueryCache(real_embedder)
    faiss_report, _ = run_eval(Assistant(real_config, embedder), items, MODES, progress=False)

    # The same generation's data, written again with its passage vectors in an embedded Qdrant collection.
    stored = load_generation(real_config.index_dir)
    qdrant_config = replace(real_config, index_dir=tmp_path / "index", vector_store="qdrant")
    store = VectorStoreOptions.from_config(qdrant_config)
    extra = {k: v for k, v in stored.manifest.items() if k in ("sources", "source_fingerprint", "excluded_doc_ids")}
    save_generation(qdrant_config.index_dir, index_settings(qdrant_config, embedder),
                    list(stored.documents.values()), stored.chunks, stored.sentences, stored.chunk_vectors,
                    stored.sentence_vectors, extra=extra, store=store)
    qdrant_assistant = Assistant(qdrant_config, embedder)
    assert qdrant_assistant.stored.vector_index.kind == "qdrant"
    qdrant_report, _ = run_eval(qdrant_assistant, items, MODES, progress=False)

    for mode in MODES:
        for group in ("fr", "en", "overall"):
            faiss_figures = {k: faiss_report["modes"][mode][group][k] for k in FIGURES}
            qdrant_figures = {k: qdrant_report["modes"][mode][group][k] for k in FIGURES}
            assert qdrant_figures == faiss_figures, (mode, group)
