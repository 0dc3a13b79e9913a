"""The Releases tab: the indexed releases listed, files uploaded into the index, a release removed after a
confirmation. `build_releases_tab(assistant, allow_writes)` is called inside the page's gr.Blocks.

Writes go through rag.archive (the same incremental build as `rag add` / `rag remove`), one at a time
(`concurrency_limit=1`), in Gradio's worker threads: the chat keeps answering from the generation it has, and
moves to the new one on its next question (Assistant.refresh). Everything shown from a release is escaped.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Sequence
from pathlib import Path, PurePath
from typing import Any, Protocol

import gradio as gr

from rag.archive import (
    ArchiveChange,
    IndexedReleases,
    ReleaseSummary,
    add_files,
    default_uploads_dir,
    list_releases,
    remove_release,
)
from rag.config import RagConfig
from rag.errors import RagError
from rag.protocols import Embedder
from rag.text.loading import SUPPORTED_SUFFIXES

from .render import escape_html

log = logging.getLogger(__name__)

WRITES_CONCURRENCY_ID = "rag-archive-writes"
OUTCOME_LABELS = {"added": "added", "updated": "updated", "unchanged": "unchanged (same text)", "skipped": "skipped"}
WRITES_OFF = ("Adding and removing releases is off: this page listens on {host}, which other machines can reach, "
              "and no users are configured. Configure users (sign-in) or allow writes explicitly in the "
              "configuration to turn it on; the list below stays readable.")
ERROR_MESSAGE = "Something went wrong while changing the index; the details are in the server log."

CSS = """
table.rag-releases { border-collapse: collapse; width: 100%; font-size: 0.9em; }
table.rag-releases th, table.rag-releases td { text-align: left; padding: 0.3em 0.5em;
  border-bottom: 1px solid var(--border-color-primary); vertical-align: top; }
