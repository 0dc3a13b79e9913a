"""FAISS behind the VectorIndex interface: exact or approximate inner product over L2-normalised vectors."""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any

import faiss
import numpy as np

log = logging.getLogger(__name__)

FAISS_FILE = "vectors.faiss"  # the index's file in a generation folder
INDEX_KINDS = ("flat", "hnsw", "ivf", "ivfpq")
# What `index_kind = "auto"` builds, from `python -m bench --only ann` on this project's 2-core AVX2
# machine (docs/bench/): exact search stays under ~10 ms per query up to ~50k passages and is never wrong;
# above that, IVF-flat with 2·sqrt(n) cells builds in under a minute at 1M; 64 probes kept recall@10 >= 0.95
# at 100k (0.969) but not at 1M (0.944), where 128 probes did (0.972, p95 17.7 ms): probes grow with the cells.
# HNSW (M=32, efConstruction=40) answered faster at 100k, but its recall collapsed at 1M on archives full of
# near-duplicate passages (0.69 even at efSearch 512), and it took four times longer to build.
AUTO_FLAT_BELOW = 50_000
AUTO_LARGE_KIND = "ivf"
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 40
HNSW_EF_SEARCH = 128
IVF_MIN_PROBES = 64
IVF_PROBED_SHARE = 1 / 16
IVF_TRAINING_POINTS_PER_LIST = 64
PQ_BITS = 8


def choose_index_kind(n_vectors: int) -> str:
    """The kind `index_kind = "auto"` builds: exact below AUTO_FLAT_BELOW vectors, IVF-flat above."""
    return "flat" if n_vectors < AUTO_FLAT_BELOW else AUTO_LARGE_KIND


