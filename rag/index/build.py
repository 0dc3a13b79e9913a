"""Build or refresh the index: load sources, chunk, embed only what changed, write a new generation."""

from __future__ import annotations

import difflib
import logging
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rag.config import RagConfig
from rag.errors import CorpusError, RagError
from rag.index.freshness import corpus_moved, recorded_stamps, resolved_path, stamps_record
from rag.index.store import IndexSettings, StoredIndex, load_generation, save_generation, writer_lock
from rag.index.twins import find_twins
from rag.index.vectors import VectorStoreOptions
from rag.protocols import Embedder
from rag.schema import Chunk, Document, Sentence
from rag.text.chunking import chunk_document, sentences_of
from rag.text.dates import readable_date
from rag.text.loading import (
    FileStamp,
    SkippedSource,
    is_tagged_id,
    load_documents,
    stamp_sources,
    stamps_fingerprint,
)

log = logging.getLogger(__name__)

# What is embedded for a passage: its release's title and date come first, so that a question naming
# the meeting ("the November 2024 meeting") can reach a passage deep in the release.
EMBED_TEMPLATE = "{title}\n{date}\n{text}"

def embed_text(title: str | None, date: str | None, text: str, template: str = EMBED_TEMPLATE) -> str:
    return template.format(title=title or "", date=readable_date(date), text=text).strip()


def _with_preceding(sentences: list[Sentence], index: int, window: int) -> str:
    """The sentence with up to `window` sentences before it from the same release."""
    start = index
    while start > 0 and index - start < window and sentences[start - 1].doc_id == sentences[index].doc_id:
        start -= 1
    return " ".join(s.text for s in sentences[start:index + 1])


# Bump when cleaning, metadata extraction, sentence splitting or chunking changes what a file becomes.
TEXT_PIPELINE_VERSION = 6


def index_settings(config: RagConfig, embedder: Embedder) -> IndexSettings:
    return IndexSettings(
        model_id=embedder.model_id,
        dimension=embedder.dimension,
        chunk_size=config.chunk_size,
        chunk_overlap=config.chunk_overlap,
        passage_template=EMBED_TEMPLATE if config.passage_context else "{text}",
        sentence_template=EMBED_TEMPLATE if config.sentence_context else "{text}",
        sentence_window=config.sentence_window,
        text_pipeline=TEXT_PIPELINE_VERSION,
    )


@dataclass
class BuildReport:
    generation: Path | None = None
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    dropped_sources: list[str] = field(default_factory=list)  # sources `remove` named, or that went with a release
    skipped: list[SkippedSource] = field(default_factory=list)  # the files this build skipped anew
    # Skipped by an earlier build for the same reason, and unchanged since: not reported again.
    skipped_before: list[SkippedSource] = field(default_factory=list)
    embedded_documents: int = 0
    timings_s: dict[str, float] = field(default_factory=dict)
    chunks: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)


def _current(config: RagConfig) -> StoredIndex | None:
    try:
        return load_generation(config.index_dir)
    except RagError as exc:
        log.info("no usable current index (%s)", exc)
        return None


def _resolved_sources(paths: list[Path]) -> list[Path]:
    """Absolute, each once: the manifest's sources must mean the same folders from any working directory."""
    return [Path(p) for p in dict.fromkeys(str(path.resolve()) for path in paths)]


