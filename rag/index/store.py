"""The index folder on disk: generations written whole, switched atomically, checked against a manifest."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import IndexCorruptError, IndexLockedError, IndexMissingError, IndexStaleError, RagError
from rag.files import fsync_file, write_atomically
from rag.index.twins import twins_from_manifest
from rag.index.vectors import VectorIndex, VectorStoreOptions, create_vector_index, drop_vector_index, open_vector_index
from rag.schema import Chunk, Document, Sentence, overlap

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
POINTER = "CURRENT"
MANIFEST = "manifest.json"
KEEP_GENERATIONS = 2


@dataclass(frozen=True)
class IndexSettings:
    """Everything that, when changed, makes an existing index stale."""

    model_id: str
    dimension: int
    chunk_size: int
    chunk_overlap: int
    passage_template: str
    sentence_template: str
    sentence_window: int = 0
    # Version of the code that turns files into indexed text (cleaning, metadata, sentences, chunks): a
    # change there must rebuild indexes whose files and settings did not change.
    text_pipeline: int = 0


@dataclass(frozen=True)
class StoredIndex:
    """One loaded generation: the data the retriever and answerer work on."""

    path: Path
    manifest: dict[str, Any]
    documents: dict[str, Document]
    chunks: list[Chunk]
    sentences: list[Sentence]
    chunk_vectors: np.ndarray
    sentence_vectors: np.ndarray
    vector_index: VectorIndex

    @property
    def generation(self) -> str:
        return self.path.name

    @cached_property
    def twins(self) -> dict[str, str]:
        """{doc_id: doc_id of the same release in another language} (rag.index.twins), both ways."""
        return {a: b for a, b in twins_from_manifest(self.manifest).items()
                if a in self.documents and b in self.documents}

    @cached_property
    def sentence_rows_by_chunk(self) -> list[list[int]]:
        """For each chunk row, the rows of the sentences that overlap the chunk, in text order."""
        by_doc: dict[str, list[int]] = {}
        for row, sentence in enumerate(self.sentences):
            by_doc.setdefault(sentence.doc_id, []).append(row)
        return [
            [r for r in by_doc.get(chunk.doc_id, []) if overlap(self.sentences[r], chunk)]
            for chunk in self.chunks
        ]


def corpus_fingerprint(documents: list[Document]) -> str:
    digest = hashlib.sha256()
    for doc in sorted(documents, key=lambda d: d.doc_id):
        digest.update(f"{doc.doc_id}\0{doc.content_hash}\n".encode())
    return digest.hexdigest()


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_jsonl(path: Path, records: list[Any]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(asdict(record), ensure_ascii=False) + "\n")


def _read_jsonl(path: Path, cls: type) -> list[Any]:
    with path.open(encoding="utf-8") as handle:
        return [cls(**json.loads(line)) for line in handle if line.strip()]


LOCK = ".lock"


def lock_holder(index_dir: Path) -> str:
    """Who holds the writer lock, as the writer wrote it ("pid 1234"), for a message."""
    try:
        return (index_dir / LOCK).read_text(encoding="utf-8", errors="replace").strip()[:40] or "another process"
    except OSError:
        return "another process"


@contextlib.contextmanager
def writer_lock(index_dir: Path) -> Iterator[None]:
    """Exclusive lock on the index folder; a second writer is refused at once rather than queued."""
    index_dir.mkdir(parents=True, exist_ok=True)
    lock_path = index_dir / LOCK
    with lock_path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = lock_holder(index_dir)
            raise IndexLockedError(
                f"the index at {index_dir} is being written by {holder}; wait for it to finish and try again"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        try:
            yield
        finally:
            handle.truncate(0)
            fcntl.flock(handle, fcntl.LOCK_UN)


def save_generation(
    index_dir: Path,
    settings: IndexSettings,
    documents: list[Document],
    chunks: list[Chunk],
    sentences: list[Sentence],
    chunk_vectors: np.ndarray,
    sentence_vectors: np.ndarray,
    extra: dict[str, Any] | None = None,
    store: VectorStoreOptions | None = None,
) -> Path:
    """Write a complete new generation, then switch CURRENT to it in one rename. Caller holds the lock.

    `store` says which vector index to build (default: FAISS, its kind chosen by corpus size).
    """
    store = store or VectorStoreOptions()
    index_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=index_dir))
    final = index_dir / f"gen-{stamp}"
    vector_index: VectorIndex | None = None
    try:
        started = time.perf_counter()
        vector_index = create_vector_index(store, settings.dimension, chunk_vectors, staging, final.name)
        log.info("built the %s vector index over %d passages in %.1fs", vector_index.kind, len(chunk_vectors),
                 time.perf_counter() - started)
        np.save(staging / "chunk_vectors.npy", chunk_vectors.astype(np.float32))
        np.save(staging / "sentence_vectors.npy", sentence_vectors.astype(np.float32))
        _write_jsonl(staging / "documents.jsonl", documents)
        _write_jsonl(staging / "chunks.jsonl", chunks)
        _write_jsonl(staging / "sentences.jsonl", sentences)
        files = {p.name: _file_sha256(p) for p in sorted(staging.iterdir())}
        manifest = {
            "format_version": FORMAT_VERSION,
            "settings": asdict(settings),
            "corpus_fingerprint": corpus_fingerprint(documents),
            "documents": len(documents),
            "chunks": len(chunks),
            "sentences": len(sentences),
            "index_kind": vector_index.kind,
            "index_params": vector_index.params,
            "vector_store": store.vector_store,
            "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "files": files,
            **(extra or {}),
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")
        for path in staging.iterdir():
            fsync_file(path)
        staging.rename(final)
        write_atomically(index_dir / POINTER, (final.name + "\n").encode("utf-8"), durable=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if vector_index is not None:  # a collection on a server outlives the staging folder
            with contextlib.suppress(RagError):
                vector_index.drop()
        raise
    _prune_generations(index_dir, keep=final.name)
    return final


def _prune_generations(index_dir: Path, keep: str) -> None:
    """Drop old generations and abandoned staging folders; keep the newest few for readers still on them."""
    generations = sorted((p for p in index_dir.glob("gen-*") if p.is_dir()), key=lambda p: p.name)
    for old in generations[:-KEEP_GENERATIONS]:
        if old.name != keep:
            _drop_vector_index(old)
            shutil.rmtree(old, ignore_errors=True)
    for staging in index_dir.glob(".staging-*"):
        shutil.rmtree(staging, ignore_errors=True)


def _drop_vector_index(generation: Path) -> None:
    """What a generation's vector index keeps outside its folder goes with it; an unreachable server only warns."""
    try:
        manifest = json.loads((generation / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # unreadable, not UTF-8, not JSON
        log.warning("cannot read the manifest of %s (%s): if it used a Qdrant collection, drop it on the server",
                    generation.name, exc)
        return
    if not isinstance(manifest, dict):
        log.warning("the manifest of %s is not an object: if it used a Qdrant collection, drop it on the server",
                    generation.name)
        return
    try:
        drop_vector_index(manifest)
    except RagError as exc:
        log.warning("could not drop the collection of %s: %s", generation.name, exc)


def current_generation(index_dir: Path) -> Path:
    pointer = index_dir / POINTER
    if not pointer.exists():
        raise IndexMissingError(f"no index at {index_dir}: build it with `rag index` (or `make index`)")
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise IndexCorruptError(f"cannot read {pointer} ({exc}): rebuild with `rag index`") from None
    path = index_dir / name
    # Only a folder right in index_dir: a pointer may not lead elsewhere ("gen-x/../../home").
    if not name.startswith("gen-") or Path(name).name != name or "\0" in name or not path.is_dir():
        raise IndexCorruptError(
            f"{pointer} points to {name[:80]!r}, which is not an index generation: rebuild with `rag index`"
        )
    return path


def _is_list_of(value: Any, kind: type) -> bool:
    return isinstance(value, list) and all(isinstance(item, kind) for item in value)


# The manifest's keys that readers use, with the shape each must have; a key marked optional may be absent.
_MANIFEST_SHAPE: dict[str, tuple[str, bool, Any]] = {
    "settings": ("an object", True, lambda v: isinstance(v, dict)),
    "files": ("an object of file names and checksums", True,
              lambda v: isinstance(v, dict) and all(isinstance(h, str) and Path(n).name == n for n, h in v.items())),
    "sources": ("a list of paths", False, lambda v: _is_list_of(v, str)),
    "source_fingerprint": ("a string", False, lambda v: isinstance(v, str)),
    "corpus_dir": ("a path or null", False, lambda v: v is None or isinstance(v, str)),
    "excluded_doc_ids": ("a list of document ids", False, lambda v: _is_list_of(v, str)),
    "vector_store": ("a string", False, lambda v: isinstance(v, str)),
    "index_kind": ("a string or null", False, lambda v: v is None or isinstance(v, str)),
    "index_params": ("an object or null", False, lambda v: v is None or isinstance(v, dict)),
}


def read_manifest(generation: Path) -> dict[str, Any]:
    """The generation's manifest, checked to have the shape every reader relies on (a hand-edited or damaged
    manifest that is valid JSON is corrupt, not a traceback)."""
    path = generation / MANIFEST
    try:
        manifest: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise IndexCorruptError(f"cannot read {path} ({exc}): rebuild with `rag index`") from exc
    if not isinstance(manifest, dict):
        raise IndexCorruptError(f"{path} is not an index manifest (a JSON {type(manifest).__name__}): "
                                "rebuild with `rag index`")
    version = manifest.get("format_version")
    if type(version) is not int:
        raise IndexCorruptError(f"{path} has no valid format_version (found {version!r}): rebuild with `rag index`")
    if version != FORMAT_VERSION:
        raise IndexStaleError(f"the index at {generation} has format {version}, this version reads format "
                              f"{FORMAT_VERSION}: rebuild with `rag index`")
    for key, (shape, required, valid) in _MANIFEST_SHAPE.items():
        if key not in manifest and not required:
            continue
        if key not in manifest or not valid(manifest[key]):
            found = f"found {type(manifest[key]).__name__}" if key in manifest else "missing"
            raise IndexCorruptError(f"{path}: '{key}' must be {shape} ({found}): rebuild with `rag index`")
    return manifest


def check_settings(manifest: dict[str, Any], expected: IndexSettings) -> None:
    built = manifest.get("settings", {})
    differences = [
        f"{key}: index has {built.get(key)!r}, config asks {value!r}"
        for key, value in asdict(expected).items()
        if built.get(key) != value
    ]
    if differences:
        raise IndexStaleError(
            "the index was built with other settings (" + "; ".join(differences) + "): rebuild with `rag index`"
        )


def load_generation(index_dir: Path, verify_checksums: bool = True,
                    store: VectorStoreOptions | None = None) -> StoredIndex:
    """Load the current generation; any missing or altered file raises IndexCorruptError, never a traceback.

    The vector index is the one the manifest records; `store` (from the config) must agree with it and
    supplies the Qdrant URL this process should use.
    """
    started = time.perf_counter()
    generation = current_generation(index_dir)
    manifest = read_manifest(generation)
    try:
        if verify_checksums:
            for name, expected in manifest["files"].items():
                if _file_sha256(generation / name) != expected:
                    raise IndexCorruptError(
                        f"{generation / name} does not match its checksum in the manifest: rebuild with `rag index`"
                    )
        documents = {d.doc_id: d for d in _read_jsonl(generation / "documents.jsonl", Document)}
        chunks = _read_jsonl(generation / "chunks.jsonl", Chunk)
        sentences = _read_jsonl(generation / "sentences.jsonl", Sentence)
        chunk_vectors = np.load(generation / "chunk_vectors.npy")
        sentence_vectors = np.load(generation / "sentence_vectors.npy")
        vector_index = open_vector_index(generation, manifest, chunk_vectors, store)
    except (IndexCorruptError, IndexStaleError):
        raise
    except (OSError, ValueError, TypeError, KeyError, RuntimeError, json.JSONDecodeError) as exc:
        raise IndexCorruptError(f"cannot read the index at {generation} ({exc}): rebuild with `rag index`") from exc
    if not (len(chunks) == len(vector_index) == chunk_vectors.shape[0] and len(sentences) == sentence_vectors.shape[0]):
        raise IndexCorruptError(f"the index at {generation} has mismatched parts: rebuild with `rag index`")
    log.info("loaded index %s (%d chunks) in %.2fs", generation.name, len(chunks), time.perf_counter() - started)
    return StoredIndex(generation, manifest, documents, chunks, sentences, chunk_vectors, sentence_vectors,
                       vector_index)
