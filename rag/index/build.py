"""Build or refresh the index: load sources, chunk, embed only what changed, write a new generation."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from rag.config import RagConfig
from rag.errors import CorpusError, RagError
from rag.index.freshness import corpus_moved, resolved_path
from rag.index.store import IndexSettings, StoredIndex, load_generation, save_generation, writer_lock
from rag.index.vectors import VectorStoreOptions
from rag.protocols import Embedder
from rag.schema import Chunk, Document, Sentence
from rag.text.chunking import chunk_document, sentences_of
from rag.text.dates import readable_date
from rag.text.loading import SkippedSource, load_documents, source_fingerprint

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
TEXT_PIPELINE_VERSION = 5


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
    skipped: list[SkippedSource] = field(default_factory=list)
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
    `add` appends paths to them; `remove` excludes documents by id; releases whose files have vanished are
    kept unless `prune` is set.
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
        # Recorded only when the index reads that folder: an index of explicit --source folders does not follow
        # the configured corpus folder.
        configured = resolved_path(config.corpus_dir)
        corpus_dir = configured if configured in map(str, sources) else None
        excluded = set(manifest.get("excluded_doc_ids", [])) | set(remove or [])
        if remove and current is not None:
            unknown = sorted(set(remove) - set(current.documents))
            if unknown:
                raise CorpusError(
                    f"no document {', '.join(unknown)} in the index; `rag ask` answers list the ids it cites"
                )
        loaded = load_documents(sources)
        report.skipped = list(loaded.skipped)
        # Adding a file back lifts an earlier removal of the same document.
        added_ids = {d.doc_id for d in loaded.documents if add and any(_within(d.source, p) for p in add)}
        excluded -= added_ids
        documents = [d for d in loaded.documents if d.doc_id not in excluded]
        if current is not None and not prune:
            present = {d.doc_id for d in documents}
            for doc in current.documents.values():
                if doc.doc_id not in present and doc.doc_id not in excluded and not Path(doc.source).exists():
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
            {"sources": [str(p) for p in sources], "source_fingerprint": source_fingerprint(sources),
             "corpus_dir": corpus_dir,
             "excluded_doc_ids": sorted(excluded)},
        )
    return report


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
    generation = save_generation(
        config.index_dir,
        settings,
        documents,
        chunks,
        sentences,
        _stack(chunk_vectors) if chunk_vectors else np.zeros((0, settings.dimension), np.float32),
        _stack(sentence_vectors) if sentence_vectors else np.zeros((0, settings.dimension), np.float32),
        extra=extra,
        store=VectorStoreOptions.from_config(config),
    )
    report.timings_s["save"] = time.perf_counter() - started
    report.chunks = len(chunks)
    return generation
