"""The Releases tab and a phone-wide window in a real browser (Debian's headless Chromium driven by Playwright),
over the real model.

The upload test gets a page of its own, over a copy of the real index, since it changes the index; the
narrow-window test reads the shared page. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from rag.assistant import Assistant
from rag.config import load_config
from tests.document_files import PdfRelease, write_release_pdf
from tests.integration.test_ui_browser import (  # noqa: F401  (browser is a fixture the page fixture uses)
    ANSWER_TIMEOUT_MS,
    CHROMIUM_ARGS,
    FRENCH,
    ask,
    browser,
    click_marker,
    marked,
    open_page,
    shoot,
)

pytestmark = [pytest.mark.integration, pytest.mark.browser]

PHONE = {"width": 390, "height": 844}
ARCTIC = PdfRelease(
    "NATO opens an Arctic logistics hub in Tromsø",
    "Brussels, 4 March 2025",
    ["On 4 March 2025, NATO opened a new Arctic logistics hub in Tromsø, Norway, to supply Allied forces "
     "training in the High North.",
     "The hub stores fuel, spare parts and cold-weather equipment for up to twelve thousand troops, and is run by "
     "the Joint Support and Enabling Command together with the Norwegian Armed Forces.",
     "Admiral Rob Bauer, Chair of the NATO Military Committee, said the hub would cut the time needed to move "
     "supplies to the Arctic from weeks to days."],
    header="NATO - Press release",
)
ARCTIC_QUESTION = "How many troops can the new Arctic logistics hub in Tromsø supply?"


@pytest.fixture
def page_at(browser: Any) -> Iterator[Callable[[dict[str, int]], Any]]:  # noqa: F811
    contexts: list[Any] = []

    def new_page(viewport: dict[str, int]) -> Any:
        context = browser.new_context(viewport=viewport, locale="en-US")
        contexts.append(context)
        return context.new_page()

    yield new_page
    for context in contexts:
        context.close()


@pytest.fixture
def own_page(real_index_dir: Path, real_embedder: Any, tmp_path: Path,
             serve_page: Callable[[Any], str]) -> tuple[str, Path]:
    """A page over a copy of the real index (its releases already embedded), and its uploads folder."""
    root = tmp_path / "archive"
    shutil.copytree(real_index_dir, root)
    config = load_config(env={}, corpus_dir=root / "seeds", index_dir=root / "index")
    return serve_page(Assistant(config, real_embedder)), root / "uploads"


def show_tab(page: Any, name: str) -> None:
    """Bring a tab of the page forward (the chat may sit in one, or on the page itself)."""
    tab = page.get_by_role("tab", name=name)
    if tab.count():
        tab.first.click()


def test_a_pdf_uploaded_on_the_releases_tab_is_listed_answers_a_question_and_is_removed(
        page_at: Callable[[dict[str, int]], Any], own_page: tuple[str, Path], tmp_path: Path) -> None:
    url, uploads = own_page
    pdf = write_release_pdf(tmp_path / "browser" / "arctic-logistics.pdf", ARCTIC)
    page = page_at({"width": 1440, "height": 960})
    open_page(page, url)
    show_tab(page, "Releases")
    page.locator("#rag-upload input[type=file]").set_input_files(str(pdf))
    report = page.locator("#rag-upload-report")
    report.locator("td.rag-outcome-added").wait_for(timeout=ANSWER_TIMEOUT_MS)
    assert "arctic-logistics.pdf" in report.inner_text() and (uploads / "arctic-logistics.pdf").exists()
    listing = page.locator("#rag-releases-list")
    assert ARCTIC.title in listing.inner_text() and "6 releases indexed." in listing.inner_text()
    shoot(page, "releases-uploaded.png")

    show_tab(page, "Chat")
    ask(page, ARCTIC_QUESTION)
    answer = page.locator("#rag-chat .rag-answer").last
    assert "twelve thousand" in answer.inner_text()
    assert "arctic-logistics" in answer.locator(".rag-doc-id").all_inner_texts()
    click_marker(page, "1:c:1")
    assert "twelve thousand troops" in marked(page)

    show_tab(page, "Releases")
    page.locator("#rag-remove-pick input").click()
    page.get_by_role("option", name=ARCTIC.title, exact=False).click()
    page.click("#rag-remove")
    confirm = page.locator("#rag-remove-confirm")
    confirm.wait_for(state="visible", timeout=10_000)
    assert ARCTIC.title in confirm.inner_text()
    page.click("#rag-remove-yes")
    page.wait_for_function("() => (document.querySelector('#rag-upload-report')?.textContent || '')"
                           ".includes('Removed: arctic-logistics.')", timeout=ANSWER_TIMEOUT_MS)
    assert ARCTIC.title not in listing.inner_text() and "5 releases indexed." in listing.inner_text()
    assert not (uploads / "arctic-logistics.pdf").exists()


def test_on_a_phone_wide_window_a_clicked_marker_brings_its_passage_into_view(
        page_at: Callable[[dict[str, int]], Any], ui_url: str, real_assistant: Assistant) -> None:
    expected = real_assistant.ask(FRENCH)
    page = page_at(PHONE)
    open_page(page, ui_url)
    page.locator("#rag-examples button.rag-example").first.wait_for(state="visible", timeout=10_000)
    ask(page, FRENCH)
    # The conversation has started: the examples fold away.
    page.wait_for_function("() => !document.querySelector('#rag-examples button.rag-example')?.checkVisibility()",
                           timeout=10_000)
    marker = page.locator("#rag-chat .rag-answer-text button.rag-marker[value='1:c:1']").first
    marker.scroll_into_view_if_needed()
    click_marker(page, "1:c:1")
    assert marked(page) == expected.citations[0].quote
    page.wait_for_function(
        """() => {
             const box = document.querySelector('#rag-source-panel mark')?.getBoundingClientRect();
             return box && box.top >= 0 && box.bottom <= window.innerHeight && box.left >= 0
               && box.right <= window.innerWidth;
           }""", timeout=10_000)
    box = page.locator("#rag-source-panel mark").bounding_box()
    assert box is not None and 0 <= box["y"] and box["y"] + box["height"] <= PHONE["height"]
    shoot(page, "phone-marker-in-view.png")
