"""Split cleaned documents into passages and sentences that keep exact offsets into the document text."""

from __future__ import annotations

import re
from collections.abc import Iterable

from langchain_text_splitters import RecursiveCharacterTextSplitter

from rag.schema import Chunk, Document, Sentence

# Paragraphs, lines, then sentence ends (kept with the sentence they close), then words.
_SEPARATORS = ["\n\n", "\n", r"(?<=[.!?…»])\s+(?=[«A-ZÀ-ÖØ-Þ0-9\"“(])", r"(?<=[;:])\s+", " ", ""]

# Abbreviations after which a full stop does not end a sentence.
_ABBREVIATIONS = {
    "m", "mm", "mme", "mmes", "dr", "pr", "st", "ste", "gén", "gen", "col", "lt", "cdt", "adm", "mr", "mrs",
    "ms", "prof", "sr", "jr", "no", "n°", "art", "vol", "p", "pp", "env", "etc", "cf", "ex", "vs", "approx",
    "jan", "janv", "feb", "fév", "févr", "mar", "apr", "avr", "jun", "jul", "juil", "aug", "sep", "sept",
    "oct", "nov", "dec", "déc", "u.s", "e.g", "i.e",
}
# A closing guillemet may follow the full stop after a (narrow) no-break space: "… sécurité. »"
_SENTENCE_END = re.compile(r"(?<=[.!?…])((?:[ \u00a0\u202f]*[»\"”)])*)(?:\s+|$)|\n+")


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """(start, end) spans of the sentences of text[start:end], trimmed of surrounding whitespace."""
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    cursor = start
    for match in _SENTENCE_END.finditer(text, start, end):
        closing = match.group(1) or ""
        sentence_end = match.start() + len(closing)
        if "\n" not in match.group(0)[len(closing):]:
            before = text[cursor:match.start()]
            last_word = re.search(r"([\w.°]+)\.$", before)
            if last_word and last_word.group(1).lower() in _ABBREVIATIONS:
                continue
            following = text[match.end():match.end() + 1]
            if following and following.islower():
                continue
        spans.append((cursor, sentence_end))
        cursor = match.end()
    spans.append((cursor, end))
    trimmed = []
    for s, e in spans:
        segment = text[s:e]
        left = len(segment) - len(segment.lstrip())
        right = len(segment.rstrip())
        if right > left:
            trimmed.append((s + left, s + right))
    return trimmed


def chunk_document(doc: Document, chunk_size: int, chunk_overlap: int) -> list[Chunk]:
    """Sentence-aware passages of at most `chunk_size` characters, overlapping by about `chunk_overlap`."""
    splitter = RecursiveCharacterTextSplitter(
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        separators=_SEPARATORS,
        is_separator_regex=True,
        keep_separator="end",
        strip_whitespace=True,
    )
    chunks: list[Chunk] = []
    cursor = 0
    for ordinal, piece in enumerate(splitter.split_text(doc.text)):
        # The splitter returns substrings in document order; searching forward from the last start
        # (not from the last end, since pieces overlap) recovers exact offsets.
        start = doc.text.find(piece, cursor)
        if start < 0:
            raise AssertionError(f"chunk {ordinal} of {doc.doc_id} is not a substring of the document")
        end = start + len(piece)
        cursor = start + 1
        chunks.append(
            Chunk(
                chunk_id=f"{doc.doc_id}#{ordinal}",
                doc_id=doc.doc_id,
                ordinal=ordinal,
                title=doc.title,
                date=doc.date,
                source=doc.source,
                text=piece,
                start=start,
                end=end,
            )
        )
    return chunks


def sentences_of(doc: Document, chunks: Iterable[Chunk], first_id: int) -> list[Sentence]:
    """The document's sentences, each tied to the first chunk that contains it whole (or overlaps it)."""
    chunk_list = list(chunks)
    sentences: list[Sentence] = []
    for offset, (start, end) in enumerate(split_sentences(doc.text)):
        home = next((c for c in chunk_list if c.start <= start and end <= c.end), None)
        if home is None:
            home = next(c for c in chunk_list if c.start < end and start < c.end)
        sentences.append(Sentence(first_id + offset, doc.doc_id, home.chunk_id, doc.text[start:end], start, end))
    return sentences