def build_index(
    config: RagConfig,
    embedder: Embedder,
    sources: list[Path] | None = None,
    show_progress: bool = True,
    add: list[Path] | None = None,
    remove: list[str] | None = None,
    prune: bool = False,
) -> BuildReport:
    """Index the releases under the sources, embedding only new or changed ones, and publish a new generation.

    `sources` replaces the indexed sources (default: those of the current index, else the corpus folder);
    `add` appends paths to them; `remove` excludes releases (see _plan_removal); releases whose files have
    vanished are kept unless `prune` is set. Ids are unique and stable (see rag.text.loading.assign_doc_ids).
    """
    report = BuildReport()
    with writer_lock(config.index_dir):
        started = time.perf_counter()
        current = _current(config)
        manifest = current.manifest if current else {}
        if sources is None:
            sources = [Path(p) for p in manifest.get("sources", [])] or [config.corpus_dir]
            moved_from = corpus_moved(manifest, config)
            if moved_from:
                log.info("the corpus folder is now %s (the index was built from %s)", config.corpus_dir, moved_from)
                sources = [config.corpus_dir] + [p for p in sources if resolved_path(p) != moved_from]
        sources = _resolved_sources(list(sources) + list(add or []))
        removal = _plan_removal(remove or [], current, sources)
        sources = [p for p in sources if str(p) not in removal.sources]
        report.dropped_sources = list(removal.sources)
        # Recorded only when the index reads that folder: an index of explicit --source folders does not follow
        # the configured corpus folder.
        configured = resolved_path(config.corpus_dir)
        corpus_dir = configured if configured in map(str, sources) else None
        # Removed releases, by the resolved path of their file (the id stays theirs); ids alone in indexes
        # written before paths were recorded, and in a removal asked of an index that could not be read.
        excluded = _recorded_exclusions(manifest)
        excluded_ids = {str(i) for i in manifest.get("excluded_doc_ids", [])}
        if current is None:
            excluded_ids |= set(remove or [])
        excluded.update(removal.releases)
        # Adding a file back lifts an earlier removal of it.
        for path in [p for p in excluded if add and any(_within(p, a) for a in add)]:
            del excluded[path]

        previous_stamps = recorded_stamps(manifest)
        stamps = stamp_sources(sources, previous_stamps)  # before reading: a file changed meanwhile looks stale
        expected_skips = _unchanged_skips(manifest, previous_stamps, stamps)
        known_ids = {resolved_path(d.source): d.doc_id for d in (current.documents.values() if current else [])}
        loaded = load_documents(sources, known_ids={**known_ids, **excluded}, expected_skips=expected_skips)
        report.skipped = [s for s in loaded.skipped if expected_skips.get(s.source) != s.reason]
        report.skipped_before = [s for s in loaded.skipped if expected_skips.get(s.source) == s.reason]

        documents = []
        for doc in loaded.documents:
            if doc.doc_id in excluded_ids and add and any(_within(doc.source, p) for p in add):
                excluded_ids.discard(doc.doc_id)
            if resolved_path(doc.source) in excluded:
                continue
            if doc.doc_id in excluded_ids:  # an id-only removal now knows its file
                excluded_ids.discard(doc.doc_id)
                excluded[resolved_path(doc.source)] = doc.doc_id
                continue
            documents.append(doc)
        if current is not None and not prune:
            loaded_ids = {d.doc_id for d in loaded.documents}
            loaded_texts = {d.content_hash for d in loaded.documents}
            for doc in current.documents.values():
                if (doc.doc_id in loaded_ids or doc.doc_id in excluded_ids or resolved_path(doc.source) in excluded
                        or Path(doc.source).exists()):
                    continue
                if doc.content_hash in loaded_texts:
                    log.info("%s: its file %s is gone and its text is now read from another file", doc.doc_id,
                             doc.source)
                    continue
                log.info("%s: its file %s is gone; kept (use --prune to drop it)", doc.doc_id, doc.source)
                documents.append(doc)
        report.timings_s["load_and_clean"] = time.perf_counter() - started
        if not documents:
            raise CorpusError(
                f"no usable release under {', '.join(map(str, sources))} "
                f"({len(loaded.skipped)} file(s) skipped): add .txt, .md, .html, .pdf or .docx files"
            )
        settings = index_settings(config, embedder)
        reusable = current if current is not None and current.manifest.get("settings") == asdict(settings) else None
        if current is not None and reusable is None:
            log.info("index settings changed: every document is embedded again")
        report.generation = _write(
            config, embedder, settings, documents, current, reusable, report, show_progress,
            {"sources": [str(p) for p in sources],
             "source_fingerprint": stamps_fingerprint(stamps),
             "source_files": stamps_record(stamps),
             "skipped_files": {s.source: s.reason for s in loaded.skipped},
             "corpus_dir": corpus_dir,
             "excluded_doc_ids": sorted(excluded_ids),
             "excluded_sources": dict(sorted(excluded.items()))},
        )
    return report


