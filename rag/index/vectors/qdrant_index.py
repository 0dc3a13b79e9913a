"""Qdrant behind the VectorIndex interface: embedded in memory for one process, or a server or cluster at a URL.

The passage vectors file of the index generation stays the source of truth: a collection that is missing
(a fresh server, an embedded store in a new process) is rebuilt from it, so Qdrant never holds the only copy.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np

from rag.errors import IndexError_

log = logging.getLogger(__name__)

UPLOAD_BATCH = 256
TIMEOUT_S = 10


class VectorStoreError(IndexError_):
    """The configured vector store (a Qdrant server) cannot be reached or refuses a request."""


def _client(url: str):  # type: ignore[no-untyped-def]
    try:
        from qdrant_client import QdrantClient
    except ImportError as exc:
        raise VectorStoreError(f"vector_store = \"qdrant\" needs qdrant-client ({exc}); run `make install`") from exc
    # Embedded mode keeps the collection in this process's memory: nothing to share, nothing to lock.
    return QdrantClient(url=url, timeout=TIMEOUT_S) if url else QdrantClient(location=":memory:")


class QdrantIndex:
    """Inner-product search over one Qdrant collection; point ids are row numbers, as in FaissIndex."""

    kind = "qdrant"

    def __init__(self, dimension: int, collection: str, url: str = "", client: Any = None) -> None:
        self.dimension = dimension
        self.collection = collection
        self.url = url
        self._client = client if client is not None else _client(url)
        self._size = 0
        try:
            if self._client.collection_exists(collection):
                self._size = int(self._client.count(collection, exact=True).count)
        except Exception as exc:  # noqa: BLE001 - network and server errors all become one actionable error
            raise self._error("reach", exc) from exc

    def _error(self, action: str, exc: Exception) -> VectorStoreError:
        where = self.url or "the embedded store"
        return VectorStoreError(f"cannot {action} Qdrant collection '{self.collection}' at {where} ({exc}); "
                                "check qdrant_url in rag.toml and that the server is up")

    @property
    def params(self) -> dict[str, Any]:
        return {"collection": self.collection, "url": self.url}

    def __len__(self) -> int:
        return self._size

    def _create(self) -> None:
        from qdrant_client import models

        # DOT on L2-normalised vectors is the cosine, with the same scores as FAISS's inner product.
        self._client.create_collection(
            self.collection, vectors_config=models.VectorParams(size=self.dimension, distance=models.Distance.DOT))

    def add(self, vectors: np.ndarray) -> None:
        if vectors.ndim != 2 or vectors.shape[1] != self.dimension:
            raise ValueError(f"expected vectors of shape (n, {self.dimension}), got {vectors.shape}")
        try:
            if not self._client.collection_exists(self.collection):
                self._create()
            ids = list(range(self._size, self._size + len(vectors)))
            self._client.upload_collection(self.collection, vectors=np.asarray(vectors, dtype=np.float32), ids=ids,
                                           batch_size=UPLOAD_BATCH, wait=True)
        except VectorStoreError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise self._error("write to", exc) from exc
        self._size += len(vectors)

    def ensure(self, vectors: np.ndarray) -> QdrantIndex:
        """Make the collection hold exactly these rows: rebuilt from them when missing or not the same size."""
        if self._size == len(vectors):
            return self
        started = time.perf_counter()
        try:
            if self._client.collection_exists(self.collection) and self._size > len(vectors):
                self._client.delete_collection(self.collection)
        except Exception as exc:  # noqa: BLE001
            raise self._error("reset", exc) from exc
        # Uploading ids 0..n-1 is idempotent, so workers that rebuild the same collection at once agree.
        self._size = 0
        self.add(vectors)
        log.info("rebuilt Qdrant collection %s (%d vectors) in %.1fs", self.collection, len(vectors),
                 time.perf_counter() - started)
        return self

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, row ids) of shape (len(queries), k); rows past the collection's size get id -1, as FAISS."""
        from qdrant_client import models

        k = max(1, k)
        scores = np.full((len(queries), k), -np.finfo(np.float32).max, dtype=np.float32)
        ids = np.full((len(queries), k), -1, dtype=np.int64)
        if not self._size or not len(queries):
            return scores, ids
        requests = [models.QueryRequest(query=q.astype(np.float32).tolist(), limit=k, with_payload=False)
                    for q in np.atleast_2d(queries)]
        try:
            responses = self._client.query_batch_points(self.collection, requests=requests, timeout=TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001
            raise self._error("search", exc) from exc
        for row, response in enumerate(responses):
            for col, point in enumerate(response.points[:k]):
                scores[row, col] = point.score
                ids[row, col] = int(point.id)
        return scores, ids

    def drop(self) -> None:
        """Delete the collection (old generations' collections on a server); missing is fine."""
        try:
            if self._client.collection_exists(self.collection):
                self._client.delete_collection(self.collection)
        except Exception as exc:  # noqa: BLE001
            raise self._error("delete", exc) from exc
        self._size = 0
