"""Chunks and sentences point back into the cleaned text by exact offsets, so every quote can be highlighted."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.schema import Chunk, Document
from rag.text.chunking import chunk_document, sentences_of, split_sentences
from rag.text.loading import load_documents

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
SIZES = [(100, 0), (200, 30), (400, 60), (800, 120), (1500, 200)]


@pytest.fixture(scope="module")
def documents() -> list[Document]:
    docs = list(load_documents([SEEDS]).documents)
    assert len(docs) == 5
    return docs


def chunked(documents: list[Document], size: int, overlap: int) -> list[tuple[Document, list[Chunk]]]:
    return [(doc, chunk_document(doc, size, overlap)) for doc in documents]


def texts(text: str, spans: list[tuple[int, int]]) -> list[str]:
    return [text[s:e] for s, e in spans]


# --- chunks --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("size", "overlap"), SIZES)
def test_every_chunk_is_the_exact_slice_of_its_document(documents: list[Document], size: int, overlap: int) -> None:
    for doc, chunks in chunked(documents, size, overlap):
        assert chunks
        for chunk in chunks:
            assert doc.text[chunk.start:chunk.end] == chunk.text
            assert chunk.doc_id == doc.doc_id


@pytest.mark.parametrize(("size", "overlap"), SIZES)
def test_no_chunk_is_longer_than_the_chunk_size(documents: list[Document], size: int, overlap: int) -> None:
    for _, chunks in chunked(documents, size, overlap):
        assert max(len(c.text) for c in chunks) <= size


@pytest.mark.parametrize(("size", "overlap"), SIZES)
def test_chunks_follow_the_document_in_order(documents: list[Document], size: int, overlap: int) -> None:
    for doc, chunks in chunked(documents, size, overlap):
        assert [c.ordinal for c in chunks] == list(range(len(chunks)))
        assert [c.chunk_id for c in chunks] == [f"{doc.doc_id}#{i}" for i in range(len(chunks))]
        assert all(a.start < b.start and a.end < b.end for a, b in zip(chunks, chunks[1:]))


@pytest.mark.parametrize(("size", "overlap"), SIZES)
def test_chunks_cover_every_non_blank_character(documents: list[Document], size: int, overlap: int) -> None:
    for doc, chunks in chunked(documents, size, overlap):
        assert doc.text[:chunks[0].start].strip() == ""
        assert doc.text[chunks[-1].end:].strip() == ""
        for before, after in zip(chunks, chunks[1:]):
            assert doc.text[before.end:after.start].strip() == "", f"text lost between {before.chunk_id} and after"


def test_chunks_carry_their_document_metadata(documents: list[Document]) -> None:
    for doc, chunks in chunked(documents, 400, 60):
        assert {(c.title, c.date, c.source) for c in chunks} == {(doc.title, doc.date, doc.source)}


def test_smaller_chunks_make_more_of_them(documents: list[Document]) -> None:
    for doc in documents:
        assert len(chunk_document(doc, 200, 30)) > len(chunk_document(doc, 1500, 200))


def test_a_short_document_is_one_chunk() -> None:
    text = "Titre court de la note\nUne seule phrase suffit ici."
    doc = Document("note", "note.txt", "Titre court de la note", None, "fr", text, "x")
    chunks = chunk_document(doc, 800, 120)
    assert len(chunks) == 1
    assert (chunks[0].start, chunks[0].end, chunks[0].text) == (0, len(text), text)


# --- sentences -----------------------------------------------------------------------------------------


def test_abbreviations_do_not_end_a_sentence() -> None:
    text = "Le gén. Cavoli a présenté le cadre. M. Dupont a répondu aux questions."
    assert texts(text, split_sentences(text)) == [
        "Le gén. Cavoli a présenté le cadre.",
        "M. Dupont a répondu aux questions.",
    ]


def test_a_full_stop_before_a_capital_ends_the_sentence() -> None:
    text = "La réunion a commencé. Elle a duré deux jours. Les Alliés ont conclu."
    assert len(split_sentences(text)) == 3


def test_an_abbreviation_inside_a_sentence_does_not_end_it() -> None:
    text = "Les pays partenaires, env. trente, étaient présents avec le col. Martin."
    assert texts(text, split_sentences(text)) == [text]


@pytest.mark.parametrize("space", ["\u00a0", "\u202f"])
def test_closing_guillemet_after_a_no_break_space_stays_with_its_sentence(space: str) -> None:
    quote = f"Il a déclaré : «{space}Notre soutien n’est pas un acte de charité.{space}»"
    text = f"{quote} Le président a ensuite conclu."
    assert texts(text, split_sentences(text)) == [quote, "Le président a ensuite conclu."]


def test_closing_guillemet_at_the_end_of_the_text_stays_with_its_sentence() -> None:
    text = "Il a dit : « la souveraineté n’est pas un terme abstrait. »"
    assert texts(text, split_sentences(text)) == [text]


def test_sentence_inside_guillemets_does_not_split_at_a_comma_or_colon() -> None:
    text = "Le général a déclaré : « Pour prévenir la guerre, nous devons nous y préparer. » Puis il est parti."
    assert texts(text, split_sentences(text))[0] == (
        "Le général a déclaré : « Pour prévenir la guerre, nous devons nous y préparer. »"
    )


def test_a_newline_ends_a_sentence_even_without_punctuation() -> None:
    text = "Réunion du Comité militaire\nles points suivants sont inscrits\n- le processus de planification ;"
    assert texts(text, split_sentences(text)) == [
        "Réunion du Comité militaire",
        "les points suivants sont inscrits",
        "- le processus de planification ;",
    ]


def test_spans_are_trimmed_and_verbatim() -> None:
    text = "  \n Première phrase.   Deuxième phrase !\n\n\t Troisième ?  \n"
    spans = split_sentences(text)
    assert texts(text, spans) == ["Première phrase.", "Deuxième phrase !", "Troisième ?"]
    for start, end in spans:
        assert text[start:end] == text[start:end].strip() != ""


def test_blank_text_has_no_sentence() -> None:
    assert split_sentences(" \n\t\n ") == []


def test_spans_stay_inside_the_requested_range() -> None:
    text = "Avant. La phrase choisie. Une autre encore. Après."
    start = text.index("La phrase")
    end = text.index("Après")
    spans = split_sentences(text, start, end)
    assert texts(text, spans) == ["La phrase choisie.", "Une autre encore."]


def test_seed_sentences_are_ordered_disjoint_verbatim_spans(documents: list[Document]) -> None:
    for doc in documents:
        spans = split_sentences(doc.text)
        assert all(e1 <= s2 for (_, e1), (s2, _) in zip(spans, spans[1:]))
        for start, end in spans:
            assert doc.text[start:end] == doc.text[start:end].strip() != ""
        # Every non-blank character of the document belongs to some sentence.
        covered = "".join(doc.text[s:e] for s, e in spans)
        assert "".join(covered.split()) == "".join(doc.text.split())


def test_seed_quote_with_guillemets_is_one_sentence(documents: list[Document]) -> None:
    doc = next(d for d in documents if d.doc_id.startswith("003"))
    sentences = texts(doc.text, split_sentences(doc.text))
    assert "Que la lutte pour la démocratie vaut la peine d’être menée. »" in sentences
    assert not any(s.startswith("»") for s in sentences)


# --- sentences tied to chunks --------------------------------------------------------------------------


@pytest.mark.parametrize(("size", "overlap"), SIZES)
def test_every_sentence_belongs_to_a_chunk_that_holds_or_overlaps_it(
    documents: list[Document], size: int, overlap: int
) -> None:
    first_id = 0
    for doc, chunks in chunked(documents, size, overlap):
        by_id = {c.chunk_id: c for c in chunks}
        sentences = sentences_of(doc, chunks, first_id)
        assert [s.sentence_id for s in sentences] == list(range(first_id, first_id + len(sentences)))
        first_id += len(sentences)
        for sentence in sentences:
            assert doc.text[sentence.start:sentence.end] == sentence.text
            home = by_id[sentence.chunk_id]
            assert home.start < sentence.end and sentence.start < home.end
            whole = [c for c in chunks if c.start <= sentence.start and sentence.end <= c.end]
            if whole:
                assert home == whole[0], "a sentence held whole by a chunk is tied to the first such chunk"


def test_a_sentence_longer_than_the_chunks_is_tied_to_an_overlapping_chunk(documents: list[Document]) -> None:
    doc = documents[0]
    chunks = chunk_document(doc, 100, 0)
    long_sentences = [s for s in sentences_of(doc, chunks, 0) if len(s.text) > 100]
    assert long_sentences
    for sentence in long_sentences:
        home = next(c for c in chunks if c.chunk_id == sentence.chunk_id)
        assert home.start < sentence.end and sentence.start < home.end
