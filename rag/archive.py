"""The archive as a person manages it from the page: the indexed releases listed, files added, a release removed.

The page's Releases tab calls these. They run the same incremental build as `rag add` and `rag remove`
(rag.index.build.build_index): uploaded files are copied into one managed folder, which is itself an indexed
source, so an upload is `rag add UPLOADS_DIR` and the index never depends on the browser's temporary files.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

from rag.config import RagConfig
from rag.errors import CorpusError
from rag.index.build import BuildReport, build_index
from rag.protocols import Embedder
from rag.schema import Chunk, Document
from rag.text.loading import SUPPORTED_SUFFIXES, load_documents

log = logging.getLogger(__name__)

Outcome = Literal["added", "updated", "unchanged", "skipped"]
# (fraction done, what is happening): a progress bar's two arguments.
ProgressCallback = Callable[[float, str], None]
_UNSAFE_NAME = re.compile(r"[^\w.\- ()]+")
MAX_NAME_CHARS = 120
# Passages embedded per model pass during an upload: a chat question waits for at most one such pass.
UPLOAD_BATCH = 8


def default_uploads_dir(config: RagConfig) -> Path:
    """Where the page keeps uploaded releases: an `uploads` folder beside the index folder."""
    return Path(config.index_dir).resolve().parent / "uploads"


@dataclass(frozen=True)
class ReleaseSummary:
    """One indexed release as the Releases tab lists it."""

    doc_id: str
    title: str | None
    date: str | None
    lang: str
    passages: int
    source: str


class IndexedReleases(Protocol):
    """What the listing reads of a loaded index generation (rag.index.store.StoredIndex)."""

    @property
    def documents(self) -> Mapping[str, Document]: ...

    @property
    def chunks(self) -> Sequence[Chunk]: ...


def list_releases(stored: IndexedReleases) -> list[ReleaseSummary]:
    """The releases of an index generation, newest first (undated last), then by id."""
    passages = Counter(chunk.doc_id for chunk in stored.chunks)
    releases = [ReleaseSummary(d.doc_id, d.title, d.date, d.lang, passages[d.doc_id], d.source)
                for d in stored.documents.values()]
    releases.sort(key=lambda r: r.doc_id)
    releases.sort(key=lambda r: r.date or "", reverse=True)
    return releases


@dataclass(frozen=True)
class FileOutcome:
    """What became of one uploaded file."""

    name: str
    outcome: Outcome
    doc_id: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class ArchiveChange:
    """An upload or a removal: what happened to each file, and the index generation it published (None when
    nothing was built)."""

    files: tuple[FileOutcome, ...]
    removed: tuple[str, ...]
    generation: str | None
    releases: int | None
    seconds: float
    stages_s: tuple[tuple[str, float], ...] = ()  # the build's stages (load_and_clean, chunk, embed, save)


def upload_name(name: str) -> str:
    """A file name safe to write in the uploads folder: no folders, no leading dot, no odd characters."""
    base = _UNSAFE_NAME.sub("_", Path(name.replace("\\", "/")).name).strip(" .")
    stem, suffix = os.path.splitext(base)
    return (stem[:MAX_NAME_CHARS] or "release") + suffix.lower()


class _BatchedEmbedder:
    """Embeds passages a batch at a time: each batch moves the progress bar, and the page's questions get the
    model between batches (it runs one pass at a time, questions first: rag.embed.turns), so that one call over
    every new passage does not hold a question for the whole build."""

    def __init__(self, embedder: Embedder, batch: int, on_progress: ProgressCallback, span: tuple[float, float]):
        self._embedder = embedder
        self.model_id = embedder.model_id
        self.dimension = embedder.dimension
        self._batch = max(1, batch)
        self._on_progress = on_progress
        self._span = span

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embedder.embed_queries(texts)

    def embed_passages(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        if not texts:
            return self._embedder.embed_passages(texts)
        low, high = self._span
        parts = []
        for start in range(0, len(texts), self._batch):
            self._on_progress(low + (high - low) * start / len(texts), f"embedding {start}/{len(texts)} passages")
            parts.append(self._embedder.embed_passages(texts[start:start + self._batch]))
        return np.vstack(parts)


def _ignore_progress(fraction: float, message: str) -> None:
    """No progress bar to move."""


def add_files(config: RagConfig, embedder: Embedder, files: Sequence[Path], uploads_dir: Path,
              names: Sequence[str] | None = None, on_progress: ProgressCallback = _ignore_progress) -> ArchiveChange:
    """Copy readable releases into `uploads_dir` and index them incrementally; `names` are the names the files
    had for the person who uploaded them (default: the files' own names)."""
    started = time.perf_counter()
    uploads_dir.mkdir(parents=True, exist_ok=True)
    outcomes: dict[str, FileOutcome] = {}
    stored: list[Path] = []
    for number, (path, given) in enumerate(zip(files, names or [Path(f).name for f in files])):
        on_progress(0.1 * number / len(files), f"reading {given}")
        name = upload_name(given)
        reason = _unusable(Path(path), name)
        if reason:
            outcomes[name] = FileOutcome(name, "skipped", reason=reason)
            continue
        target = uploads_dir / name
        _copy_atomically(Path(path), target)
        stored.append(target)
        outcomes[name] = FileOutcome(name, "unchanged")  # until the build says otherwise
    if not stored:
        return ArchiveChange(tuple(outcomes.values()), (), None, None, time.perf_counter() - started)

    on_progress(0.1, "reading and cleaning the releases")
    batched = _BatchedEmbedder(embedder, min(config.embed_batch_size, UPLOAD_BATCH), on_progress, (0.1, 0.95))
    report = build_index(config, batched, add=[uploads_dir], show_progress=False)
    rejected = _rejected_uploads(report, stored)
    if rejected:
        # A copy the build would skip every time (the same text as another release) does not stay in the folder.
        for path in rejected:
            path.unlink(missing_ok=True)
        report = _merge(report, build_index(config, batched, add=[uploads_dir], show_progress=False))
    on_progress(1.0, "done")
    for path in stored:
        doc_id = path.relative_to(uploads_dir).with_suffix("").as_posix()
        if path in rejected:
            outcomes[path.name] = FileOutcome(path.name, "skipped", reason=rejected[path])
        else:
            status: Outcome = ("added" if doc_id in report.added else "updated" if doc_id in report.updated
                               else "unchanged")
            outcomes[path.name] = FileOutcome(path.name, status, doc_id)
    return ArchiveChange(tuple(outcomes.values()), tuple(report.removed), _name(report), _count(report),
                         time.perf_counter() - started, tuple(report.timings_s.items()))


def remove_release(config: RagConfig, embedder: Embedder, release: ReleaseSummary,
                   uploads_dir: Path) -> ArchiveChange:
    """Take a release out of the index. Its file is deleted only when the page uploaded it (it is in
    `uploads_dir`); a release from the corpus folder is excluded, and its file left where it is."""
    started = time.perf_counter()
    path = Path(release.source).resolve()
    if path.is_relative_to(uploads_dir.resolve()):
        path.unlink(missing_ok=True)  # first, so that the index records the folder as it is
    report = build_index(config, embedder, remove=[release.doc_id], show_progress=False)
    return ArchiveChange((), tuple(report.removed), _name(report), _count(report), time.perf_counter() - started,
                         tuple(report.timings_s.items()))


def _unusable(path: Path, name: str) -> str | None:
    """Why an uploaded file cannot be indexed (read alone, as the build will read it), or None."""
    suffix = Path(name).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        return f"unsupported file type '{suffix or '(none)'}' (supported: {', '.join(SUPPORTED_SUFFIXES)})"
    with tempfile.TemporaryDirectory(prefix="rag-upload-") as folder:
        probe = Path(folder) / name
        try:
            os.link(path, probe)
        except OSError:
            shutil.copyfile(path, probe)
        try:
            report = load_documents([probe])
        except CorpusError as exc:
            return str(exc)
    return report.skipped[0].reason if report.skipped else None


def _copy_atomically(source: Path, target: Path) -> None:
    partial = target.with_name(f".{target.name}.partial")
    shutil.copyfile(source, partial)
    os.replace(partial, target)


def _rejected_uploads(report: BuildReport, stored: list[Path]) -> dict[Path, str]:
    skipped = {Path(s.source).resolve(): s.reason for s in report.skipped}
    return {path: skipped[path.resolve()] for path in stored if path.resolve() in skipped}


def _merge(first: BuildReport, second: BuildReport) -> BuildReport:
    """The second build's generation, with what the first one added or updated (the second found it unchanged)."""
    second.added = sorted(set(first.added) | set(second.added))
    second.updated = sorted(set(first.updated) | set(second.updated) - set(second.added))
    second.unchanged = sorted(set(second.unchanged) - set(second.added) - set(second.updated))
    return second


def _name(report: BuildReport) -> str | None:
    return report.generation.name if report.generation else None


def _count(report: BuildReport) -> int:
    return len(report.added) + len(report.updated) + len(report.unchanged)
