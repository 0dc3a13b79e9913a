"""Build or refresh the index: load sources, chunk, embed only what changed, write a new generation."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .chunking import chunk_document, sentences_of
from .cleaning import readable_date
from .config import RagConfig
from .errors import CorpusError, RagError
from .index_store import IndexSettings, StoredIndex, load_generation, save_generation, writer_lock
from .loading import SkippedSource, load_documents, source_fingerprint
from .protocols import Embedder
from .schema import Chunk, Document, Sentence

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


def index_settings(config: RagConfig, embedder: Embedder) -> IndexSettings:
    return IndexSettings(
        model_id=embedder.model_id,
        dimension=embedder.dimension,
        chunk_size=config.chunk_size,
        chunk_overlap=config.chunk_overlap,
        passage_template=EMBED_TEMPLATE if config.passage_context else "{text}",
        sentence_template=EMBED_TEMPLATE if config.sentence_context else "{text}",
        sentence_window=config.sentence_window,
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


def _previous(config: RagConfig, settings: IndexSettings) -> StoredIndex | None:
    """The current generation if its vectors can be reused under these settings."""
    try:
        stored = load_generation(config.index_dir)
    except RagError as exc:
        log.info("no reusable index (%s)", exc)
        return None
    from dataclasses import asdict

    if stored.manifest.get("settings") != asdict(settings):
        log.info("index settings changed: every document is embedded again")
        return None
    return stored


def build_index(
    config: RagConfig,
    embedder: Embedder,
    sources: list[Path] | None = None,
    show_progress: bool = True,
) -> BuildReport:
    """Index everything under `sources` (default: the corpus folder), reusing vectors of unchanged releases."""
    report = BuildReport()
    sources = sources or [config.corpus_dir]
    with writer_lock(config.index_dir):
        started = time.perf_counter()
        loaded = load_documents(sources)
        report.skipped = list(loaded.skipped)
        report.timings_s["load_and_clean"] = time.perf_counter() - started
        if not loaded.documents:
            raise CorpusError(
                f"no usable release under {', '.join(map(str, sources))} "
                f"({len(loaded.skipped)} file(s) skipped): add .txt or .md files"
            )
        settings = index_settings(config, embedder)
        previous = _previous(config, settings)
        report.generation = _write(
            config, embedder, settings, list(loaded.documents), previous, report, show_progress, sources
        )
    return report


def _write(
    config: RagConfig,
    embedder: Embedder,
    settings: IndexSettings,
    documents: list[Document],
    previous: StoredIndex | None,
    report: BuildReport,
    show_progress: bool,
    sources: list[Path],
) -> Path:
    started = time.perf_counter()
    reusable: dict[str, tuple[list[np.ndarray], list[np.ndarray]]] = {}
    old_hashes: dict[str, str] = {}
    if previous is not None:
        old_hashes = {d.doc_id: d.content_hash for d in previous.documents.values()}
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
        np.vstack(chunk_vectors) if chunk_vectors else np.zeros((0, settings.dimension), np.float32),
        np.vstack(sentence_vectors) if sentence_vectors else np.zeros((0, settings.dimension), np.float32),
        extra={"sources": [str(p) for p in sources], "source_fingerprint": source_fingerprint(sources)},
    )
    report.timings_s["save"] = time.perf_counter() - started
    report.chunks = len(chunks)
    return generation
