"""What the chat page's events do, run without a server: answers, follow-ups, streaming, refusals and errors."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from rag.assistant import Assistant
from tests.ui_fakes import HOSTILE_QUOTE, ScriptedAssistant, broken_assistant, parse
from ui.app import ERROR_MESSAGE, ChatController, build_app

# respond() yields (textbox, chat, picker, panel, full release, status, json, transcript, answers)
TEXTBOX, CHAT, PICKER, PANEL, FULL, STATUS, DETAILS, TRANSCRIPT, ANSWERS = range(9)


def run(controller: ChatController, question: str, transcript: list[Any] | None = None,
        answers: list[Any] | None = None, **settings: Any) -> list[tuple[Any, ...]]:
    return list(controller.respond(question, transcript or [], answers or [], settings.get("mode"),
                                   settings.get("top_k"), settings.get("answer_mode")))


def last_message(output: tuple[Any, ...]) -> str:
    return str(output[CHAT][-1]["content"])


def seen(output: tuple[Any, ...]) -> str:
    """The text a reader sees in the last chat message."""
    return "".join(parse(last_message(output)).text)


def is_skip(value: Any) -> bool:
    return isinstance(value, dict) and value.get("__type__") == "update" and len(value) == 1


def test_answer_fills_chat_picker_panel_status_and_details() -> None:
    controller = ChatController(ScriptedAssistant())
    final = run(controller, "Qui ?")[-1]
    assert final[TEXTBOX] == ""
    assert [m["role"] for m in final[CHAT]] == ["user", "assistant"]
    assert 'class="rag-marker" value="1:c:1"' in last_message(final)
    assert final[PICKER]["value"] == "1:c:1"
    assert parse(final[PANEL]).marks == [HOSTILE_QUOTE]
    assert parse(final[FULL]).marks == [HOSTILE_QUOTE]
    assert "last answer" in final[STATUS] and "—" not in final[STATUS]
    assert final[DETAILS]["turn"] == 1 and final[DETAILS]["citations"][0]["quote"] == HOSTILE_QUOTE
    assert len(final[ANSWERS]) == 1 and final[TRANSCRIPT] == final[CHAT]


def test_empty_question_gets_the_message_in_the_chat() -> None:
    assistant = ScriptedAssistant()
    outputs = run(ChatController(assistant), "   ")
    assert len(outputs) == 1
    assert [m["role"] for m in outputs[0][CHAT]] == ["assistant"]
    assert seen(outputs[0]) == "The question is empty: type a question about the releases."
    assert outputs[0][ANSWERS] == [] and assistant.calls == []


def test_over_long_question_is_refused_with_the_limit_and_kept_for_editing() -> None:
    assistant = ScriptedAssistant()
    question = "Pourquoi " + "très " * 600 + "?"
    outputs = run(ChatController(assistant), question)
    assert len(outputs) == 1
    assert "2000" in last_message(outputs[0])
    assert outputs[0][TEXTBOX] == question
    assert outputs[0][CHAT][0]["role"] == "user" and len(outputs[0][CHAT][0]["content"]) < 1000
    assert assistant.calls == []


def test_follow_up_passes_earlier_questions_as_history_and_names_the_context() -> None:
    assistant = ScriptedAssistant()
    controller = ChatController(assistant)
    first = run(controller, "Qui a ouvert la réunion de janvier 2025 ?")[-1]
    second = run(controller, "Et qui l'a présidée ?", first[TRANSCRIPT], first[ANSWERS])[-1]
    assert assistant.calls[1]["history"] == ("Qui a ouvert la réunion de janvier 2025 ?",)
    assert "Question lue comme la suite de : « Qui a ouvert la réunion de janvier 2025 ? »" in seen(second)
    assert second[DETAILS]["context_question"] == "Qui a ouvert la réunion de janvier 2025 ?"
    assert second[PICKER]["value"] == "2:c:1"


def test_settings_reach_the_library() -> None:
    assistant = ScriptedAssistant()
    controller = ChatController(assistant)
    run(controller, "Qui ?", mode="lexical", top_k=3.0, answer_mode="extractive")
    call = assistant.calls[0]
    assert (call["mode"], call["top_k"], call["answer_mode"]) == ("lexical", 3, "extractive")


def test_llm_deltas_stream_into_the_chat_before_the_cited_answer() -> None:
    assistant = ScriptedAssistant(deltas=["Selon ", "<b>les</b> ", "communiqués"])
    outputs = run(ChatController(assistant), "Qui ?", answer_mode="llm")
    streamed = [last_message(o) for o in outputs if "rag-streaming" in last_message(o)]
    assert len(streamed) == 3
    assert "Selon &lt;b&gt;les&lt;/b&gt; communiqués" in streamed[-1]
    assert all(is_skip(o[PANEL]) for o in outputs[:-1])
    assert "rag-streaming" not in last_message(outputs[-1]) and 'value="1:c:1"' in last_message(outputs[-1])


def test_library_error_is_a_short_message_and_a_logged_traceback(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="ui.app")
    final = run(ChatController(broken_assistant()), "Qui ?")[-1]
    assert seen(final) == "The assistant could not answer: index gen-x is corrupt: run `rag index`"
    assert final[ANSWERS] == []
    assert any(r.exc_info for r in caplog.records)


def test_unexpected_error_is_a_generic_message_and_a_logged_traceback(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="ui.app")
    final = run(ChatController(broken_assistant(KeyError("boom"))), "Qui ?")[-1]
    assert seen(final) == ERROR_MESSAGE
    assert "boom" not in last_message(final)
    assert any(r.exc_info and "KeyError" in r.exc_text for r in caplog.records if r.exc_text)


def test_a_marker_of_an_earlier_answer_switches_the_panel_back_to_it() -> None:
    controller = ChatController(ScriptedAssistant())
    first = run(controller, "Un ?")[-1]
    second = run(controller, "Deux ?", first[TRANSCRIPT], first[ANSWERS])[-1]
    picker, panel, _ = controller.show_source("1:c:1", second[ANSWERS])
    assert picker["value"] == "1:c:1"
    assert "question 1" in panel and parse(panel).marks == [HOSTILE_QUOTE]


def test_a_forged_source_key_changes_nothing() -> None:
    controller = ChatController(ScriptedAssistant())
    answers = run(controller, "Un ?")[-1][ANSWERS]
    assert all(is_skip(v) for v in controller.show_source("<script>", answers))
    assert all(is_skip(v) for v in controller.show_source("9:c:1", answers))


def test_clear_empties_the_conversation() -> None:
    textbox, chat, picker, panel, full, details, transcript, answers = ChatController.clear()
    assert (textbox, chat, details, transcript, answers) == ("", [], None, [], [])
    assert picker["choices"] == [] and "<mark" not in panel + full


def test_real_assistant_answer_highlights_its_quote(fake_assistant: Assistant) -> None:
    controller = ChatController(fake_assistant)
    final = run(controller, "Qui a ouvert la réunion semestrielle de l'EMI avec les partenaires en 2024 ?")[-1]
    details = final[DETAILS]
    assert details is not None
    if details["mode"] == "abstain":
        assert "rag-hl-related" in final[PANEL]
    else:
        assert parse(final[PANEL]).marks == [details["citations"][0]["quote"]]


def test_build_app_exposes_the_stable_api_names(fake_assistant: Assistant) -> None:
    app = build_app(fake_assistant)
    names = {d.get("api_name") for d in app.config["dependencies"]}
    assert {"ask", "show_source", "clear"} <= names
