"""A question that is not valid UTF-8 -- from the command line, a pipe into the interactive loop, or the page --
is refused with one message, never a traceback or the page's generic error (issue 15, item 6)."""

from __future__ import annotations

import io
import os
import shutil
import sys
from pathlib import Path

import orjson
import pytest

import rag.embed.embedder
from rag.assistant import validate_question
from rag.cli import main
from rag.config import RagConfig
from rag.errors import QuestionError
from tests.fakes import HashingEmbedder
from tests.ui_fakes import ScriptedAssistant, parse
from ui.app import ChatController

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
NOT_TEXT = "not valid text (UTF-8)"
# What Python makes of `rag ask "$(printf 'Qui \xff ?')"`: the byte kept as a lone surrogate.
ARGV_QUESTION = os.fsdecode(b"Qui a ouvert la r\xe9union \xff ?")


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("RAG_")]:
        monkeypatch.delenv(name)


@pytest.mark.parametrize("question", [ARGV_QUESTION, "Who opened the \ud800 meeting?", "\udcff"])
def test_a_question_holding_bytes_that_are_no_character_is_refused(question: str) -> None:
    with pytest.raises(QuestionError, match="not valid text \\(UTF-8\\)|pas du texte valide \\(UTF-8\\)"):
        validate_question(question, 2000)


def test_the_refusal_speaks_the_language_of_the_readable_part() -> None:
    with pytest.raises(QuestionError, match="La question n'est pas du texte valide"):
        validate_question("Qui a ouvert la réunion semestrielle des partenaires \udcff ?", 2000)
    with pytest.raises(QuestionError, match="The question is not valid text"):
        validate_question("Who opened the meeting with the partners \udcff?", 2000)


def test_an_argv_question_that_is_not_utf8_exits_2_with_one_line_before_loading_the_model(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(config: RagConfig) -> None:
        raise AssertionError("the embedding model was loaded")

    monkeypatch.setattr(rag.embed.embedder, "SentenceTransformerEmbedder", refuse)
    code = main(["ask", "-q", ARGV_QUESTION])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    assert captured.err.count("\n") == 1 and captured.err.startswith("error: ") and "UTF-8" in captured.err


def test_the_interactive_loop_reports_a_line_that_is_not_utf8_and_answers_the_next(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rag.embed.embedder, "SentenceTransformerEmbedder", lambda config: HashingEmbedder())
    corpus = tmp_path / "seeds"
    shutil.copytree(SEEDS, corpus)
    piped = b"Qui a ouvert la r\xe9union \xff ?\nQui a ouvert la r\xc3\xa9union semestrielle avec les partenaires ?\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(piped), encoding="utf-8"))
    code = main(["ask", "-q", "--corpus-dir", str(corpus), "--index-dir", str(tmp_path / "index")])
    out = capsys.readouterr().out
    assert code == 0
    assert "pas du texte valide (UTF-8)" in out
    after = out.split("UTF-8", 1)[1]
    assert "[1]" in after or "~1 " in after  # the second question was answered (or abstained with passages)


def test_the_page_answers_a_lone_surrogate_with_the_same_message_and_a_reply_the_browser_can_read() -> None:
    assistant = ScriptedAssistant()
    outputs = list(ChatController(assistant).respond("Qui \ud800 ?", [], []))
    assert len(outputs) == 1 and assistant.calls == []
    notice = "".join(parse(str(outputs[0][1][-1]["content"])).text)
    assert NOT_TEXT in notice or "pas du texte valide (UTF-8)" in notice
    orjson.dumps(outputs[0][:2])  # what Gradio sends back: it refuses lone surrogates