def _recorded_exclusions(manifest: Mapping[str, Any]) -> dict[str, str]:
    """{resolved path: id} of the releases removed from the index."""
    recorded = manifest.get("excluded_sources")
    if not isinstance(recorded, dict):
        return {}
    return {str(path): str(doc_id) for path, doc_id in recorded.items()}


def _unchanged_skips(manifest: Mapping[str, Any], previous: Mapping[str, FileStamp],
                     stamps: Mapping[str, FileStamp]) -> dict[str, str]:
    """{path: reason} of the files the last build skipped and that did not change since."""
    skipped = manifest.get("skipped_files")
    if not isinstance(skipped, dict):
        return {}
    return {path: str(reason) for path, reason in skipped.items()
            if path in stamps and stamps[path].same_file(previous.get(path))}


@dataclass(frozen=True)
class _Removal:
    releases: dict[str, str] = field(default_factory=dict)  # {resolved path of its file: id}
    sources: tuple[str, ...] = ()  # resolved paths of the sources that go with them


def _plan_removal(names: list[str], current: StoredIndex | None, sources: list[Path]) -> _Removal:
    """What `rag remove NAME…` removes: each name is a release's id; or the name its id was told apart from
    (`release` for `release-3f2a9c`), when exactly one release has it; or a source of the index (a file or
    folder, e.g. one that holds no usable release). A release added as a file of its own takes that source
    with it. Anything else removes nothing and raises CorpusError naming the ids that match or come close."""
    if not names or current is None:
        return _Removal()
    documents = current.documents
    source_paths = {str(p) for p in sources}
    releases: dict[str, str] = {}
    dropped: list[str] = []
    for name in names:
        if not name.strip():
            raise CorpusError("`rag remove` takes document ids, as cited in answers; an empty one names nothing")
        if name in documents:
            doc_id = name
        elif tagged := sorted(d.doc_id for d in documents.values() if is_tagged_id(d.doc_id, name, d.source)):
            if len(tagged) > 1:
                listed = ", ".join(f"{i} ({documents[i].source})" for i in tagged)
                raise CorpusError(f"{name} names {len(tagged)} releases: {listed}; remove one by its id")
            doc_id = tagged[0]
        elif resolved_path(name) in source_paths:
            dropped.append(resolved_path(name))
            continue
        else:
            close = [i for i in documents if name.casefold() in i.casefold()]
            close += difflib.get_close_matches(name, list(documents), n=5, cutoff=0.6)
            hint = f" (close: {', '.join(list(dict.fromkeys(close))[:5])})" if close else ""
            raise CorpusError(f"no document {name} in the index{hint}; `rag ask` answers list the ids it cites")
        own_file = resolved_path(documents[doc_id].source)
        releases[own_file] = doc_id
        if own_file in source_paths:
            dropped.append(own_file)
    return _Removal(releases, tuple(dict.fromkeys(dropped)))


def _stack(vectors: list[np.ndarray | None]) -> np.ndarray:
    """One matrix of the rows, every one of which was reused or embedded by now."""
    if any(v is None for v in vectors):
        raise AssertionError("a passage or sentence was neither reused nor embedded")
    return np.vstack([v for v in vectors if v is not None])


def _within(source: str, root: Path) -> bool:
    path = Path(source).resolve()
    root = root.resolve()
    return path == root or root in path.parents