def ivf_lists(n_vectors: int) -> int:
    """Number of IVF cells: about 2·sqrt(n), with at least 39 points per cell to train on.

    FAISS suggests 4-16·sqrt(n) for billion-scale sets; at 1M that makes k-means take minutes on 2 cores,
    while 2·sqrt(n) cells and 64 probes already keep a query under ~10 ms.
    """
    return max(1, min(round(2 * math.sqrt(n_vectors)), n_vectors // 39))


def ivf_probes(nlist: int) -> int:
    """Cells visited per query: 1/16 of the cells rounded up to a power of two (the values the benchmark swept),
    at least 64: 64 of 632 cells at 100k, 128 of 2,000 at 1M."""
    wanted = max(IVF_MIN_PROBES, 2 ** math.ceil(math.log2(max(1.0, nlist * IVF_PROBED_SHARE))))
    return max(1, min(nlist, wanted))


def _pq_subquantizers(dimension: int) -> int:
    """Bytes per PQ code: 4 dimensions per sub-quantizer, the finest split FAISS's fast PQ kernels take."""
    for m in (dimension // 4, dimension // 8, dimension // 16):
        if m and dimension % m == 0:
            return m
    return 1


def build_vector_index(kind: str, dimension: int, n_vectors: int) -> FaissIndex:
    """An empty index of `kind` ("auto" resolves by n_vectors), sized for about n_vectors vectors.

    IVF kinds are trained by the first add(), on the vectors being indexed.
    """
    if kind == "auto":
        kind = choose_index_kind(n_vectors)
    if kind == "flat":
        description = "Flat"
    elif kind == "hnsw":
        description = f"HNSW{HNSW_M},Flat"
    elif kind == "ivf":
        description = f"IVF{ivf_lists(n_vectors)},Flat"
    elif kind == "ivfpq":
        # 2^bits centroids per sub-quantizer need at least as many training points.
        bits = max(1, min(PQ_BITS, int(math.log2(max(2, n_vectors)))))
        description = f"IVF{ivf_lists(n_vectors)},PQ{_pq_subquantizers(dimension)}x{bits}"
    else:
        raise ValueError(f"unknown index kind {kind!r} (known: auto, {', '.join(INDEX_KINDS)})")
    index = faiss.index_factory(dimension, description, faiss.METRIC_INNER_PRODUCT)
    if kind == "hnsw":
        hnsw = _downcast(index).hnsw
        hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        hnsw.efSearch = HNSW_EF_SEARCH
    elif kind in ("ivf", "ivfpq"):
        ivf = faiss.extract_index_ivf(index)
        ivf.nprobe = ivf_probes(ivf.nlist)
        if kind == "ivfpq":
            # Polysemous training (on by default) costs ~1.5 s per sub-quantizer whatever the corpus size,
            # and only serves Hamming-distance filtering, which this index does not use.
            ivfpq = _downcast(ivf)
            ivfpq.do_polysemous_training = False
            # 40 points per code and 10 k-means rounds train the 96 sub-quantizers in ~20 s instead of ~70 s,
            # with the same recall on the benchmark's vectors.
            ivfpq.pq.cp.max_points_per_centroid = 40
            ivfpq.pq.cp.niter = 10
    return FaissIndex(dimension, index)


def _downcast(index: faiss.Index) -> Any:
    """The index as its own class (IndexHNSWFlat, IndexIVFPQ...), whose knobs faiss's type hints do not declare."""
    return faiss.downcast_index(index)


def kind_of(index: faiss.Index) -> str:
    if isinstance(index, faiss.IndexHNSW):
        return "hnsw"
    if isinstance(index, faiss.IndexIVFPQ):
        return "ivfpq"
    if isinstance(index, faiss.IndexIVF):
        return "ivf"
    return "flat"


class FaissIndex:
    """Inner-product search over one FAISS index; rows are numbered in insertion order."""

    def __init__(self, dimension: int, index: faiss.Index | None = None) -> None:
        self.dimension = dimension
        # The generic proxy owns the C++ index; the downcast one (which exposes hnsw, nprobe...) only borrows it.
        self._owner = index if index is not None else faiss.IndexFlatIP(dimension)
        self._index = _downcast(self._owner)
        self.kind = kind_of(self._index)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    @property
    def params(self) -> dict[str, Any]:
        """The knobs that decide speed and recall, for the manifest."""
        index = self._index
        if self.kind == "hnsw":
            return {"M": index.hnsw.nb_neighbors(1), "efConstruction": index.hnsw.efConstruction,
                    "efSearch": index.hnsw.efSearch}
        if self.kind in ("ivf", "ivfpq"):
            params: dict[str, Any] = {"nlist": index.nlist, "nprobe": index.nprobe}
            if self.kind == "ivfpq":
                params.update(pq_m=index.pq.M, pq_bits=index.pq.nbits)
            return params
        return {}

    def add(self, vectors: np.ndarray) -> None:
        if vectors.ndim != 2 or vectors.shape[1] != self.dimension:
            raise ValueError(f"expected vectors of shape (n, {self.dimension}), got {vectors.shape}")
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if not self._index.is_trained:
            self._train(vectors)
        self._index.add(vectors)

    def _train(self, vectors: np.ndarray) -> None:
        started = time.perf_counter()
        nlist = getattr(self._index, "nlist", 1)
        limit = max(nlist * IVF_TRAINING_POINTS_PER_LIST, 256 * 39)
        if len(vectors) > limit:  # a fixed random sample keeps k-means time bounded and runs reproducible
            rows = np.random.default_rng(0).choice(len(vectors), limit, replace=False)
            vectors = vectors[np.sort(rows)]
        self._index.train(vectors)
        log.info("trained %s index (%d cells) on %d vectors in %.1fs",
                 self.kind, nlist, len(vectors), time.perf_counter() - started)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        k = max(1, min(k, len(self))) if len(self) else 1
        scores, ids = self._index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
        return scores, ids

    def drop(self) -> None:
        """Nothing to delete: the index lives in its generation's vectors.faiss, removed with the folder."""

    def memory_bytes(self) -> int:
        """Size of the serialised index: what it takes in RAM once loaded, to within a few percent."""
        return int(faiss.serialize_index(self._index).nbytes)

    def save(self, path: Path) -> None:
        faiss.write_index(self._index, str(path))

    @classmethod
    def load(cls, path: Path) -> FaissIndex:
        index = faiss.read_index(str(path))
        return cls(index.d, index)
