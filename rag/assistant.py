"""Assistant.ask(question) -> Answer: the one entry point the CLI, the page and the eval use."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path

import numpy as np

from rag.answer.extractive import AnswerParams, ExtractiveAnswerer
from rag.config import RagConfig
from rag.errors import (
    GeneratorError,
    IndexLockedError,
    IndexMissingError,
    QuestionError,
    RagError,
    UngroundedAnswerError,
)
from rag.index.build import BuildReport, build_index, index_settings
from rag.index.freshness import check_fresh
from rag.index.store import (
    StoredIndex,
    VectorStoreOptions,
    check_settings,
    current_generation,
    load_generation,
    lock_holder,
)
from rag.protocols import Embedder, Generator
from rag.retrieve.hybrid import HybridRetriever
from rag.schema import Answer, ScoredChunk
from rag.text.language import detect_language, unsupported_language_note
from rag.text.lexicon import load_lexicon
from rag.wording import QUESTION_MESSAGES

log = logging.getLogger(__name__)

# One question per language, asking for a country so that every lazily loaded table is loaded.
WARM_UP_QUESTIONS = ("Quel pays a accueilli la réunion ?", "Which country hosted the meeting?")

# A follow-up leans on the previous question when it is short or points back with a pronoun.
_ELLIPTIC = re.compile(
    r"\b(?:l['’]|la|le|les|lui|leur|ce|cette|cela|ça|celui|celle|y|en|il|elle|ils|elles|that|this|it|they|"
    r"them|he|she|him|her|there|those|these|then)\b",
    re.IGNORECASE,
)



# Bytes that are not UTF-8 reach Python as lone surrogates: from argv and a terminal (surrogateescape), or from
# a browser's JSON ("\ud800"). No tokenizer, JSON encoder or terminal accepts them.
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


def validate_question(question: str, max_chars: int) -> str:
    text = (question or "").strip()
    if not text:
        raise QuestionError(QUESTION_MESSAGES["empty"]["en"])
    if _LONE_SURROGATE.search(text):
        readable = _LONE_SURROGATE.sub(" ", text)
        lang = detect_language(readable[:500]) if readable.strip() else "en"
        raise QuestionError(QUESTION_MESSAGES["not_text"][lang])
    if len(text) > max_chars:
        lang = detect_language(text[:500])
        raise QuestionError(QUESTION_MESSAGES["long"][lang].format(n=len(text), limit=max_chars))
    return text


def is_follow_up(question: str) -> bool:
    words = question.split()
    return len(words) <= 8 and bool(_ELLIPTIC.search(question))


@dataclass(frozen=True)
class CorpusStatus:
    generation: str
    documents: int
    chunks: int
    model_id: str
    sources: tuple[str, ...]


def ensure_index(config: RagConfig, embedder: Embedder, rebuild_if_stale: bool = True) -> BuildReport | None:
    """Build the index if it is missing, or (when allowed) stale; return the build report if one ran."""
    return open_index(config, embedder, rebuild_if_stale).build


@dataclass(frozen=True)
class OpenedIndex:
    """The current generation, loaded and checked fresh; `build` is the report when opening had to build it."""

    stored: StoredIndex
    build: BuildReport | None = None


def open_index(config: RagConfig, embedder: Embedder, rebuild_if_stale: bool = True,
               build_if_missing: bool = True) -> OpenedIndex:
    """Load the current generation and check it against the configuration and the releases, once; build a new
    one when it is missing or stale and that is allowed. The one place a start loads and checks the index."""
    store = VectorStoreOptions.from_config(config)
    settings = index_settings(config, embedder)
    stored: StoredIndex | None = None
    try:
        stored = load_generation(config.index_dir, store=store)
        check_fresh(stored, config, settings)
        return OpenedIndex(stored)
    except IndexMissingError:
        if not build_if_missing:
            raise
        log.info("no index yet: building it from %s", config.corpus_dir)
    except RagError as exc:
        if not rebuild_if_stale:
            raise
        log.warning("%s -- rebuilding now", exc)
    try:
        report = build_index(config, embedder)
    except IndexLockedError:
        # Another process is writing the next generation: the published one is complete and built with these
        # settings, so it answers until the writer publishes (Assistant.refresh switches then).
        if stored is None or stored.manifest.get("settings") != asdict(settings):
            raise
        log.warning("the index is being updated by %s; answering from generation %s until it is published",
                    lock_holder(config.index_dir), stored.generation)
        return OpenedIndex(stored)
    # Built just now from this configuration: fresh by construction.
    return OpenedIndex(load_generation(config.index_dir, store=store), report)


@dataclass(frozen=True)
class LoadedState:
    """What one index generation serves with: swapped whole when a newer generation is published."""

    stored: StoredIndex
    retriever: HybridRetriever
    answerer: ExtractiveAnswerer


@dataclass(frozen=True)
class Query:
    """A question as retrieval saw it: what was asked, what was searched, and the candidates found."""

    asked: str
    searched: str  # the question, or a follow-up joined to the question it follows
    context: str | None
    lang: str
    vector: np.ndarray
    candidates: list[ScoredChunk]
    top_k: int
    state: LoadedState
    timings_ms: dict[str, float]


class Assistant:
    """Holds the model and the current index generation; safe to share between threads."""

    def __init__(self, config: RagConfig, embedder: Embedder, generator: Generator | None = None,
                 params: AnswerParams | None = None, stored: StoredIndex | None = None) -> None:
        """`stored`: the current generation, already loaded and checked by open_index; loaded here when None."""
        self.config = config
        self.embedder = embedder
        self.generator = generator
        self._params = params
        self._lock = threading.Lock()
        self._state = self._serve(stored or self._load_checked())

    def _load_checked(self) -> StoredIndex:
        """The current generation, checked against this configuration's settings (another process may have
        written it with other ones)."""
        stored = load_generation(self.config.index_dir, store=VectorStoreOptions.from_config(self.config))
        check_settings(stored.manifest, index_settings(self.config, self.embedder))
        return stored

    def _serve(self, stored: StoredIndex) -> LoadedState:
        lexicon = (partial(load_lexicon, Path(self.config.lexicon_dir), self.config.lexicon_cache_dir)
                   if self.config.lexicon_dir else None)
        retriever = HybridRetriever(stored, self.config.candidate_pool, self.config.rrf_k, self.config.sentence_weight,
                                    lexicon)
        answerer = ExtractiveAnswerer(stored, self._params, self.config.max_answer_sentences, lexicon)
        return LoadedState(stored, retriever, answerer)

    def warm_up(self) -> None:
        """Pay what the first question would otherwise pay (about a second: the language identifier's model is
        unpacked, the French-English lexicon and the country names are loaded, the embedding runtime warms up)
        by answering one French and one English question; `rag serve` runs it beside the page's start."""
        started = time.perf_counter()
        for question in WARM_UP_QUESTIONS:
            try:
                # Extractive: a configured LLM is not asked (nor paid) for a warm-up.
                self.ask(question, answer_mode="extractive")
            except RagError as exc:  # an empty index answers nothing: the reader's question will say why
                log.debug("warm-up question not answered: %s", exc)
                return
            except Exception as exc:  # noqa: BLE001 - a background warm-up must not end the page with a traceback
                log.warning("warming up failed (%s); the first question will load what it needs", exc)
                return
        log.debug("warmed up in %.2f s", time.perf_counter() - started)

    def refresh(self) -> bool:
        """Switch to a newer index generation if a writer published one; True when it did."""
        try:
            latest = current_generation(self.config.index_dir).name
        except RagError:
            return False
        if latest == self._state.stored.generation:
            return False
        with self._lock:
            if latest != self._state.stored.generation:
                log.info("index generation changed to %s: reloading", latest)
                self._state = self._serve(self._load_checked())
                return True
        return False

    @property
    def stored(self) -> StoredIndex:
        return self._state.stored

    def status(self) -> CorpusStatus:
        stored = self._state.stored
        return CorpusStatus(stored.generation, len(stored.documents), len(stored.chunks),
                            self.embedder.model_id, tuple(stored.manifest.get("sources", [])))

    def _prepare(self, question: str, history: Sequence[str], mode: str | None, top_k: int | None) -> Query:
        text = validate_question(question, self.config.max_question_chars)
        self.refresh()
        state = self._state
        top_k = top_k or self.config.top_k
        depth = max(top_k, state.answerer.params.candidate_passages)
        context = history[-1] if history and is_follow_up(text) else None
        search_text = f"{context} {text}" if context else text
        lang = detect_language(text)
        timings: dict[str, float] = {}
        started = time.perf_counter()
        query_vector = self.embedder.embed_queries([search_text])[0]
        timings["embed_query"] = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        candidates = state.retriever.retrieve(search_text, query_vector, lang, mode or self.config.retrieval_mode,
                                              depth)
        timings["retrieve"] = (time.perf_counter() - started) * 1000
        return Query(text, search_text, context, lang, query_vector, candidates, top_k, state, timings)

    def retrieve(self, question: str, mode: str | None = None, top_k: int | None = None) -> list[ScoredChunk]:
        """The ranked passages as an extractive answer shows them: by their best sentence, the passages it
        quotes first (`rag eval` scores recall on this ranking, with or without the answer beside it)."""
        query = self._prepare(question, (), mode, top_k)
        answer = query.state.answerer.answer(query.searched, query.vector, query.lang, query.candidates,
                                             query.top_k, asked=query.asked)
        return list(answer.passages)

    def ask(self, question: str, history: Sequence[str] = (), mode: str | None = None,
            top_k: int | None = None, answer_mode: str | None = None) -> Answer:
        """Answer one question; `history` holds the earlier questions of the conversation, oldest first."""
        total = time.perf_counter()
        query = self._prepare(question, history, mode, top_k)
        timings = query.timings_ms
        started = time.perf_counter()
        answer = query.state.answerer.answer(query.searched, query.vector, query.lang, query.candidates,
                                             query.top_k, asked=query.asked)
        timings["answer"] = (time.perf_counter() - started) * 1000
        note = None
        if (answer_mode or self.config.answer_mode) == "llm" and answer.mode != "abstain":
            started = time.perf_counter()
            answer, note = self._generate(_llm_question(query.asked, query.context), query.lang, answer)
            timings["generate"] = (time.perf_counter() - started) * 1000
        timings["total"] = (time.perf_counter() - total) * 1000
        notes = [n for n in (note or answer.note, unsupported_language_note(query.asked)) if n]
        return replace(answer, question=query.asked, context_question=query.context, timings_ms=timings,
                       note="; ".join(notes) or None)

    def _generate(self, question: str, lang: str, extractive: Answer) -> tuple[Answer, str | None]:
        """The LLM's verified answer, or the extractive one with a note saying why the LLM's is not shown."""
        if self.generator is None:
            return extractive, "LLM mode is not configured; showing extractive answer"
        try:
            return self.generator.generate(question, lang, extractive.passages), None
        except GeneratorError as exc:
            return extractive, _fallback_note(exc)

    def stream(self, question: str, history: Sequence[str] = (), mode: str | None = None,
               top_k: int | None = None, answer_mode: str | None = None) -> Iterator[str | Answer]:
        """Like ask(), but yields LLM text deltas before the final Answer (just the Answer when extractive).

        If the LLM fails or its answer is rejected after some text was streamed, the final Answer is the
        extractive one with a note: the page replaces the streamed text with it."""
        if (answer_mode or self.config.answer_mode) != "llm" or self.generator is None:
            yield self.ask(question, history, mode, top_k, answer_mode)
            return
        extractive = self.ask(question, history, mode, top_k, "extractive")
        if extractive.mode == "abstain":
            yield extractive
            return
        started = time.perf_counter()
        llm_question = _llm_question(extractive.question, extractive.context_question)
        try:
            for piece in self.generator.stream(llm_question, extractive.lang, extractive.passages):
                if isinstance(piece, Answer):
                    yield replace(piece, question=extractive.question, context_question=extractive.context_question,
                                  timings_ms=_with_generation(extractive.timings_ms, started))
                else:
                    yield piece
        except GeneratorError as exc:
            yield replace(extractive, note=_fallback_note(exc),
                          timings_ms=_with_generation(extractive.timings_ms, started))


