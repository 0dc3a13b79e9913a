"""What the CLI prints from releases and their files reaches the terminal as text, never as a control sequence,
and a one-line field (a file name, an id, a title) stays on its line whatever it holds (issue 15, items 2 and 15)."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import shutil
from pathlib import Path

import pytest

import rag.embed.embedder
from rag.cli import _print_answer, _TerminalFormatter, main
from rag.terminal import for_terminal, json_for_terminal
from tests.fakes import HashingEmbedder

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
# Sets the window title, clears the screen, moves the cursor home, rings the bell; then a C1 CSI and a lone
# carriage return that would overwrite the start of the line.
HOSTILE = "\x1b]0;pwned\x07\x1b[2J\x1b[HVisible\x07 text\x9b31m and\rmore\x00"
ANY_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def test_prose_loses_every_escape_sequence_and_control_character_but_keeps_its_line_breaks() -> None:
    printed = for_terminal(HOSTILE + "\nsecond line\twith a tab")
    assert printed == "Visible text31m and\nmore\nsecond line\twith a tab"


def test_a_field_shows_its_control_characters_as_visible_escapes_on_one_line() -> None:
    assert for_terminal("release\nname\t\x1b[2J.txt", one_line=True) == "release\\nname\\t\\x1b[2J.txt"
    assert for_terminal("a\x9bb\u2028c\rd", one_line=True) == "a\\x9bb\\u2028c\\rd"


def test_a_file_name_byte_that_is_not_utf8_is_shown_as_that_byte() -> None:
    name = os.fsdecode(b"caf\xe9.txt")  # surrogateescape keeps the byte as U+DCE9
    assert for_terminal(name, one_line=True) == "caf\\xe9.txt"
    assert for_terminal(name) == "caf\ufffd.txt"


def test_accents_quotes_and_dashes_are_left_alone() -> None:
    text = "Réunion du 20 novembre — « Adamczak » a ouvert l’EMI : 26 pays…"
    assert for_terminal(text) == text == for_terminal(text, one_line=True)


def _hostile_answer() -> dict:  # type: ignore[type-arg]
    return {"answer": f"Selon les communiqués : {HOSTILE} [1]", "mode": "extractive", "lang": "fr",
            "note": "note\x1b[2J", "context_question": "Qui\nà\x1b[31m ?",
            "citations": [{"marker": 1, "doc_id": "rel\nease", "title": "Titre\x1b]0;x\x07\n2", "date": "2025\r",
                           "start": 4, "end": 9}],
            "passages": []}


def test_a_printed_answer_carries_no_control_character_and_one_line_per_citation() -> None:
    stream = io.StringIO()
    _print_answer(_hostile_answer(), stream)
    printed = stream.getvalue()
    assert not ANY_CONTROL.search(printed), repr(printed)
    citation_lines = [line for line in printed.splitlines() if line.startswith("  [1]")]
    assert citation_lines == ["  [1] rel\\nease — Titre\\x1b]0;x\\x07\\n2 — 2025\\r — caractères 4–9"]


def test_an_abstention_previews_related_passages_without_control_characters() -> None:
    answer = {**_hostile_answer(), "mode": "abstain", "citations": [],
              "passages": [{"doc_id": "a\x1bb", "text": "Titre\x1b[2J\n\nUne ligne."}]}
    stream = io.StringIO()
    _print_answer(answer, stream)
    assert "  ~1 a\\x1bb: Titre\\x1b[2J Une ligne.…" in stream.getvalue().splitlines()


def test_the_json_answer_has_no_raw_control_character_and_reads_back_the_same() -> None:
    answer = _hostile_answer()
    printed = json_for_terminal(answer)
    assert not ANY_CONTROL.search(printed), repr(printed)
    assert json.loads(printed) == answer


def test_log_lines_pass_through_the_same_filter() -> None:
    record = logging.LogRecord("rag", logging.WARNING, __file__, 1, "skipped %s: %s", ("a\x1b[2Jb.txt", "x"), None)
    assert "\x1b" not in _TerminalFormatter("%(message)s").format(record)


@pytest.fixture
def hostile_corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """The seeds plus a release whose file name holds a newline and an escape, and whose text holds escapes."""
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("RAG_")]:
        monkeypatch.delenv(name)
    monkeypatch.setattr(rag.embed.embedder, "SentenceTransformerEmbedder", lambda config: HashingEmbedder())
    corpus = tmp_path / "seeds"
    shutil.copytree(SEEDS, corpus)
    (corpus / "evil\nname\x1b[2J.txt").write_text(
        "Réunion\x1b]0;pwned\x07 du Comité\x1b[2J\n\nLe 3 mars 2025, le général Evil\x1b[31m Dupont a ouvert la "
        "réunion des logisticiens de l'Alliance à Bruxelles.\n", encoding="utf-8")
    return corpus, tmp_path / "index"


def test_an_index_report_names_a_hostile_file_on_one_line(capsys: pytest.CaptureFixture[str],
                                                          hostile_corpus: tuple[Path, Path]) -> None:
    corpus, index = hostile_corpus
    assert main(["index", "-q", "--corpus-dir", str(corpus), "--index-dir", str(index)]) == 0
    out = capsys.readouterr().out
    assert not ANY_CONTROL.search(out), repr(out)
    added = next(line for line in out.splitlines() if line.startswith("  added:"))
    assert "evil\\nname\\x1b[2J" in added


def test_an_answer_quoting_a_hostile_release_prints_no_escape(capsys: pytest.CaptureFixture[str],
                                                              hostile_corpus: tuple[Path, Path]) -> None:
    corpus, index = hostile_corpus
    main(["ask", "-q", "--corpus-dir", str(corpus), "--index-dir", str(index),
          "Qui a ouvert la réunion des logisticiens de l'Alliance le 3 mars 2025 ?"])
    out = capsys.readouterr().out
    assert "Dupont" in out
    assert not ANY_CONTROL.search(out), repr(out)
    assert all(line.count("—") == 3 for line in out.splitlines() if line.startswith("  ["))
