"""Managing the archive from the page (rag.archive): uploads copied and indexed incrementally, each file's
outcome, removal, progress, and questions answered while a build runs."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from rag.archive import _BatchedEmbedder, add_files, list_releases, remove_release, upload_name
from rag.assistant import Assistant
from rag.config import RagConfig
from rag.embed.turns import QuestionsFirst
from rag.index.build import build_index
from rag.index.store import load_generation
from tests.document_files import PdfRelease, write_release_pdf, write_scanned_pdf
from tests.fakes import HashingEmbedder

LOGISTICS = PdfRelease(
    "Le Comité militaire examine la logistique de l'Alliance",
    "Bruxelles, le 3 mars 2025",
    ["Le 3 mars 2025, le Comité militaire s'est réuni à Bruxelles. Le général Martin Dupuis a présenté le "
     "nouveau plan logistique aux chefs d'état-major.",
     "Les participants ont examiné les dépôts avancés et la mobilité militaire des convois."],
)


@pytest.fixture
def built(fake_config: RagConfig, fake_embedder: HashingEmbedder) -> RagConfig:
    build_index(fake_config, fake_embedder, show_progress=False)
    return fake_config


@pytest.fixture
def uploads(tmp_path: Path) -> Path:
    return tmp_path / "uploads"


@pytest.fixture
def browser_files(tmp_path: Path) -> Path:
    """Where the browser's uploads land before the page copies them (Gradio's temporary folder)."""
    folder = tmp_path / "gradio-tmp"
    folder.mkdir()
    return folder


def test_an_uploaded_pdf_is_copied_into_the_uploads_folder_and_indexed(
        built: RagConfig, fake_embedder: HashingEmbedder, uploads: Path, browser_files: Path) -> None:
    pdf = write_release_pdf(browser_files / "logistique.pdf", LOGISTICS)
    change = add_files(built, fake_embedder, [pdf], uploads)
    assert [(f.name, f.outcome, f.doc_id) for f in change.files] == [("logistique.pdf", "added", "logistique")]
    assert (uploads / "logistique.pdf").read_bytes() == pdf.read_bytes()
    stored = load_generation(built.index_dir)
    assert stored.generation == change.generation and change.releases == 6
    assert stored.documents["logistique"].title == LOGISTICS.title


def test_the_same_file_uploaded_again_is_unchanged_and_embeds_nothing(
        built: RagConfig, fake_embedder: HashingEmbedder, uploads: Path, browser_files: Path) -> None:
    pdf = write_release_pdf(browser_files / "logistique.pdf", LOGISTICS)
    add_files(built, fake_embedder, [pdf], uploads)
    calls = len(fake_embedder.passage_calls)
    change = add_files(built, fake_embedder, [pdf], uploads)
    assert [f.outcome for f in change.files] == ["unchanged"]
    assert len(fake_embedder.passage_calls) == calls


def test_a_new_version_under_the_same_name_is_updated(
        built: RagConfig, fake_embedder: HashingEmbedder, uploads: Path, browser_files: Path) -> None:
    add_files(built, fake_embedder, [write_release_pdf(browser_files / "logistique.pdf", LOGISTICS)], uploads)
    revised = PdfRelease(LOGISTICS.title, LOGISTICS.date_line, [*LOGISTICS.paragraphs, "Une phrase ajoutée."])
    change = add_files(built, fake_embedder, [write_release_pdf(browser_files / "v2" / "logistique.pdf", revised)],
                       uploads)
    assert [(f.outcome, f.doc_id) for f in change.files] == [("updated", "logistique")]


def test_a_scanned_pdf_and_an_unsupported_file_are_skipped_with_their_reasons_and_not_kept(
        built: RagConfig, fake_embedder: HashingEmbedder, uploads: Path, browser_files: Path) -> None:
    scan = write_scanned_pdf(browser_files / "scan.pdf")
    sheet = browser_files / "budget.xlsx"
    sheet.write_bytes(b"PK\x03\x04 not really a spreadsheet")
    change = add_files(built, fake_embedder, [scan, sheet], uploads)
    assert [(f.name, f.outcome) for f in change.files] == [("scan.pdf", "skipped"), ("budget.xlsx", "skipped")]
    assert change.files[0].reason == "no text layer (scanned PDF?)"
    assert (change.files[1].reason or "").startswith("unsupported file type '.xlsx'")
    assert change.generation is None  # nothing to index: no build ran
    assert not uploads.exists() or not any(uploads.iterdir())


def test_a_copy_of_an_indexed_release_is_skipped_as_a_duplicate_and_not_kept(
        built: RagConfig, fake_embedder: HashingEmbedder, uploads: Path, browser_files: Path) -> None:
    seed = next(built.corpus_dir.glob("002_*.txt"))
    copy = browser_files / "copie.txt"
    copy.write_bytes(seed.read_bytes())
    pdf = write_release_pdf(browser_files / "logistique.pdf", LOGISTICS)
    change = add_files(built, fake_embedder, [copy, pdf], uploads)
    outcomes = {f.name: f for f in change.files}
    assert outcomes["copie.txt"].outcome == "skipped"
    assert (outcomes["copie.txt"].reason or "").startswith(f"duplicate of {seed.stem}")
    assert outcomes["logistique.pdf"].outcome == "added"
    assert sorted(p.name for p in uploads.iterdir()) == ["logistique.pdf"]
    # The folder and the index agree: opening the index again finds nothing to rebuild.
    assert not build_index(built, fake_embedder, show_progress=False).changed


@pytest.mark.parametrize(("given", "safe"), [
    ("../../etc/passwd.txt", "passwd.txt"),
    (".hidden.md", "hidden.md"),
    ("C:\\Users\\me\\Communiqué final.PDF", "Communiqué final.pdf"),
    ("rapport<script>.docx", "rapport_script_.docx"),
])
def test_an_upload_name_keeps_no_folder_no_leading_dot_and_no_odd_character(given: str, safe: str) -> None:
    assert upload_name(given) == safe


def test_removing_an_uploaded_release_deletes_its_copy_and_a_corpus_release_keeps_its_file(
        built: RagConfig, fake_embedder: HashingEmbedder, uploads: Path, browser_files: Path) -> None:
    add_files(built, fake_embedder, [write_release_pdf(browser_files / "logistique.pdf", LOGISTICS)], uploads)
    releases = {r.doc_id: r for r in list_releases(load_generation(built.index_dir))}
    change = remove_release(built, fake_embedder, releases["logistique"], uploads)
    assert change.removed == ("logistique",) and not (uploads / "logistique.pdf").exists()
    seed = releases["001_5327e5ba5f57af7b"]
    assert remove_release(built, fake_embedder, seed, uploads).removed == (seed.doc_id,)
    assert Path(seed.source).exists()
    assert set(load_generation(built.index_dir).documents) == {r for r in releases} - {"logistique", seed.doc_id}


def test_releases_are_listed_newest_first_with_their_passage_counts(built: RagConfig) -> None:
    stored = load_generation(built.index_dir)
    releases = list_releases(stored)
    dates = [r.date or "" for r in releases]
    assert dates == sorted(dates, reverse=True)
    assert sum(r.passages for r in releases) == len(stored.chunks)
    assert {r.lang for r in releases} == {"fr"}


def test_progress_goes_from_reading_through_embedding_to_done(
        built: RagConfig, fake_embedder: HashingEmbedder, uploads: Path, browser_files: Path) -> None:
    seen: list[tuple[float, str]] = []
    add_files(built, fake_embedder, [write_release_pdf(browser_files / "logistique.pdf", LOGISTICS)], uploads,
              on_progress=lambda fraction, message: seen.append((fraction, message)))
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert seen[0][1] == "reading logistique.pdf"
    assert any(message.startswith("embedding ") for _, message in seen)


def test_passages_embedded_in_batches_get_the_vectors_of_one_call() -> None:
    embedder = HashingEmbedder()
    texts = [f"passage numéro {n} sur la logistique" for n in range(70)]
    batched = _BatchedEmbedder(embedder, 32, lambda fraction, message: None, (0.0, 1.0))
    np.testing.assert_array_equal(batched.embed_passages(texts), embedder.embed_passages(texts))
    assert embedder.passage_calls == [32, 32, 6, 70]


class OnePassAtATime(HashingEmbedder):
    """Like the real embedder: one forward pass at a time, questions first (QuestionsFirst), each batch of
    passages slow."""

    def __init__(self) -> None:
        super().__init__()
        self.turns = QuestionsFirst()
        self.building = threading.Event()
        self.passes_before_each_query: list[int] = []

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        with self.turns.turn(question=True):
            self.passes_before_each_query.append(len(self.passage_calls))
            return HashingEmbedder.embed_queries(self, texts)

    def embed_passages(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        with self.turns.turn(question=False):
            self.building.set()
            time.sleep(0.25 * len(texts) / 8)
            self.passage_calls.append(len(texts))
            return HashingEmbedder.embed_queries(self, texts)


def test_a_question_is_answered_while_an_upload_is_being_embedded_and_the_next_one_sees_the_new_release(
        fake_config: RagConfig, uploads: Path, browser_files: Path) -> None:
    embedder = OnePassAtATime()
    build_index(fake_config, embedder, show_progress=False)
    assistant = Assistant(fake_config, embedder)
    assistant.ask("Qui a ouvert la réunion ?")  # what a first question loads is loaded
    embedder.building.clear()
    long_release = PdfRelease(LOGISTICS.title, LOGISTICS.date_line,
                              [f"{p} (partie {n})" for n in range(20) for p in LOGISTICS.paragraphs])
    pdf = write_release_pdf(browser_files / "logistique.pdf", long_release)
    config = fake_config.with_overrides(embed_batch_size=8)
    upload = threading.Thread(target=add_files, args=(config, embedder, [pdf], uploads))
    upload.start()
    assert embedder.building.wait(30)
    answer = assistant.ask("Qui a ouvert la réunion du Comité militaire de janvier 2025 ?")
    assert "logistique" not in {c.doc_id for c in answer.citations}
    upload.join(60)
    passes_before_the_question = embedder.passes_before_each_query[-1]
    assert passes_before_the_question < len(embedder.passage_calls), "the question waited for the whole build"
    after = assistant.ask("Qui a présenté le nouveau plan logistique aux chefs d'état-major ?")
    assert assistant.stored.generation == load_generation(fake_config.index_dir).generation
    assert "logistique" in {c.doc_id for c in after.citations}
