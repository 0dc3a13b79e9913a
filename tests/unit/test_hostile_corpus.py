"""Careless and hostile corpora (issue 15): ids that cannot collide, files that must never be opened, freshness by
size and time, readers during a write, dates of pages, stray bytes, skips reported once, removals that stick."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import rag.index.freshness
from rag.assistant import open_assistant
from rag.cli import main
from rag.config import RagConfig
from rag.errors import CorpusError, IndexLockedError, IndexStaleError
from rag.index.build import build_index, index_settings
from rag.index.freshness import check_fresh
from rag.index.store import MANIFEST, current_generation, load_generation, writer_lock
from rag.text.loading import decode_release, legacy_source_fingerprint, load_documents
from tests.fakes import HashingEmbedder

DAY_NS = 86_400 * 10**9


def release_text(subject: str, person: str, date: str = "3 mars 2025") -> str:
    return (f"Réunion du Comité militaire sur {subject}\n"
            f"Le {date}, le Comité militaire a examiné {subject} à Bruxelles. "
            f"Le général {person} a présenté le nouveau plan aux chefs d’état-major.\n")


def expected_tag(path: Path) -> str:
    return hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:6]


def age(folder: Path) -> None:
    """Every file under `folder` last modified a day ago: its size and time are trusted by the freshness check."""
    for path in folder.rglob("*"):
        if path.is_file():
            past = time.time_ns() - DAY_NS
            os.utime(path, ns=(past, past))


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The resolved paths of the files opened from now on (by open(), Path.open/read_bytes or os.open)."""
    paths: list[Path] = []
    real_io_open, real_os_open = io.open, os.open

    def io_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(file, str | Path):
            paths.append(Path(file).resolve())
        return real_io_open(file, *args, **kwargs)

    def os_open(path: Any, *args: Any, **kwargs: Any) -> int:
        paths.append(Path(path).resolve())
        return real_os_open(path, *args, **kwargs)

    monkeypatch.setattr(io, "open", io_open)
    monkeypatch.setattr(os, "open", os_open)
    return paths


@pytest.fixture
def never_open(monkeypatch: pytest.MonkeyPatch) -> Callable[[Path], None]:
    """Forbid opening a path: opening it fails the test at once (rather than hanging on a pipe or reading
    /dev/zero until memory runs out)."""
    forbidden: set[Path] = set()
    real_io_open, real_os_open = io.open, os.open

    def check(file: Any) -> None:
        if isinstance(file, str | Path) and Path(file).resolve() in forbidden:
            raise AssertionError(f"{file} was opened")

    def io_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        check(file)
        return real_io_open(file, *args, **kwargs)

    def os_open(path: Any, *args: Any, **kwargs: Any) -> int:
        check(path)
        return real_os_open(path, *args, **kwargs)

    monkeypatch.setattr(io, "open", io_open)
    monkeypatch.setattr(os, "open", os_open)
    return lambda path: forbidden.add(path.resolve())


