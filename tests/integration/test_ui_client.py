"""The chat page over HTTP with gradio_client: the real model and index behind the `/ask` endpoint."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from rag.assistant import Assistant
from rag.text.loading import largest_accepted_file
from tests.ui_fakes import parse

pytestmark = pytest.mark.integration

# /ask returns (textbox, chat, picker, panel, full release, status, answer details); the states stay server-side.
TEXTBOX, CHAT, PICKER, PANEL, FULL, STATUS, DETAILS = range(7)
JANUARY_2025 = "Qui a ouvert la réunion du Comité militaire de janvier 2025 ?"


def client(url: str) -> Any:
    from gradio_client import Client

    return Client(url, verbose=False)


def seen(message: dict[str, Any]) -> str:
    """The text a reader sees in one chat message (gradio_client returns content as a list of parts)."""
    content = message["content"]
    html = content if isinstance(content, str) else "".join(part.get("text", "") for part in content)
    return "".join(parse(html).text)


def test_french_question_gets_an_answer_with_citations(ui_url: str) -> None:
    result = client(ui_url).predict(
        "Qui a ouvert la réunion semestrielle de l'EMI avec les partenaires tenue fin 2024 ?", api_name="/ask")
    details = result[DETAILS]
    assert details["lang"] == "fr" and details["mode"] == "extractive"
    assert details["citations"] and "Adamczak" in details["citations"][0]["quote"]
    answer = seen(result[CHAT][-1])
    assert "Adamczak" in answer and "[1]" in answer and "000_7420c92f95da150b" in answer
    assert parse(result[PANEL]).marks == [details["citations"][0]["quote"]]


def test_english_question_gets_an_answer_with_citations(ui_url: str) -> None:
    result = client(ui_url).predict(
        "Where did the informal workshops with partner nations take place in November 2022?", api_name="/ask")
    details = result[DETAILS]
    assert details["lang"] == "en" and details["citations"]
    assert "Bruxelles" in " ".join(c["quote"] for c in details["citations"])
    assert "According to the releases" in seen(result[CHAT][-1])


def test_eight_concurrent_clients_each_get_their_own_correct_answer(
        ui_url: str, known_answers: list[tuple[str, str]], real_assistant: Assistant) -> None:
    def ask(question: str) -> dict[str, Any]:
        return client(ui_url).predict(question, api_name="/ask")[DETAILS]

    with ThreadPoolExecutor(max_workers=len(known_answers)) as pool:
        results = list(pool.map(ask, [q for q, _ in known_answers]))
    for (question, expected), details in zip(known_answers, results, strict=True):
        assert details["question"] == question
        assert expected in details["answer"], question
        assert details["answer"] == real_assistant.ask(question).answer


def test_empty_question_returns_the_message(ui_url: str) -> None:
    result = client(ui_url).predict("", api_name="/ask")
    assert seen(result[CHAT][-1]) == "The question is empty: type a question about the releases."
    assert "question" not in (result[DETAILS] or {})  # no answer: the details keep the previous one


def test_a_question_with_a_lone_surrogate_gets_the_not_valid_text_message(ui_url: str) -> None:
    """JSON may carry "\\ud800", which is no character (gradio_client cannot even send it, so the request is
    written by hand): the page says so rather than giving its generic error."""
    import httpx

    body = '{"data": ["Who opened the \\ud800 meeting?", null, null, "hybrid", 5, "extractive"]}'
    with httpx.Client(base_url=ui_url, timeout=60) as http:
        started = http.post("gradio_api/call/ask", content=body, headers={"Content-Type": "application/json"})
        started.raise_for_status()
        events = http.get(f"gradio_api/call/ask/{started.json()['event_id']}").text
    assert "event: complete" in events, events
    data = json.loads(events.split("event: complete", 1)[1].split("data:", 1)[1].strip().splitlines()[0])
    assert seen(data[CHAT][-1]).startswith("The question is not valid text (UTF-8)")


def test_follow_up_uses_the_previous_question_and_says_so(ui_url: str) -> None:
    session = client(ui_url)
    session.predict(JANUARY_2025, api_name="/ask")
    result = session.predict("Et qui l'a présidée ?", api_name="/ask")
    details = result[DETAILS]
    assert details["context_question"] == JANUARY_2025
    assert details["turn"] == 2
    assert "Bauer" in details["answer"]
    assert f"Question lue comme la suite de : « {JANUARY_2025} »" in seen(result[CHAT][-1])


def test_show_source_switches_to_another_citation(ui_url: str) -> None:
    session = client(ui_url)
    # A "when?" question whose best sentence gives no date: the answer cites the dateline and the sentence.
    first = session.predict(
        "When did General Cavoli present the new partner force framework PAF-N?",
        api_name="/ask")[DETAILS]
    assert len(first["citations"]) >= 2
    panel, full = session.predict("1:c:2", api_name="/show_source")
    assert parse(panel).marks == [first["citations"][1]["quote"]]
    assert parse(full).marks == [first["citations"][1]["quote"]]


def test_an_upload_bigger_than_any_release_file_is_refused_before_it_is_stored(ui_url: str) -> None:
    def upload(size: int) -> httpx.Response:
        files = {"files": ("big.txt", b"a" * size, "text/plain")}
        return httpx.post(f"{ui_url}gradio_api/upload", files=files, timeout=60)

    too_big = upload(largest_accepted_file() + 1)
    assert too_big.status_code == 413, too_big.text
    assert upload(1_000).status_code == 200