.rag-releases-wrap { max-height: 60vh; overflow: auto; }
.rag-outcome-added, .rag-outcome-updated { color: #166534; font-weight: 600; }
.rag-outcome-skipped { color: #b91c1c; font-weight: 600; }
.rag-writes-off { padding: 0.6em 0.8em; border-left: 4px solid #f59e0b; background: #fffbeb; color: #78350f; }
.dark .rag-writes-off { background: #422006; color: #fde68a; }
"""


class ArchiveAssistant(Protocol):
    """What the tab uses of `rag.assistant.Assistant`: its config and embedder, its releases, and `refresh`."""

    @property
    def config(self) -> RagConfig: ...

    @property
    def embedder(self) -> Embedder: ...

    @property
    def stored(self) -> IndexedReleases: ...

    def refresh(self) -> bool: ...


def listens_on_loopback_only(host: str) -> bool:
    """True when `host` is a loopback address (127.0.0.0/8, ::1) or localhost: only this machine reaches the page."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


# --- HTML ----------------------------------------------------------------------------------------------------


def render_release_table(releases: Sequence[ReleaseSummary]) -> str:
    """Title, date, language, passages, source file and id of every release, escaped: a release is data."""
    if not releases:
        return '<p class="rag-releases-empty">No release is indexed yet.</p>'
    rows = "".join(
        f"<tr><td>{escape_html(r.title or '(untitled)')}</td><td>{escape_html(r.date or '—')}</td>"
        f"<td>{escape_html(r.lang)}</td><td>{r.passages}</td>"
        f'<td title="{escape_html(r.source)}">{escape_html(PurePath(r.source).name)}</td>'
        f"<td><code>{escape_html(r.doc_id)}</code></td></tr>"
        for r in releases
    )
    return (f'<p class="rag-releases-count">{len(releases)} releases indexed.</p>'
            '<div class="rag-releases-wrap"><table class="rag-releases"><thead><tr><th>Title</th><th>Date</th>'
            "<th>Language</th><th>Passages</th><th>Source file</th><th>Id</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></div>")


def render_change(change: ArchiveChange) -> str:
    """The report of an upload or a removal: one row per file, then the index it published."""
    parts = []
    if change.files:
        rows = "".join(
            f'<tr><td>{escape_html(f.name)}</td><td class="rag-outcome-{f.outcome}">'
            f"{escape_html(OUTCOME_LABELS[f.outcome])}</td><td><code>{escape_html(f.doc_id or '')}</code></td>"
            f"<td>{escape_html(f.reason or '')}</td></tr>"
            for f in change.files
        )
        parts.append('<table class="rag-releases rag-upload-report"><thead><tr><th>File</th><th>Result</th>'
                     f"<th>Id</th><th>Why</th></tr></thead><tbody>{rows}</tbody></table>")
    if change.removed:
        parts.append(f'<p class="rag-removed">Removed: {escape_html(", ".join(change.removed))}.</p>')
    if change.generation:
        stages = ", ".join(f"{name.replace('_', ' ')} {seconds:.1f} s" for name, seconds in change.stages_s)
        parts.append(f'<p class="rag-change-summary">Index <code>{escape_html(change.generation)}</code>: '
                     f"{change.releases} releases, built in {change.seconds:.1f} s"
                     f"{f' ({escape_html(stages)})' if stages else ''}. New questions use it.</p>")
    else:
        parts.append('<p class="rag-change-summary">Nothing was indexed: the index is unchanged.</p>')
    return "".join(parts)


def render_problem(message: str) -> str:
    return f'<p class="rag-notice-error rag-archive-error">{escape_html(message)}</p>'


def render_removal_question(release: ReleaseSummary) -> str:
    return (f'<p class="rag-remove-question">Remove <b>{escape_html(release.title or "(untitled)")}</b> '
            f"(<code>{escape_html(release.doc_id)}</code>, {release.passages} passages) from the index? "
            "Answers will no longer quote it.</p>")


# --- events --------------------------------------------------------------------------------------------------


class ReleasesController:
    """What the tab's events do, apart from the widgets so that it can be tested without a browser."""

    def __init__(self, assistant: ArchiveAssistant, uploads_dir: Path) -> None:
        self.assistant = assistant
        self.uploads_dir = uploads_dir

    def releases(self) -> list[ReleaseSummary]:
        return list_releases(self.assistant.stored)

    def listing(self) -> tuple[str, dict[str, Any]]:
        """(the table, the removal picker's choices)."""
        self.assistant.refresh()
        releases = self.releases()
        choices = [(f"{r.title or '(untitled)'} — {r.date or 'no date'} ({r.doc_id})", r.doc_id) for r in releases]
        return render_release_table(releases), gr.update(choices=choices, value=None)

    def upload(self, files: list[str] | None, progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008
        """Add the uploaded files; returns (report, table, picker, upload box)."""
        paths = [Path(f) for f in files or []]
        if not paths:
            return (gr.skip(), gr.skip(), gr.skip(), gr.skip())
        try:
            change = add_files(self.assistant.config, self.assistant.embedder, paths, self.uploads_dir,
                               on_progress=lambda fraction, message: progress(fraction, desc=message))
            report = render_change(change)
        except RagError as exc:
            report = render_problem(f"The releases could not be added: {exc}")
        except Exception:
            log.exception("adding %d uploaded file(s) failed", len(paths))
            report = render_problem(ERROR_MESSAGE)
        return (report, *self.listing(), None)

    def ask_removal(self, doc_id: str | None) -> tuple[Any, ...]:
        """Show the confirmation for the picked release; returns (confirmation row, its question, pending id)."""
        release = next((r for r in self.releases() if r.doc_id == doc_id), None)
        if release is None:
            return gr.update(visible=False), "", None
        return gr.update(visible=True), render_removal_question(release), release.doc_id

    def remove(self, doc_id: str | None) -> tuple[Any, ...]:
        """Remove the release the confirmation named; returns (report, table, picker, confirmation row, pending)."""
        release = next((r for r in self.releases() if r.doc_id == doc_id), None)
        if release is None:
            return (render_problem("That release is no longer in the index."), *self.listing(),
                    gr.update(visible=False), None)
        try:
            report = render_change(remove_release(self.assistant.config, self.assistant.embedder, release,
                                                  self.uploads_dir))
        except RagError as exc:
            report = render_problem(f"{release.doc_id} could not be removed: {exc}")
        except Exception:
            log.exception("removing %s failed", release.doc_id)
            report = render_problem(ERROR_MESSAGE)
        return (report, *self.listing(), gr.update(visible=False), None)


def build_releases_tab(assistant: ArchiveAssistant, allow_writes: bool, uploads_dir: Path | None = None) -> gr.Tab:
    """The "Releases" tab, inside the caller's gr.Blocks. Without `allow_writes` the list is shown, and the upload
    box and the removal are not built at all (no event a client could call), with the reason in their place."""
    controller = ReleasesController(assistant, uploads_dir or default_uploads_dir(assistant.config))
    table, picker_update = controller.listing()
    with gr.Tab("Releases", id="releases", elem_id="rag-releases-tab") as tab:
        if not allow_writes:
            gr.HTML(f'<p class="rag-writes-off">{escape_html(WRITES_OFF.format(host=assistant.config.host))}</p>',
                    elem_id="rag-writes-off")
            listing = gr.HTML(table, elem_id="rag-releases-list")
            tab.select(lambda: controller.listing()[0], None, [listing], api_visibility="private", queue=False)
            return tab
        upload = gr.File(label=f"Add releases ({' '.join(SUPPORTED_SUFFIXES)}); several at once",
                         file_count="multiple", file_types=list(SUPPORTED_SUFFIXES), elem_id="rag-upload")
        report = gr.HTML(elem_id="rag-upload-report")
        listing = gr.HTML(table, elem_id="rag-releases-list")
        with gr.Row(equal_height=True):
            picker = gr.Dropdown(choices=picker_update["choices"], value=None, label="Release to remove", scale=4,
                                 elem_id="rag-remove-pick")
            remove = gr.Button("Remove…", variant="stop", scale=1, min_width=120, elem_id="rag-remove")
        pending = gr.State(None)
        with gr.Row(visible=False, elem_id="rag-remove-confirm") as confirm_row:
            question = gr.HTML()
            yes = gr.Button("Yes, remove it", variant="stop", scale=0, min_width=140, elem_id="rag-remove-yes")
            cancel = gr.Button("Cancel", scale=0, min_width=100, elem_id="rag-remove-cancel")
    tab.select(controller.listing, None, [listing, picker], api_visibility="private", queue=False)
    # One write at a time, in its own queue: the chat's workers stay free while a build runs.
    upload.upload(controller.upload, [upload], [report, listing, picker, upload], show_progress="full",
                  api_visibility="private", concurrency_limit=1, concurrency_id=WRITES_CONCURRENCY_ID)
    remove.click(controller.ask_removal, [picker], [confirm_row, question, pending], api_visibility="private",
                 queue=False)
    yes.click(controller.remove, [pending], [report, listing, picker, confirm_row, pending],
              api_visibility="private", concurrency_limit=1, concurrency_id=WRITES_CONCURRENCY_ID)
    cancel.click(lambda: (gr.update(visible=False), None), None, [confirm_row, pending], api_visibility="private",
                 queue=False)
    return tab
