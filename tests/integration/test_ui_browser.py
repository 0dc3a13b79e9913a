"""The chat page in a real browser: Debian's headless Chromium driven by Playwright.

Screenshots go to test-artifacts/ on every run. With RAG_SCREENSHOTS=1 the test also refreshes the README's
docs/screenshots/chat-fr.png and chat-en.png (off by default so that a test run leaves the work tree clean).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from rag.assistant import Assistant
from tests.ui_fakes import HOSTILE_QUOTE, HOSTILE_TITLE, ScriptedAssistant

pytestmark = [pytest.mark.integration, pytest.mark.browser]

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
README_SHOTS = REPO / "docs" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--headless=new", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1440, "height": 960}
ANSWER_TIMEOUT_MS = 60_000

FRENCH = "Qui a ouvert la réunion du Comité militaire de janvier 2025 ?"
# A "when?" question whose best sentence gives no date: the answer cites the release's dateline and the sentence.
ENGLISH = "When did General Cavoli present the new partner force framework PAF-N?"
ENGLISH_SHOWCASE = "Where did the informal workshops with partner nations take place in November 2022?"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.fail(f"Chromium not found at {CHROMIUM}: run `make browser` to install Debian's chromium package "
                    "(the browser tests never download one).", pytrace=False)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Playwright is missing: run `make install-dev`.", pytrace=False)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=VIEWPORT, locale="en-US")
    page = context.new_page()
    dialogs: list[str] = []

    def record_and_dismiss(dialog: Any) -> None:  # an alert() from injected markup would land here
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", record_and_dismiss)
    page.dialogs = dialogs
    yield page
    context.close()


def open_page(page: Any, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("#rag-question textarea", timeout=30_000)


def ask(page: Any, question: str) -> None:
    """Type a question, press Enter, wait until its answer (or refusal) is in the chat."""
    before = page.locator("#rag-chat .rag-answer:not(.rag-pending):not(.rag-streaming), #rag-chat .rag-notice").count()
    page.fill("#rag-question textarea", question)
    page.press("#rag-question textarea", "Enter")
    wait_for_messages(page, before + 1)


def wait_for_messages(page: Any, count: int) -> None:
    page.wait_for_function(
        """n => document.querySelectorAll(
             '#rag-chat .rag-answer:not(.rag-pending):not(.rag-streaming), #rag-chat .rag-notice').length >= n""",
        arg=count, timeout=ANSWER_TIMEOUT_MS)
    page.wait_for_function("() => !document.querySelector('#rag-chat .rag-pending')", timeout=ANSWER_TIMEOUT_MS)


def click_marker(page: Any, key: str) -> None:
    """Click the marker in the answer text (not the one in the citation list) and wait for the panel."""
    turn, _, number = key.split(":")
    page.locator(f"#rag-chat .rag-answer-text button.rag-marker[value='{key}']").first.click()
    page.wait_for_function(
        """([n, t]) => {
             const badge = document.querySelector('#rag-source-panel .rag-badge')?.textContent || '';
             return badge.startsWith(`[${n}] `) && badge.endsWith(` · question ${t}`);
           }""",
        arg=[number, turn], timeout=10_000)


def marked(page: Any) -> str:
    return str(page.locator("#rag-source-panel mark").text_content())


def shoot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    return path


def test_french_question_cited_passage_is_highlighted_in_the_sources_panel(
        page: Any, ui_url: str, real_assistant: Assistant) -> None:
    expected = real_assistant.ask(FRENCH)
    assert expected.citations, "the real index should answer the French question"
    open_page(page, ui_url)
    ask(page, FRENCH)
    assert "Rutte" in page.locator("#rag-chat .rag-answer").last.inner_text()
    click_marker(page, "1:c:1")
    assert marked(page) == expected.citations[0].quote
    assert page.locator("#rag-source-panel .rag-badge").inner_text() == "[1] passage cité · question 1"
    assert page.locator("#rag-source-panel .rag-panel-meta").inner_text().startswith(expected.citations[0].date or "")
    shoot(page, "chat-fr.png")
    if os.environ.get("RAG_SCREENSHOTS") == "1":
        README_SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(README_SHOTS / "chat-fr.png"), full_page=True)

    page.click("#rag-full-release button, #rag-full-release .label-wrap")
    full_mark = page.locator("#rag-full-release-text mark")
    full_mark.wait_for(state="visible", timeout=10_000)
    assert full_mark.text_content() == expected.citations[0].quote
    shoot(page, "chat-fr-full-release.png")
    assert page.dialogs == []


def test_markers_switch_between_citations_and_back_to_an_earlier_answer(
        page: Any, ui_url: str, real_assistant: Assistant) -> None:
    french, english = real_assistant.ask(FRENCH), real_assistant.ask(ENGLISH)
    assert len(english.citations) >= 2, "the real index should cite two sentences for the English question"
    open_page(page, ui_url)
    ask(page, FRENCH)
    ask(page, ENGLISH)
    click_marker(page, "2:c:2")
    assert marked(page) == english.citations[1].quote
    click_marker(page, "2:c:1")
    assert marked(page) == english.citations[0].quote
    click_marker(page, "1:c:1")
    assert marked(page) == french.citations[0].quote
    shoot(page, "chat-two-questions.png")


def test_english_question_cited_passage_is_highlighted(page: Any, ui_url: str, real_assistant: Assistant) -> None:
    expected = real_assistant.ask(ENGLISH_SHOWCASE)
    assert expected.citations
    open_page(page, ui_url)
    ask(page, ENGLISH_SHOWCASE)
    click_marker(page, "1:c:1")
    assert marked(page) == expected.citations[0].quote
    shoot(page, "chat-en.png")
    if os.environ.get("RAG_SCREENSHOTS") == "1":
        README_SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(README_SHOTS / "chat-en.png"), full_page=True)


def test_picking_a_citation_in_the_list_switches_the_panel(page: Any, ui_url: str,
                                                           real_assistant: Assistant) -> None:
    expected = real_assistant.ask(ENGLISH)
    open_page(page, ui_url)
    ask(page, ENGLISH)
    page.locator("#rag-source-picker label").nth(1).click()
    page.wait_for_function("() => (document.querySelector('#rag-source-panel .rag-badge')?.textContent || '')"
                           ".startsWith('[2]')", timeout=10_000)
    assert marked(page) == expected.citations[1].quote


def test_example_click_asks_it_and_an_abstention_lists_related_passages(page: Any, ui_url: str) -> None:
    open_page(page, ui_url)
    page.get_by_text("What's a good recipe for Breton crêpes?").click()
    wait_for_messages(page, 1)
    answer = page.locator("#rag-chat .rag-answer").last
    assert "do not answer this question" in answer.inner_text()
    assert answer.locator("ul.rag-related li").count() >= 1
    page.wait_for_selector("#rag-source-panel mark.rag-hl-related")
    assert "related passage, not an answer" in page.locator("#rag-source-panel").inner_text()
    shoot(page, "abstention.png")


def test_empty_question_gets_a_message_in_the_chat(page: Any, ui_url: str) -> None:
    open_page(page, ui_url)
    ask(page, "")
    assert "The question is empty" in page.locator("#rag-chat .rag-notice").last.inner_text()


def test_hostile_release_shows_as_text_and_runs_nothing(
        page: Any, serve_page: Callable[[ScriptedAssistant], str]) -> None:
    url = serve_page(ScriptedAssistant())
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    open_page(page, url)
    ask(page, "<img src=x onerror=alert(2)> [q](javascript:alert(3)) **q**")
    chat = page.locator("#rag-chat")
    assert chat.locator("img, script, a[href], iframe").count() == 0
    assert "<img src=x onerror=alert(2)> [q](javascript:alert(3)) **q**" in chat.locator(".rag-question").inner_text()
    answer_text = chat.locator(".rag-answer-text").last
    assert answer_text.locator("button.rag-marker").count() == 1  # the release's own "[1]" stays text
    assert HOSTILE_TITLE in chat.locator(".rag-doc-title").last.inner_text()
    click_marker(page, "1:c:1")
    assert marked(page) == HOSTILE_QUOTE
    assert HOSTILE_TITLE in page.locator("#rag-source-picker").inner_text()
    assert page.locator("#rag-source-panel img, #rag-source-panel script").count() == 0
    shoot(page, "hostile-release.png")
    assert page.dialogs == []
    assert not [u for u in requests if "example.invalid" in u or u.rstrip("/").endswith("/x")]