def within(seconds: float, call: Callable[[], Any], fifo: Path | None = None) -> Any:
    """call(), failing the test when it has not returned after `seconds` (a reader blocked on `fifo` is then
    released, so that the thread ends)."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:  # handed to the test below
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        if fifo is not None:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail(f"still running after {seconds} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


# --- 1. ids that cannot collide ---------------------------------------------------------------------------------


def two_folders_with_release_txt(tmp_path: Path) -> tuple[Path, Path]:
    first, second = tmp_path / "dirA", tmp_path / "dirB"
    first.mkdir()
    second.mkdir()
    (first / "release.txt").write_text(release_text("la logistique", "Martin Dupuis"), encoding="utf-8")
    (second / "release.txt").write_text(release_text("la cyberdéfense", "Claire Lenoir", "12 mai 2025"),
                                        encoding="utf-8")
    return first, second


def index_seeds_then_two_namesakes(config: RagConfig, embedder: HashingEmbedder, tmp_path: Path) -> tuple[Path, Path]:
    """The seeds indexed, then dirA/release.txt added, then dirB/release.txt."""
    build_index(config, embedder, show_progress=False)
    first, second = two_folders_with_release_txt(tmp_path)
    for folder in (first, second):
        build_index(config, embedder, show_progress=False, add=[folder])
    return first, second


def test_a_file_named_like_an_indexed_release_in_another_folder_gets_its_own_id(
        fake_config: RagConfig, fake_embedder: HashingEmbedder, tmp_path: Path) -> None:
    build_index(fake_config, fake_embedder, show_progress=False)
    first, second = two_folders_with_release_txt(tmp_path)
    assert build_index(fake_config, fake_embedder, show_progress=False, add=[first]).added == ["release"]
    report = build_index(fake_config, fake_embedder, show_progress=False, add=[second])
    other_id = f"release-{expected_tag(second / 'release.txt')}"
    assert report.added == [other_id] and not report.updated
    documents = load_generation(fake_config.index_dir).documents
    assert documents["release"].source == str(first / "release.txt")
    assert documents[other_id].source == str(second / "release.txt")


def test_a_question_on_the_second_release_of_a_name_is_answered_from_it_with_a_verbatim_quote(
        fake_config: RagConfig, fake_embedder: HashingEmbedder, tmp_path: Path) -> None:
    first, second = index_seeds_then_two_namesakes(fake_config, fake_embedder, tmp_path)
    assistant = open_assistant(fake_config, build=False, embedder=fake_embedder)
    answer = assistant.ask("Qui a présenté le nouveau plan sur la cyberdéfense ?")
    assert answer.citations
    for citation in answer.citations:
        assert assistant.stored.documents[citation.doc_id].text[citation.start:citation.end] == citation.quote
    assert answer.citations[0].doc_id == f"release-{expected_tag(second / 'release.txt')}"


def test_a_file_named_like_a_seed_never_replaces_the_seed(
        fake_config: RagConfig, fake_embedder: HashingEmbedder, tmp_path: Path) -> None:
    build_index(fake_config, fake_embedder, show_progress=False)
    seed_id = "000_7420c92f95da150b"
    seed_text = load_generation(fake_config.index_dir).documents[seed_id].text
    other = tmp_path / "other"
    other.mkdir()
    (other / f"{seed_id}.txt").write_text(release_text("la logistique", "Martin Dupuis"), encoding="utf-8")
    report = build_index(fake_config, fake_embedder, show_progress=False, add=[other])
    assert report.added == [f"{seed_id}-{expected_tag(other / f'{seed_id}.txt')}"] and not report.updated
    assert load_generation(fake_config.index_dir).documents[seed_id].text == seed_text


def test_adding_the_same_file_again_updates_its_release(
        fake_config: RagConfig, fake_embedder: HashingEmbedder, tmp_path: Path) -> None:
    build_index(fake_config, fake_embedder, show_progress=False)
    first, _ = two_folders_with_release_txt(tmp_path)
    build_index(fake_config, fake_embedder, show_progress=False, add=[first / "release.txt"])
    (first / "release.txt").write_text(release_text("la logistique", "Martin Durand"), encoding="utf-8")
    report = build_index(fake_config, fake_embedder, show_progress=False, add=[first / "release.txt"])
    assert report.updated == ["release"] and not report.added
    assert "Martin Durand" in load_generation(fake_config.index_dir).documents["release"].text


def test_two_files_of_one_name_in_one_folder_get_two_ids(tmp_path: Path) -> None:
    (tmp_path / "release.md").write_text(release_text("la logistique", "Martin Dupuis"), encoding="utf-8")
    (tmp_path / "release.txt").write_text(release_text("la cyberdéfense", "Claire Lenoir"), encoding="utf-8")
    ids = sorted(d.doc_id for d in load_documents([tmp_path]).documents)
    assert ids == ["release", f"release-{expected_tag(tmp_path / 'release.txt')}"]


def test_ids_are_the_same_after_a_rebuild_and_after_a_build_from_scratch(
        fake_config: RagConfig, fake_embedder: HashingEmbedder, tmp_path: Path) -> None:
    first, second = index_seeds_then_two_namesakes(fake_config, fake_embedder, tmp_path)
    ids = {d.doc_id: d.source for d in load_generation(fake_config.index_dir).documents.values()}
    build_index(fake_config, fake_embedder, show_progress=False)
    assert {d.doc_id: d.source for d in load_generation(fake_config.index_dir).documents.values()} == ids
    shutil.rmtree(fake_config.index_dir)
    build_index(fake_config, fake_embedder, sources=[fake_config.corpus_dir, first, second], show_progress=False)
    assert {d.doc_id: d.source for d in load_generation(fake_config.index_dir).documents.values()} == ids


def test_removing_an_id_removes_exactly_that_release(
        fake_config: RagConfig, fake_embedder: HashingEmbedder, tmp_path: Path) -> None:
    build_index(fake_config, fake_embedder, show_progress=False)
    first, second = two_folders_with_release_txt(tmp_path)
    build_index(fake_config, fake_embedder, show_progress=False, add=[first, second])
    assert build_index(fake_config, fake_embedder, show_progress=False, remove=["release"]).removed == ["release"]
    other_id = f"release-{expected_tag(second / 'release.txt')}"
    assert other_id in load_generation(fake_config.index_dir).documents
    build_index(fake_config, fake_embedder, show_progress=False)  # stays out, and the other keeps its id
    assert sorted(load_generation(fake_config.index_dir).documents)[-1] == other_id
    assert "release" not in load_generation(fake_config.index_dir).documents


def test_removing_a_name_several_releases_were_told_apart_from_removes_none_and_lists_them(
        fake_config: RagConfig, fake_embedder: HashingEmbedder, tmp_path: Path) -> None:
    build_index(fake_config, fake_embedder, show_progress=False)
    first, second = two_folders_with_release_txt(tmp_path)
    third = tmp_path / "dirC"
    third.mkdir()
    (third / "release.txt").write_text(release_text("la marine", "Paul Marin"), encoding="utf-8")
    build_index(fake_config, fake_embedder, show_progress=False, add=[first, second, third])
    build_index(fake_config, fake_embedder, show_progress=False, remove=["release"])
    before = current_generation(fake_config.index_dir)
    tagged = [f"release-{expected_tag(folder / 'release.txt')}" for folder in (second, third)]
    with pytest.raises(CorpusError, match="release names 2 releases") as raised:
        build_index(fake_config, fake_embedder, show_progress=False, remove=["release"])
    assert all(doc_id in str(raised.value) for doc_id in tagged)
    assert current_generation(fake_config.index_dir) == before


def test_a_name_one_release_was_told_apart_from_removes_that_release(
        fake_config: RagConfig, fake_embedder: HashingEmbedder, tmp_path: Path) -> None:
    build_index(fake_config, fake_embedder, show_progress=False)
    first, second = two_folders_with_release_txt(tmp_path)
    build_index(fake_config, fake_embedder, show_progress=False, add=[first, second])
    build_index(fake_config, fake_embedder, show_progress=False, remove=["release"])
    report = build_index(fake_config, fake_embedder, show_progress=False, remove=["release"])
    assert report.removed == [f"release-{expected_tag(second / 'release.txt')}"]


def test_removing_an_unknown_id_names_the_close_ones(fake_config: RagConfig, fake_embedder: HashingEmbedder) -> None:
    build_index(fake_config, fake_embedder, show_progress=False)
    with pytest.raises(CorpusError, match=r"no document 003_f6db62ec in the index \(close: 003_f6db62ec60d4efec\)"):
        build_index(fake_config, fake_embedder, show_progress=False, remove=["003_f6db62ec"])


# --- 11. special and oversized files are never opened -------------------------------------------------------------


def test_a_pipe_in_a_source_folder_is_skipped_with_its_reason_without_being_opened(
        tmp_path: Path, never_open: Callable[[Path], None]) -> None:
    (tmp_path / "release.txt").write_text(release_text("la logistique", "Martin Dupuis"), encoding="utf-8")
    pipe = tmp_path / "pipe.txt"
    os.mkfifo(pipe)
    never_open(pipe)
    report = within(20, lambda: load_documents([tmp_path]), fifo=pipe)
    assert [d.doc_id for d in report.documents] == ["release"]
    assert [(s.source, s.reason) for s in report.skipped] == [
        (str(pipe), "a named pipe (FIFO), not a regular file: only regular files are read")]


def test_adding_a_pipe_by_name_returns_promptly_and_releases_the_lock(
        fake_config: RagConfig, fake_embedder: HashingEmbedder, tmp_path: Path,
        never_open: Callable[[Path], None]) -> None:
    build_index(fake_config, fake_embedder, show_progress=False)
    pipe = tmp_path / "pipe.txt"
    os.mkfifo(pipe)
    never_open(pipe)
    report = within(20, lambda: build_index(fake_config, fake_embedder, show_progress=False, add=[pipe]), fifo=pipe)
    assert "named pipe" in report.skipped[0].reason
    open_assistant(fake_config, build=False, embedder=fake_embedder)  # fresh: the pipe is not read to check it
    build_index(fake_config, fake_embedder, show_progress=False)  # the lock was released


def test_adding_dev_zero_is_skipped_without_reading_it(
        fake_config: RagConfig, fake_embedder: HashingEmbedder, never_open: Callable[[Path], None]) -> None:
    build_index(fake_config, fake_embedder, show_progress=False)
    never_open(Path("/dev/zero"))
    report = within(20, lambda: build_index(fake_config, fake_embedder, show_progress=False, add=[Path("/dev/zero")]))
    assert [(s.source, s.reason) for s in report.skipped] == [
        ("/dev/zero", "a character device, not a regular file: only regular files are read")]
    open_assistant(fake_config, build=False, embedder=fake_embedder)


def test_files_too_big_or_of_another_type_are_never_opened_to_build_or_check_the_index(
        fake_config: RagConfig, fake_embedder: HashingEmbedder, opened: list[Path]) -> None:
    dump, huge = fake_config.corpus_dir / "dump.bin", fake_config.corpus_dir / "huge.txt"
    for path in (dump, huge):
        with path.open("wb") as handle:
            handle.truncate(50 * 1024 * 1024)
    opened.clear()
    report = build_index(fake_config, fake_embedder, show_progress=False)
    assert {Path(s.source).name for s in report.skipped} == {"dump.bin", "huge.txt"}
    open_assistant(fake_config, build=False, embedder=fake_embedder)
    assert dump.resolve() not in opened and huge.resolve() not in opened


# --- 12. freshness by size and modification time ------------------------------------------------------------------


def test_the_freshness_check_hashes_only_the_files_whose_size_or_time_changed(
        fake_config: RagConfig, fake_embedder: HashingEmbedder, opened: list[Path]) -> None:
    age(fake_config.corpus_dir)
    build_index(fake_config, fake_embedder, show_progress=False)
    stored = load_generation(fake_config.index_dir)
    settings = index_settings(fake_config, fake_embedder)
    opened.clear()
    check_fresh(stored, fake_config, settings)
    corpus = fake_config.corpus_dir.resolve()
    assert [p for p in opened if corpus in p.parents] == []
    edited = next(corpus.glob("002_*.txt"))
    edited.write_text(edited.read_text(encoding="utf-8") + "\nUne phrase ajoutée.\n", encoding="utf-8")
    opened.clear()
    with pytest.raises(IndexStaleError, match="changed since"):
        check_fresh(stored, fake_config, settings)
    assert [p for p in opened if corpus in p.parents] == [edited]


def test_a_release_touched_without_a_change_leaves_the_index_fresh(
        fake_config: RagConfig, fake_embedder: HashingEmbedder) -> None:
    age(fake_config.corpus_dir)
    build_index(fake_config, fake_embedder, show_progress=False)
    next(fake_config.corpus_dir.glob("001_*.txt")).touch()
    check_fresh(load_generation(fake_config.index_dir), fake_config, index_settings(fake_config, fake_embedder))


def test_a_release_rewritten_at_the_same_size_and_time_right_after_a_build_is_seen(
        fake_config: RagConfig, fake_embedder: HashingEmbedder) -> None:
    path = fake_config.corpus_dir / "logistique.txt"
    path.write_text(release_text("la logistique", "Martin Dupuis"), encoding="utf-8")
    build_index(fake_config, fake_embedder, show_progress=False)
    info = path.stat()
    path.write_text(release_text("la logistique", "Martin Dupont"), encoding="utf-8")
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))  # as a write within the same clock tick leaves it
    assert path.stat().st_size == info.st_size
    with pytest.raises(IndexStaleError, match="changed since"):
        check_fresh(load_generation(fake_config.index_dir), fake_config, index_settings(fake_config, fake_embedder))


def test_an_index_written_before_file_stamps_is_checked_by_content(
        fake_config: RagConfig, fake_embedder: HashingEmbedder, caplog: pytest.LogCaptureFixture) -> None:
    build_index(fake_config, fake_embedder, show_progress=False)
    manifest_path = current_generation(fake_config.index_dir) / MANIFEST
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    del manifest["source_files"]
    manifest["source_fingerprint"] = legacy_source_fingerprint([Path(p) for p in manifest["sources"]])
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    settings = index_settings(fake_config, fake_embedder)
    with caplog.at_level(logging.INFO, logger=rag.index.freshness.__name__):
        check_fresh(load_generation(fake_config.index_dir), fake_config, settings)
    assert "records no file stamps" in caplog.text
    (fake_config.corpus_dir / "logistique.txt").write_text(release_text("la logistique", "M. Dupuis"), encoding="utf-8")
    with pytest.raises(IndexStaleError):
        check_fresh(load_generation(fake_config.index_dir), fake_config, settings)
    build_index(fake_config, fake_embedder, show_progress=False)
    assert load_generation(fake_config.index_dir).manifest["source_fingerprint"].startswith("stamps:")


# --- 13. readers during a write ----------------------------------------------------------------------------------


def test_a_reader_answers_from_the_published_generation_while_a_writer_works(
        fake_config: RagConfig, fake_embedder: HashingEmbedder, caplog: pytest.LogCaptureFixture) -> None:
    build_index(fake_config, fake_embedder, show_progress=False)
    published = current_generation(fake_config.index_dir).name
    (fake_config.corpus_dir / "logistique.txt").write_text(release_text("la logistique", "Martin Dupuis"),
                                                          encoding="utf-8")
    with writer_lock(fake_config.index_dir), caplog.at_level(logging.WARNING, logger="rag.assistant"):
        assistant = open_assistant(fake_config, build=True, embedder=fake_embedder)
        assert assistant.stored.generation == published
        assert assistant.ask("Qui a ouvert la réunion de janvier 2025 ?").passages
    assert f"being updated by pid {os.getpid()}; answering from generation {published}" in caplog.text
    build_index(fake_config, fake_embedder, show_progress=False)  # the writer publishes
    assistant.ask("Qui a présenté le nouveau plan sur la logistique ?")
    assert assistant.stored.generation != published and "logistique" in assistant.stored.documents


def test_without_a_published_generation_a_reader_still_waits_for_the_writer(
        fake_config: RagConfig, fake_embedder: HashingEmbedder) -> None:
    with writer_lock(fake_config.index_dir), pytest.raises(IndexLockedError, match="being written by pid"):
        open_assistant(fake_config, build=True, embedder=fake_embedder)


# --- 16. the date of a page is the date its text writes ------------------------------------------------------------


def test_a_page_and_a_text_file_dated_le_1er_avril_get_the_same_date(tmp_path: Path) -> None:
    text = release_text("la logistique", "Martin Dupuis", "1er avril 2025")
    title, first, second = text.strip().split("\n")[0], *text.strip().split("\n")[1].split(". ", 1)
    (tmp_path / "page.html").write_text(
        f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1><p>{first}.</p><p>{second}</p>"
        "</article></body></html>", encoding="utf-8")
    (tmp_path / "plain.txt").write_text(text, encoding="utf-8")
    dates = [load_documents([tmp_path / name]).documents[0].date for name in ("page.html", "plain.txt")]
    assert dates == ["2025-04-01", "2025-04-01"]


def test_a_page_whose_text_writes_no_date_keeps_the_date_of_its_metadata(tmp_path: Path) -> None:
    (tmp_path / "page.html").write_text(
        '<html><head><title>Réunion logistique</title><meta property="article:published_time" content="2024-11-20">'
        "</head><body><article><h1>Réunion logistique</h1><p>Le Comité militaire a examiné la logistique de "
        "l’Alliance à Bruxelles avec les représentants des pays partenaires réunis pour la journée.</p>"
        "</article></body></html>", encoding="utf-8")
    assert load_documents([tmp_path]).documents[0].date == "2024-11-20"


# --- 17. a few bad bytes in a UTF-8 file -------------------------------------------------------------------------


MOSTLY_UTF8 = ("Réunion du Comité militaire à Bruxelles\n"
               "Les chefs d’état-major se sont réunis le 3 mars 2025.\n").encode() + \
              b"Le g\xe9n\xe9ral Dupuis a pr\xe9sent\xe9 le plan.\n" + \
              "Les délégations ont échangé sur la sécurité.\n".encode()


def test_a_mostly_utf8_file_keeps_its_utf8_and_replaces_only_its_bad_bytes(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "stray.txt").write_bytes(MOSTLY_UTF8)
    with caplog.at_level(logging.WARNING, logger="rag.text.loading"):
        text = load_documents([tmp_path]).documents[0].text
    assert "Réunion du Comité militaire" in text and "délégations ont échangé sur la sécurité" in text
    assert "Le g\ufffdn\ufffdral Dupuis a pr\ufffdsent\ufffd le plan." in text
    assert f"{tmp_path / 'stray.txt'}: malformed UTF-8 on line 3:" in caplog.text


def test_a_windows_1252_file_with_one_utf8_looking_pair_is_read_as_windows_1252() -> None:
    data = "Réunion du Comité à Bruxelles : les délégués ont échangé. ".encode("cp1252") + "Ã©".encode("cp1252")
    decoded = decode_release(data)
    assert decoded.encoding == "cp1252" and decoded.text.startswith("Réunion du Comité")


def test_the_lines_with_malformed_bytes_are_numbered() -> None:
    decoded = decode_release(MOSTLY_UTF8 + b"Fin du communiqu\xe9.\n")
    assert decoded.encoding == "utf-8" and decoded.malformed_lines == (3, 5)


def test_a_mostly_utf8_page_keeps_its_utf8(tmp_path: Path) -> None:
    body = MOSTLY_UTF8.decode("utf-8", errors="replace").split("\n")
    page = ("<html><head><title>Réunion du Comité militaire</title></head><body><article><h1>Réunion du Comité "
            f"militaire</h1><p>{body[1]} Les représentants des pays partenaires étaient réunis pour la journée."
            f"</p><p>{body[3]}</p><p>").encode() + b"Le g\xe9n\xe9ral Dupuis a pr\xe9sent\xe9 le plan.</p>" + \
        b"</article></body></html>"
    (tmp_path / "page.html").write_bytes(page)
    text = load_documents([tmp_path]).documents[0].text
    assert "Les délégations ont échangé sur la sécurité." in text


# --- 18. skips reported once, removals that stick -----------------------------------------------------------------


def folder_with_bad_files(tmp_path: Path) -> Path:
    folder = tmp_path / "incoming"
    folder.mkdir()
    (folder / "binary.txt").write_bytes(b"\x00\x01\x02PNG\x00" * 100)
    (folder / "image.png").write_bytes(b"\x89PNG\r\n")
    (folder / "release.txt").write_text(release_text("la logistique", "Martin Dupuis"), encoding="utf-8")
    return folder


def test_files_skipped_by_an_earlier_build_are_reported_again_only_when_they_change(
        fake_config: RagConfig, fake_embedder: HashingEmbedder, tmp_path: Path) -> None:
    folder = folder_with_bad_files(tmp_path)
    first = build_index(fake_config, fake_embedder, show_progress=False, add=[folder])
    assert sorted(Path(s.source).name for s in first.skipped) == ["binary.txt", "image.png"]
    other = tmp_path / "other"
    other.mkdir()
    (other / "cyber.txt").write_text(release_text("la cyberdéfense", "Claire Lenoir"), encoding="utf-8")
    second = build_index(fake_config, fake_embedder, show_progress=False, add=[other])
    assert second.added == ["cyber"] and second.skipped == []
    assert sorted(Path(s.source).name for s in second.skipped_before) == ["binary.txt", "image.png"]
    (folder / "binary.txt").write_bytes(b"\x00\x01\x02GIF\x00" * 200)
    third = build_index(fake_config, fake_embedder, show_progress=False)
    assert [Path(s.source).name for s in third.skipped] == ["binary.txt"]


def test_rag_add_exits_0_when_no_file_was_skipped_anew(
        fake_config: RagConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import rag.embed.embedder

    monkeypatch.setattr(rag.embed.embedder, "SentenceTransformerEmbedder", lambda config: HashingEmbedder())
    for name in [n for n in os.environ if n.startswith("RAG_")]:
        monkeypatch.delenv(name)
    folders = ["--index-dir", str(fake_config.index_dir), "--corpus-dir", str(fake_config.corpus_dir)]
    assert main(["add", "-q", *folders, str(folder_with_bad_files(tmp_path))]) == 1
    other = tmp_path / "other"
    other.mkdir()
    (other / "cyber.txt").write_text(release_text("la cyberdéfense", "Claire Lenoir"), encoding="utf-8")
    capsys.readouterr()
    assert main(["add", "-q", *folders, str(other)]) == 0
    assert "2 file(s) skipped as in the last build" in capsys.readouterr().out


def test_removing_a_release_added_by_name_drops_its_file_from_the_sources(
        fake_config: RagConfig, fake_embedder: HashingEmbedder, tmp_path: Path) -> None:
    build_index(fake_config, fake_embedder, show_progress=False)
    single = tmp_path / "single.txt"
    single.write_text(release_text("la logistique", "Martin Dupuis"), encoding="utf-8")
    build_index(fake_config, fake_embedder, show_progress=False, add=[single])
    assert build_index(fake_config, fake_embedder, show_progress=False, remove=["single"]).removed == ["single"]
    assert load_generation(fake_config.index_dir).manifest["sources"] == [str(fake_config.corpus_dir.resolve())]
    assert build_index(fake_config, fake_embedder, show_progress=False, add=[single]).added == ["single"]


def test_a_source_that_yields_no_release_is_removed_by_its_path(
        fake_config: RagConfig, fake_embedder: HashingEmbedder, tmp_path: Path) -> None:
    build_index(fake_config, fake_embedder, show_progress=False)
    picture = tmp_path / "picture.png"
    picture.write_bytes(b"\x89PNG\r\n")
    assert build_index(fake_config, fake_embedder, show_progress=False, add=[picture]).skipped
    assert build_index(fake_config, fake_embedder, show_progress=False,
                       remove=[str(picture)]).dropped_sources == [str(picture.resolve())]
    assert load_generation(fake_config.index_dir).manifest["sources"] == [str(fake_config.corpus_dir.resolve())]
    assert build_index(fake_config, fake_embedder, show_progress=False).skipped == []


def test_a_file_whose_name_is_not_utf8_is_skipped_with_a_reason_and_the_build_succeeds(
        fake_config: RagConfig, fake_embedder: HashingEmbedder, tmp_path: Path) -> None:
    import os

    folder = tmp_path / "latin1-names"
    folder.mkdir()
    with open(os.path.join(os.fsencode(folder), b"r\xe9union.txt"), "wb") as handle:
        handle.write("Le 3 mars 2025, réunion à Bruxelles des chefs de la défense.".encode())
    report = build_index(fake_config, fake_embedder, show_progress=False, add=[folder])
    assert [s.reason for s in report.skipped] == [
        "the file name is not valid UTF-8: rename it (for example with convmv -f latin1 -t utf8)"]
    assert report.skipped[0].source.endswith("r\\xe9union.txt")
    assert load_generation(fake_config.index_dir).documents  # the index was written
    open_assistant(fake_config, build=False, embedder=fake_embedder)  # and is fresh: its stamps read back
