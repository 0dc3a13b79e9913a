"""The Releases tab without a browser: the escaped list, the upload report, removal after a confirmation, and no
write at all when the page is reachable from other machines without writes allowed."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.archive import ArchiveChange, FileOutcome, ReleaseSummary
from rag.assistant import Assistant
from tests.document_files import PdfRelease, write_release_pdf, write_scanned_pdf
from tests.ui_fakes import HOSTILE_DOC, HOSTILE_TITLE, ScriptedAssistant, parse
from ui.app import build_app
from ui.releases import (
    ReleasesController,
    listens_on_loopback_only,
    render_change,
    render_release_table,
    render_removal_question,
)

RELEASE = PdfRelease("Le Comité militaire examine la logistique de l'Alliance", "Bruxelles, le 3 mars 2025",
                     ["Le général Martin Dupuis a présenté le nouveau plan logistique aux chefs d'état-major."])
HOSTILE = ReleaseSummary(HOSTILE_DOC.doc_id, HOSTILE_TITLE, "2025-01-15", "fr", 3, "<b>x</b>/999_hostile.txt")


def test_the_release_list_shows_a_hostile_title_and_source_as_text() -> None:
    page = parse(render_release_table([HOSTILE]))
    assert {tag for tag, _ in page.tags} <= {"p", "div", "table", "thead", "tbody", "tr", "th", "td", "code"}
    text = "".join(page.text)
    assert HOSTILE_TITLE in text and "999_hostile.txt" in text and "fr" in text


def test_the_upload_report_names_each_file_with_its_outcome_and_escapes_reasons() -> None:
    change = ArchiveChange((FileOutcome("a.pdf", "added", "a"), FileOutcome("<i>b</i>.pdf", "skipped",
                                                                           reason="no text layer (scanned PDF?)")),
                           (), "gen-2", 7, 1.25, (("embed", 1.0), ("save", 0.25)))
    page = parse(render_change(change))
    assert "i" not in {tag for tag, _ in page.tags}
    text = "".join(page.text)
    for expected in ("a.pdf", "added", "<i>b</i>.pdf", "skipped", "no text layer (scanned PDF?)", "gen-2",
                     "7 releases", "1.2 s", "embed 1.0 s, save 0.2 s"):
        assert expected in text


def test_the_removal_question_names_the_release_escaped() -> None:
    page = parse(render_removal_question(HOSTILE))
    assert "script" not in {tag for tag, _ in page.tags}
    assert HOSTILE_TITLE in "".join(page.text) and "3 passages" in "".join(page.text)


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.8.0.1", True), ("::1", True), ("[::1]", True), ("localhost", True),
    ("0.0.0.0", False), ("::", False), ("192.168.1.20", False), ("rag.example.org", False),
])
def test_only_a_loopback_address_counts_as_this_machine_only(host: str, loopback: bool) -> None:
    assert listens_on_loopback_only(host) is loopback


@pytest.fixture
def controller(fake_assistant: Assistant, tmp_path: Path) -> ReleasesController:
    return ReleasesController(fake_assistant, tmp_path / "uploads")


def no_progress(fraction: float, desc: str = "") -> None:
    """Stands for gr.Progress outside a request."""


def test_an_upload_reports_each_file_lists_the_new_release_and_empties_the_upload_box(
        controller: ReleasesController, tmp_path: Path) -> None:
    pdf = write_release_pdf(tmp_path / "browser" / "logistique.pdf", RELEASE)
    scan = write_scanned_pdf(tmp_path / "browser" / "scan.pdf")
    report, table, picker, upload_box = controller.upload([str(pdf), str(scan)], no_progress)  # type: ignore[arg-type]
    report_text = "".join(parse(report).text)
    assert "logistique.pdf" in report_text and "added" in report_text
    assert "scan.pdf" in report_text and "no text layer (scanned PDF?)" in report_text
    assert RELEASE.title in "".join(parse(table).text)
    assert "logistique" in [value for _, value in picker["choices"]]
    assert upload_box is None


def test_removal_asks_first_and_removes_only_the_release_it_asked_about(
        controller: ReleasesController, fake_assistant: Assistant) -> None:
    doc_id = "003_f6db62ec60d4efec"
    row, question, pending = controller.ask_removal(doc_id)
    assert row["visible"] is True and doc_id in question and pending == doc_id
    assert doc_id in fake_assistant.stored.documents  # nothing removed before the confirmation
    report, table, picker, row, pending = controller.remove(pending)
    assert doc_id not in fake_assistant.stored.documents and doc_id not in table
    assert f"Removed: {doc_id}." in "".join(parse(report).text)
    assert row["visible"] is False and pending is None


def test_a_cancelled_or_unknown_removal_changes_nothing(controller: ReleasesController,
                                                        fake_assistant: Assistant) -> None:
    before = set(fake_assistant.stored.documents)
    row, _, pending = controller.ask_removal("not-a-release")
    assert row["visible"] is False and pending is None
    report, *_ = controller.remove("not-a-release")
    assert "no longer in the index" in report
    assert set(fake_assistant.stored.documents) == before


def _elem_ids(app: object) -> set[str]:
    return {c.get("props", {}).get("elem_id") for c in app.config["components"]} - {None}  # type: ignore[attr-defined]


def test_the_page_has_a_releases_tab_with_upload_and_removal_on_loopback(fake_assistant: Assistant) -> None:
    ids = _elem_ids(build_app(fake_assistant))
    assert {"rag-releases-tab", "rag-releases-list", "rag-upload", "rag-remove", "rag-remove-yes"} <= ids
    assert "rag-writes-off" not in ids


def test_a_page_reachable_from_other_machines_lists_releases_but_builds_no_write(fake_assistant: Assistant) -> None:
    from dataclasses import replace

    exposed = ScriptedAssistant(config=replace(fake_assistant.config, host="0.0.0.0"))
    # What `rag serve --host 0.0.0.0` decides with no login (see ui.app.serve): no action that writes.
    app = build_app(exposed, allow_writes=False)
    ids = _elem_ids(app)
    assert {"rag-releases-list", "rag-writes-off"} <= ids
    assert not {"rag-upload", "rag-remove", "rag-remove-yes"} & ids
    functions = {getattr(fn.fn, "__name__", "") for fn in app.fns.values()}
    assert not {"upload", "remove"} & functions
