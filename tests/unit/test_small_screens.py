"""The examples fold away once a conversation starts and come back when it is cleared."""

from __future__ import annotations

from typing import Any

import gradio as gr

from ui.small_screens import examples_open


def is_open(update: Any) -> bool:
    assert isinstance(update, gr.Accordion)
    return bool(update.open)


def test_examples_are_open_for_an_empty_conversation() -> None:
    assert is_open(examples_open([]))
    assert is_open(examples_open(None))


def test_examples_fold_when_the_first_question_is_asked_and_while_it_is_answered() -> None:
    question = {"role": "user", "content": "Qui ?"}
    assert not is_open(examples_open([question]))
    assert not is_open(examples_open([question, {"role": "assistant", "content": "…"}]))


def test_later_turns_leave_the_examples_as_the_reader_set_them() -> None:
    turns = [{"role": "user", "content": "Qui ?"}, {"role": "assistant", "content": "Lui."}] * 2
    assert not isinstance(examples_open(turns), gr.Accordion)