def _with_generation(timings: dict[str, float], started: float) -> dict[str, float]:
    generate = (time.perf_counter() - started) * 1000
    return {**timings, "generate": generate, "total": timings.get("total", 0.0) + generate}


def _llm_question(question: str, context: str | None) -> str:
    """A follow-up ("Et elle ?") reaches the LLM with the question it follows, as retrieval saw it."""
    return f"{question}\n(Follow-up to the earlier question: {context})" if context else question


def _fallback_note(exc: GeneratorError) -> str:
    """The one line shown under the extractive answer when the LLM's cannot be shown."""
    if isinstance(exc, UngroundedAnswerError):
        log.warning("LLM answer rejected: %s", exc)
        return f"LLM answer rejected: {exc}; showing extractive answer"
    log.warning("LLM unavailable: %s", exc)
    return f"LLM unavailable: {exc}; showing extractive answer"


def open_assistant(config: RagConfig, build: bool = True, embedder: Embedder | None = None) -> Assistant:
    """Load the model, build or refresh the index when allowed, and return a ready Assistant."""
    if embedder is None:
        from rag.embed.embedder import SentenceTransformerEmbedder

        embedder = SentenceTransformerEmbedder(config)
    # Without build the index is still checked against the releases: a stale one is refused, not used.
    stored = open_index(config, embedder, rebuild_if_stale=build, build_if_missing=build).stored
    from rag.answer.llm import make_generator

    # Always built (it opens no connection): the page can switch a conversation to LLM answers.
    return Assistant(config, embedder, make_generator(config), stored=stored)