def _write(
    config: RagConfig,
    embedder: Embedder,
    settings: IndexSettings,
    documents: list[Document],
    current: StoredIndex | None,
    previous: StoredIndex | None,
    report: BuildReport,
    show_progress: bool,
    extra: dict[str, object],
) -> Path:
    started = time.perf_counter()
    reusable: dict[str, tuple[list[np.ndarray], list[np.ndarray]]] = {}
    old_hashes: dict[str, str] = {}
    if current is not None:
        old_hashes = {d.doc_id: d.content_hash for d in current.documents.values()}
    if previous is not None:
        rows_by_doc: dict[str, list[int]] = {}
        for row, chunk in enumerate(previous.chunks):
            rows_by_doc.setdefault(chunk.doc_id, []).append(row)
        sentence_rows: dict[str, list[int]] = {}
        for row, sentence in enumerate(previous.sentences):
            sentence_rows.setdefault(sentence.doc_id, []).append(row)
        for doc in previous.documents.values():
            reusable[doc.content_hash] = (
                [previous.chunk_vectors[r] for r in rows_by_doc.get(doc.doc_id, [])],
                [previous.sentence_vectors[r] for r in sentence_rows.get(doc.doc_id, [])],
            )

    chunks: list[Chunk] = []
    sentences: list[Sentence] = []
    chunk_vectors: list[np.ndarray | None] = []
    sentence_vectors: list[np.ndarray | None] = []
    to_embed_chunks: list[int] = []
    to_embed_sentences: list[int] = []
    for doc in documents:
        doc_chunks = chunk_document(doc, config.chunk_size, config.chunk_overlap)
        doc_sentences = sentences_of(doc, doc_chunks, len(sentences))
        cached = reusable.get(doc.content_hash)
        if cached and len(cached[0]) == len(doc_chunks) and len(cached[1]) == len(doc_sentences):
            chunk_vectors.extend(cached[0])
            sentence_vectors.extend(cached[1])
        else:
            to_embed_chunks.extend(range(len(chunks), len(chunks) + len(doc_chunks)))
            to_embed_sentences.extend(range(len(sentences), len(sentences) + len(doc_sentences)))
            chunk_vectors.extend([None] * len(doc_chunks))
            sentence_vectors.extend([None] * len(doc_sentences))
            report.embedded_documents += 1
        if doc.doc_id not in old_hashes:
            report.added.append(doc.doc_id)
        elif old_hashes[doc.doc_id] != doc.content_hash:
            report.updated.append(doc.doc_id)
        else:
            report.unchanged.append(doc.doc_id)
        chunks.extend(doc_chunks)
        sentences.extend(doc_sentences)
    report.removed = sorted(set(old_hashes) - {d.doc_id for d in documents})
    report.timings_s["chunk"] = time.perf_counter() - started

    started = time.perf_counter()
    titles = {d.doc_id: d for d in documents}
    texts = [
        embed_text(chunks[i].title, chunks[i].date, chunks[i].text, settings.passage_template)
        for i in to_embed_chunks
    ]
    texts += [
        embed_text(titles[sentences[i].doc_id].title, titles[sentences[i].doc_id].date,
                   _with_preceding(sentences, i, settings.sentence_window), settings.sentence_template)
        for i in to_embed_sentences
    ]
    if texts:
        log.info("embedding %d passages and %d sentences", len(to_embed_chunks), len(to_embed_sentences))
        vectors = embedder.embed_passages(texts, show_progress=show_progress)
        for slot, i in enumerate(to_embed_chunks):
            chunk_vectors[i] = vectors[slot]
        for slot, i in enumerate(to_embed_sentences, start=len(to_embed_chunks)):
            sentence_vectors[i] = vectors[slot]
    report.timings_s["embed"] = time.perf_counter() - started

    started = time.perf_counter()
    sentence_matrix = _stack(sentence_vectors) if sentence_vectors else np.zeros((0, settings.dimension), np.float32)
    twins = find_twins(documents, sentences, sentence_matrix)
    report.timings_s["twins"] = time.perf_counter() - started

    started = time.perf_counter()
    generation = save_generation(
        config.index_dir,
        settings,
        documents,
        chunks,
        sentences,
        _stack(chunk_vectors) if chunk_vectors else np.zeros((0, settings.dimension), np.float32),
        sentence_matrix,
        extra={**extra, "twins": twins},
        store=VectorStoreOptions.from_config(config),
    )
    report.timings_s["save"] = time.perf_counter() - started
    report.chunks = len(chunks)
    return generation
