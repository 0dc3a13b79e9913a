"""PDF and Word releases through the common loading path: offsets, page furniture, paragraphs, titles, refusals.

Every file is written at test time by tests/document_files.py; nothing binary is committed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.assistant import Assistant
from rag.config import load_config
from rag.index.build import build_index
from rag.index.store import load_generation
from rag.schema import Document
from rag.text import formats
from rag.text.chunking import chunk_document, sentences_of
from rag.text.loading import load_documents
from tests.document_files import (
    PdfRelease,
    write_release_docx,
    write_release_pdf,
    write_scanned_pdf,
)
from tests.fakes import HashingEmbedder

TITLE = "Le Comité militaire examine la logistique de l'Alliance à Bruxelles"
HEADER = "OTAN / NATO - Communiqué de presse - Division Diplomatie publique"
PARAGRAPHS = [
    "Le 3 mars 2025, le Comité militaire de l'OTAN s'est réuni à Bruxelles pour examiner la logistique de "
    "l'Alliance. Le général Martin Dupuis, directeur de la logistique, a présenté aux chefs d'état-major le "
    "nouveau plan de soutien, qui prévoit des dépôts avancés dans douze pays membres et des exercices réguliers.",
    "Les participants ont souligné que la mobilité militaire reste la condition de toute dissuasion crédible. "
    "Ils ont examiné les goulets d'étranglement des réseaux ferroviaires et portuaires, ainsi que les procédures "
    "douanières qui retardent encore le passage des convois d'un pays à l'autre.",
    "La délégation norvégienne a présenté les leçons de l'exercice Nordic Response, au cours duquel vingt mille "
    "soldats ont été déployés dans le Grand Nord en moins de trois semaines, malgré des conditions hivernales "
    "difficiles et des routes enneigées.",
    "Le président du Comité militaire a conclu la réunion en rappelant que la logistique est l'affaire de tous "
    "les Alliés, et que les investissements consentis aujourd'hui conditionnent la capacité de l'Alliance à "
    "défendre chaque pouce de son territoire demain.",
]


def release(paragraphs: list[str] | None = None, repeat: int = 3, **layout: object) -> PdfRelease:
    """A release of a few pages: the paragraphs written `repeat` times, numbered so that no two are alike."""
    body = [f"{p} (partie {n + 1})" for n in range(repeat) for p in (paragraphs or PARAGRAPHS)]
    return PdfRelease(TITLE, "Bruxelles, le 3 mars 2025", body, **{"header": HEADER, **layout})  # type: ignore[arg-type]


def load_one(path: Path) -> Document:
    report = load_documents([path.parent])
    assert not report.skipped, report.skipped
    (document,) = report.documents
    return document


@pytest.fixture
def pdf_document(tmp_path: Path) -> Document:
    return load_one(write_release_pdf(tmp_path / "releases" / "logistique.pdf", release()))


# --- PDF -----------------------------------------------------------------------------------------------------


def test_pdf_release_is_loaded_with_its_title_date_and_language(pdf_document: Document) -> None:
    assert pdf_document.doc_id == "logistique"
    assert pdf_document.title == TITLE
    assert pdf_document.date == "2025-03-03"
    assert pdf_document.lang == "fr"


def test_every_passage_and_sentence_of_a_pdf_points_at_its_exact_text(pdf_document: Document) -> None:
    chunks = chunk_document(pdf_document, 800, 120)
    sentences = sentences_of(pdf_document, chunks, 0)
    assert len(chunks) > 3 and len(sentences) > 20
    for piece in [*chunks, *sentences]:
        assert pdf_document.text[piece.start:piece.end] == piece.text


def test_quote_cited_from_a_pdf_is_the_text_at_its_offsets(tmp_path: Path) -> None:
    folder = tmp_path / "releases"
    write_release_pdf(folder / "logistique.pdf", release(repeat=1))
    config = load_config(env={}, corpus_dir=folder, index_dir=tmp_path / "index")
    embedder = HashingEmbedder()
    build_index(config, embedder, show_progress=False)
    answer = Assistant(config, embedder).ask("Qui a présenté aux chefs d'état-major le nouveau plan de soutien ?")
    assert answer.citations
    documents = load_generation(config.index_dir).documents
    for citation in answer.citations:
        assert documents[citation.doc_id].text[citation.start:citation.end] == citation.quote


def test_running_header_and_page_footer_of_every_page_are_removed(tmp_path: Path) -> None:
    path = write_release_pdf(tmp_path / "releases" / "logistique.pdf", release(repeat=8))
    assert _page_count(path) >= 3
    document = load_one(path)
    assert "Communiqué de presse" not in document.text
    assert "Page " not in document.text and " of " not in document.text


def test_a_bare_page_number_at_the_foot_of_a_page_is_removed(tmp_path: Path) -> None:
    document = load_one(write_release_pdf(tmp_path / "r" / "numbers.pdf", release(footer="{page}", header=None)))
    assert not [line for line in document.text.splitlines() if line.strip().isdigit()]


def test_a_line_found_on_only_one_page_is_kept(tmp_path: Path) -> None:
    once = "Contact presse : service de presse du Comité militaire"
    document = load_one(write_release_pdf(tmp_path / "r" / "contact.pdf", release(PARAGRAPHS + [once])))
    assert document.text.count(once) == 3  # written once per repeat, in the body, never cut as furniture


def test_paragraphs_are_kept_and_their_lines_joined(pdf_document: Document) -> None:
    paragraphs = pdf_document.text.split("\n\n")
    for paragraph in PARAGRAPHS:
        assert f"{paragraph} (partie 2)" in paragraphs
    assert all("\n" not in p for p in paragraphs)


def test_a_paragraph_cut_by_a_page_break_is_joined_again(pdf_document: Document) -> None:
    body = [p for p in pdf_document.text.split("\n\n") if p.endswith(")")]
    assert len(body) == 3 * len(PARAGRAPHS)  # every paragraph whole, page breaks included


def test_a_word_hyphenated_at_a_line_end_is_joined_and_a_compound_keeps_its_hyphen(tmp_path: Path) -> None:
    hyphenated = ["Les Alliés renforcent leur coopé-\nration avec l'État-\nmajor international depuis deux ans.",
                  "Une coopération étroite avec l'État-major est prévue pour la prochaine session."]
    document = load_one(write_release_pdf(tmp_path / "r" / "hyphen.pdf", release(hyphenated, repeat=1)))
    assert "Les Alliés renforcent leur coopération avec l'État-major international depuis deux ans." in document.text


def test_a_compound_at_a_line_end_keeps_its_hyphen_in_a_document_that_does_not_hyphenate(tmp_path: Path) -> None:
    compound = ["Les représentants ont abordé des sujets politico-\nmilitaires d'intérêt commun à Bruxelles.",
                *PARAGRAPHS]
    document = load_one(write_release_pdf(tmp_path / "r" / "compound.pdf", release(compound, repeat=1)))
    assert "des sujets politico-militaires d'intérêt commun" in document.text


def test_a_pdf_without_a_text_layer_is_skipped_as_scanned(tmp_path: Path) -> None:
    path = write_scanned_pdf(tmp_path / "releases" / "scan.pdf", pages=2)
    report = load_documents([path.parent])
    assert not report.documents
    assert [(s.source, s.reason) for s in report.skipped] == [(str(path), "no text layer (scanned PDF?)")]


def test_a_damaged_pdf_is_skipped_with_a_reason(tmp_path: Path) -> None:
    path = tmp_path / "releases" / "broken.pdf"
    path.parent.mkdir()
    path.write_bytes(b"%PDF-1.7\n" + b"garbage " * 200)
    (skipped,) = load_documents([path.parent]).skipped
    assert skipped.reason.startswith("not a readable PDF")


def test_a_password_protected_pdf_is_skipped_with_what_to_do(tmp_path: Path) -> None:
    from fpdf import FPDF
    from fpdf.enums import EncryptionMethod

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.cell(0, 10, "Texte du communique protege par un mot de passe.")
    pdf.set_encryption(owner_password="owner", user_password="user", encryption_method=EncryptionMethod.RC4)
    path = tmp_path / "releases" / "protege.pdf"
    path.parent.mkdir()
    pdf.output(str(path))
    (skipped,) = load_documents([path.parent]).skipped
    assert skipped.reason == "encrypted PDF: open it and save a copy without a password"


def test_a_pdf_over_the_page_limit_is_skipped_before_it_is_read(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_release_pdf(tmp_path / "releases" / "long.pdf", release())
    monkeypatch.setattr(formats, "MAX_PDF_PAGES", 1)
    (skipped,) = load_documents([path.parent]).skipped
    assert "over the 1-page limit" in skipped.reason


def test_a_pdf_is_allowed_a_bigger_file_than_its_text(tmp_path: Path) -> None:
    path = write_release_pdf(tmp_path / "releases" / "logistique.pdf", release(repeat=1))
    size = path.stat().st_size
    text_bytes = len(load_one(path).text.encode("utf-8"))
    limit = size // 2  # the file is over it, its text is not
    assert text_bytes < limit < size
    assert len(load_documents([path.parent], max_bytes=limit).documents) == 1


# --- DOCX ----------------------------------------------------------------------------------------------------


@pytest.fixture
def docx_path(tmp_path: Path) -> Path:
    return write_release_docx(
        tmp_path / "releases" / "reunion.docx", "Réunion des chefs d'état-major de la défense",
        "20 novembre 2024", PARAGRAPHS[:2], header=HEADER, footer="Page 1",
        table=[["Pays", "Participants"], ["Norvège", "vingt mille"]],
    )


def test_docx_title_and_date_are_detected(docx_path: Path) -> None:
    document = load_one(docx_path)
    assert document.title == "Réunion des chefs d'état-major de la défense"
    assert document.date == "2024-11-20"


def test_docx_title_style_names_a_title_the_first_line_rule_would_miss(tmp_path: Path) -> None:
    short = "Communiqué."  # one word ending in a full stop: not a heading by the text alone
    document = load_one(write_release_docx(tmp_path / "r" / "court.docx", short, "3 mars 2025", PARAGRAPHS[:1]))
    assert document.title == short


def test_docx_page_header_and_footer_are_not_part_of_the_text(docx_path: Path) -> None:
    document = load_one(docx_path)
    assert "Communiqué de presse" not in document.text and "Page 1" not in document.text


def test_docx_paragraphs_and_table_rows_are_kept_in_order_with_exact_offsets(docx_path: Path) -> None:
    document = load_one(docx_path)
    assert document.text.index(PARAGRAPHS[0]) < document.text.index(PARAGRAPHS[1]) < document.text.index(
        "Norvège | vingt mille")
    for chunk in chunk_document(document, 300, 50):
        assert document.text[chunk.start:chunk.end] == chunk.text


def test_a_file_named_docx_that_is_not_one_is_skipped_with_a_reason(tmp_path: Path) -> None:
    path = tmp_path / "releases" / "faux.docx"
    path.parent.mkdir()
    path.write_text("plain text pretending to be Word", encoding="utf-8")
    (skipped,) = load_documents([path.parent]).skipped
    assert skipped.reason == "not a readable Word document (.docx): the file is not a zip archive"


def test_an_empty_docx_is_skipped_with_a_reason(tmp_path: Path) -> None:
    import docx

    path = tmp_path / "releases" / "vide.docx"
    path.parent.mkdir()
    docx.Document().save(str(path))
    (skipped,) = load_documents([path.parent]).skipped
    assert skipped.reason == "no text in the Word document"


def _page_count(path: Path) -> int:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(path))
    try:
        return len(pdf)
    finally:
        pdf.close()
