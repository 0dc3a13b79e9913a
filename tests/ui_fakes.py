"""A scripted stand-in for the Assistant the chat page calls, a release full of hostile strings, and an HTML
reader that sees rendered fragments the way a browser does."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from html.parser import HTMLParser

from rag.assistant import CorpusStatus, validate_question
from rag.config import RagConfig
from rag.errors import RagError
from rag.schema import Answer, Chunk, Citation, Document, ScoredChunk
from tests.fakes import HashingEmbedder

HOSTILE_TITLE = "<script>alert(1)</script> **bold** [1] &amp; [click](javascript:alert(1))"
HOSTILE_QUOTE = ("Le rapport [1] cite <img src=x onerror=alert(1)> et [click](javascript:alert(1)), "
                 "puis **bold** &amp; $$x^2$$ <script>alert(1)</script>\u00a0: c’est tout.")
HOSTILE_TEXT = (
    f"{HOSTILE_TITLE}\n\n"
    "Premier paragraphe, sans danger, qui donne le contexte du passage cité.\n"
    f"{HOSTILE_QUOTE} Phrase suivante avec ![image](http://example.invalid/x.png) et `code`.\n\n"
    "Dernier paragraphe."
)
HOSTILE_DOC = Document(
    doc_id="999_hostile", source="seeds/999_hostile.txt", title=HOSTILE_TITLE, date="2025-01-15", lang="fr",
    text=HOSTILE_TEXT, content_hash="0" * 16,
)
HOSTILE_START = HOSTILE_TEXT.index(HOSTILE_QUOTE)


def hostile_answer(question: str) -> Answer:
    """An extractive answer that quotes the hostile release, the way the library builds one."""
    citation = Citation(1, HOSTILE_DOC.doc_id, HOSTILE_DOC.title, HOSTILE_DOC.date, HOSTILE_QUOTE, HOSTILE_START,
                        HOSTILE_START + len(HOSTILE_QUOTE), "999_hostile#0")
    chunk = Chunk("999_hostile#0", HOSTILE_DOC.doc_id, 0, HOSTILE_DOC.title, HOSTILE_DOC.date, HOSTILE_DOC.source,
                  HOSTILE_TEXT, 0, len(HOSTILE_TEXT))
    return Answer(question=question, answer=f"Selon les communiqués : {HOSTILE_QUOTE} [1]", mode="extractive",
                  lang="fr", citations=(citation,), passages=(ScoredChunk(chunk, 1.0, 1, 1),),
                  timings_ms={"total": 1.0})


@dataclass(frozen=True)
class StoredDocuments:
    documents: dict[str, Document]
    chunks: tuple[Chunk, ...] = ()


@dataclass
class ScriptedAssistant:
    """Duck-types what `ui.app` uses of `rag.assistant.Assistant`; answers come from `answer_for`."""

    documents: Sequence[Document] = (HOSTILE_DOC,)
    deltas: Sequence[str] = ()
    fail_with: Exception | None = None
    config: RagConfig = field(default_factory=RagConfig)
    calls: list[dict[str, object]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.stored = StoredDocuments({d.doc_id: d for d in self.documents})
        self.embedder = HashingEmbedder()

    def refresh(self) -> bool:
        return False

    def answer_for(self, question: str, history: Sequence[str]) -> Answer:
        answer = hostile_answer(question)
        return replace(answer, context_question=history[-1]) if history else answer

    def status(self) -> CorpusStatus:
        return CorpusStatus("gen-test", len(self.documents), len(self.documents), "test:scripted", ("<b>seeds</b>",))

    def stream(self, question: str, history: Sequence[str] = (), mode: str | None = None, top_k: int | None = None,
               answer_mode: str | None = None) -> Iterator[str | Answer]:
        text = validate_question(question, self.config.max_question_chars)
        self.calls.append({"question": text, "history": tuple(history), "mode": mode, "top_k": top_k,
                           "answer_mode": answer_mode})
        if self.fail_with is not None:
            raise self.fail_with
        if answer_mode == "llm":
            yield from self.deltas
        yield self.answer_for(text, history)


def broken_assistant(error: Exception | None = None) -> ScriptedAssistant:
    return ScriptedAssistant(fail_with=error or RagError("index gen-x is corrupt: run `rag index`"))


class _Collector(HTMLParser):
    """Parses rendered HTML the way a browser would: tags, attributes, and the text a reader sees."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self._mark_depth = 0
        self.marks: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "mark":
            self._mark_depth += 1
            self.marks.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "mark":
            self._mark_depth -= 1

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._mark_depth:
            self.marks[-1] += data


def parse(fragment: str) -> _Collector:
    collector = _Collector()
    collector.feed(fragment)
    collector.close()
    return collector
