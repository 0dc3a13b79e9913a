"""Plain frozen records that cross module borders: documents, chunks, sentences, answers."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol, get_args

AnswerMode = Literal["extractive", "abstain", "llm"]
RetrievalMode = Literal["dense", "lexical", "hybrid"]
RETRIEVAL_MODES: tuple[str, ...] = get_args(RetrievalMode)


class Span(Protocol):
    """Characters `start` to `end` of one release: a chunk, a sentence, a citation."""

    @property
    def doc_id(self) -> str: ...
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...


def overlap(a: Span, b: Span) -> bool:
    """Whether two spans share a character of the same release."""
    return a.doc_id == b.doc_id and a.start < b.end and b.start < a.end


@dataclass(frozen=True)
class Document:
    """A cleaned release: `text` is what every offset points into."""

    doc_id: str
    source: str
    title: str | None
    date: str | None  # ISO 8601 (YYYY-MM-DD) when one was found
    lang: str
    text: str
    content_hash: str
    removed_lines: int = 0


@dataclass(frozen=True)
class Chunk:
    """A passage of a document; `doc.text[start:end] == text`."""

    chunk_id: str
    doc_id: str
    ordinal: int
    title: str | None
    date: str | None
    source: str
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Sentence:
    """A sentence of a document, the unit the extractive answerer quotes."""

    sentence_id: int
    doc_id: str
    chunk_id: str
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class ScoredChunk:
    chunk: Chunk
    score: float
    dense_rank: int | None = None
    lexical_rank: int | None = None


@dataclass(frozen=True)
class Citation:
    marker: int
    doc_id: str
    title: str | None
    date: str | None
    quote: str
    start: int
    end: int
    chunk_id: str
    # The same sentence in the release's other language, when the release has a bilingual twin
    # (rag.index.twins): the quote is in the reader's language, this is cited beside it.
    original: Citation | None = None
    lang: str | None = None  # the quoted release's language

    @property
    def spans(self) -> tuple[Citation, ...]:
        """This quote and, for a quote from a release's twin, the original cited beside it."""
        return (self,) if self.original is None else (self, self.original)


@dataclass(frozen=True)
class Answer:
    question: str
    answer: str
    mode: AnswerMode
    lang: str
    citations: tuple[Citation, ...] = ()
    passages: tuple[ScoredChunk, ...] = ()
    timings_ms: dict[str, float] = field(default_factory=dict)
    note: str | None = None
    context_question: str | None = None
    unsupported_sentences: tuple[str, ...] = ()
    abstain_reason: str | None = None
    # Probability that the quoted sentence answers the question, fitted on questions the rule was not fitted on
    # (None when no answer was given); "well supported" above the threshold chosen for 95% precision.
    confidence: float | None = None
    well_supported: bool = False
    # Below that threshold: the runner-up sentence, cited, for the reader to compare (not part of the answer).
    alternative: Citation | None = None

    @property
    def abstained(self) -> bool:
        return self.mode == "abstain"

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape the CLI prints and the eval reads."""
        return {
            "question": self.question,
            "answer": self.answer,
            "mode": self.mode,
            "lang": self.lang,
            "citations": [asdict(c) for c in self.citations],
            "passages": [
                {
                    "doc_id": p.chunk.doc_id,
                    "chunk_id": p.chunk.chunk_id,
                    "title": p.chunk.title,
                    "date": p.chunk.date,
                    "score": round(p.score, 6),
                    "text": p.chunk.text,
                    "start": p.chunk.start,
                    "end": p.chunk.end,
                }
                for p in self.passages
            ],
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
            "note": self.note,
            "context_question": self.context_question,
            "unsupported_sentences": list(self.unsupported_sentences),
            "abstain_reason": self.abstain_reason,
            "confidence": None if self.confidence is None else round(self.confidence, 4),
            "well_supported": self.well_supported,
            "alternative": asdict(self.alternative) if self.alternative else None,
        }
