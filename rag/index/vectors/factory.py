"""Create, open and drop the vector index of one index generation, whichever backend the options name.

A generation holds its vector index as the manifest's vector_store, index_kind and index_params, plus
vectors.faiss for FAISS; a Qdrant collection is always rebuilt from, or checked against, chunk_vectors.npy.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import IndexStaleError, RagError
from rag.index.vectors.base import VectorIndex, VectorStoreOptions
from rag.index.vectors.faiss_index import FAISS_FILE, FaissIndex, build_vector_index

# qdrant_index imports qdrant_client only when a QdrantIndex is made.
from rag.index.vectors.qdrant_index import QdrantIndex, VectorStoreError

QDRANT = "qdrant"


def create_vector_index(options: VectorStoreOptions, dimension: int, vectors: np.ndarray, folder: Path,
                        name: str) -> VectorIndex:
    """The vector index over `vectors` for a new generation named `name`, whose files are being written in `folder`.

    FAISS (of options.index_kind, "auto" chosen by corpus size) is saved there as vectors.faiss. A Qdrant server
    gets the collection `<qdrant_collection>-<name>`, filled now and dropped again if filling fails. An embedded
    Qdrant collection lives in the memory of the process that loads the index, so it is only named here:
    open_vector_index builds it.
    """
    if options.vector_store != QDRANT:
        index = build_vector_index(options.index_kind, dimension, len(vectors))
        index.add(vectors)
        index.save(folder / FAISS_FILE)
        return index
    collection = QdrantIndex(dimension, f"{options.qdrant_collection}-{name}", options.qdrant_url)
    if options.qdrant_url:
        try:
            collection.ensure(vectors)
        except BaseException:
            with contextlib.suppress(RagError):
                collection.drop()
            raise
    return collection


def open_vector_index(folder: Path, manifest: dict[str, Any], vectors: np.ndarray,
                      options: VectorStoreOptions | None) -> VectorIndex:
    """The vector index of the generation in `folder`, as its manifest records it; `vectors` are its chunk vectors.

    `options` (from the config) must ask for the same store and FAISS kind, or the index is stale; they also give
    the Qdrant URL this process should use. A Qdrant collection is checked against (or rebuilt from) `vectors`.
    """
    built = manifest.get("vector_store", "faiss")
    if options is not None and options.vector_store != built:
        raise IndexStaleError(f"the index at {folder} was built for vector_store '{built}', config asks "
                              f"'{options.vector_store}': rebuild with `rag index`")
    if built != QDRANT:
        kind = manifest.get("index_kind")
        if options is not None and options.index_kind not in ("auto", kind):
            raise IndexStaleError(f"the index at {folder} is a '{kind}' FAISS index, config asks "
                                  f"index_kind '{options.index_kind}': rebuild with `rag index`")
        return FaissIndex.load(folder / FAISS_FILE)
    params = manifest.get("index_params") or {}
    # The configured URL wins: workers may reach the same cluster by another address than the builder did.
    url = options.qdrant_url if options is not None else params.get("url", "")
    return QdrantIndex(int(vectors.shape[1]), params["collection"], url).ensure(vectors)


def drop_vector_index(manifest: dict[str, Any]) -> None:
    """Delete what a generation's vector index keeps outside its folder: only a Qdrant server has anything.

    Raises VectorStoreError (a RagError) when the server cannot be reached or refuses.
    """
    if manifest.get("vector_store") != QDRANT:
        return
    # An old generation's manifest is read without read_manifest (its format may be older): check what is used.
    params = manifest.get("index_params") or {}
    damaged = VectorStoreError("its manifest does not say which Qdrant collection it used (settings.dimension, "
                               "index_params.collection and .url): drop it by hand on the server if it is left")
    if not isinstance(params, dict):
        raise damaged
    if not params.get("url"):  # Qdrant's embedded local mode: nothing lives on a server
        return
    settings = manifest.get("settings")
    dimension = settings.get("dimension") if isinstance(settings, dict) else None
    collection, url = params.get("collection"), params["url"]
    if type(dimension) is not int or not isinstance(collection, str) or not isinstance(url, str):
        raise damaged
    QdrantIndex(dimension, collection, url).drop()
