"""The `rag` command: refused questions fail fast with exit code 2, library errors print one line and exit 1."""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import rag.embed.embedder
from rag.cli import _print_answer, main
from rag.config import RagConfig, load_config
from rag.index.build import build_index
from rag.index.store import current_generation, load_generation
from tests.fakes import HashingEmbedder


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No rag.toml or RAG_* variable of the developer's shell reaches the command."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    for name in [n for n in os.environ if n.startswith("RAG_")]:
        monkeypatch.delenv(name)


@pytest.fixture
def model_must_not_load(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(config: RagConfig) -> None:
        raise AssertionError("the embedding model was loaded")

    monkeypatch.setattr(rag.embed.embedder, "SentenceTransformerEmbedder", refuse)


@pytest.fixture
def fake_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every command that loads the model gets the fake embedder instead."""
    monkeypatch.setattr(rag.embed.embedder, "SentenceTransformerEmbedder", lambda config: HashingEmbedder())


def question_of(length: int, sentence: str) -> str:
    """A question of exactly `length` characters with no surrounding whitespace."""
    text = (sentence * (length // len(sentence) + 1))[: length - 1].rstrip()
    return text + "?" * (length - len(text))


def error_lines(capsys: pytest.CaptureFixture[str]) -> tuple[str, list[str]]:
    captured = capsys.readouterr()
    return captured.out, [line for line in captured.err.splitlines() if line.startswith("error:")]


# --- refused questions ---------------------------------------------------------------------------------


@pytest.mark.parametrize("question", ["", "   "])
def test_empty_question_exits_2_with_one_error_line_before_loading_the_model(
    capsys: pytest.CaptureFixture[str], model_must_not_load: None, question: str
) -> None:
    started = time.perf_counter()
    code = main(["ask", "-q", question])
    elapsed = time.perf_counter() - started
    out, errors = error_lines(capsys)
    assert code == 2
    assert len(errors) == 1 and "empty" in errors[0]
    assert out == ""
    assert elapsed < 5.0


def test_question_of_3000_characters_exits_2_with_the_limit_in_one_line(
    capsys: pytest.CaptureFixture[str], model_must_not_load: None
) -> None:
    question = question_of(3000, "Which subjects did the chiefs of defence discuss with their partners in 2025? ")
    assert len(question) == 3000
    code = main(["ask", "-q", question])
    _, errors = error_lines(capsys)
    assert code == 2
    assert len(errors) == 1
    assert "3000" in errors[0] and "2000" in errors[0]


def test_long_french_question_gets_the_french_message(capsys: pytest.CaptureFixture[str],
                                                       model_must_not_load: None) -> None:
    question = question_of(3000, "Quels sujets les chefs d'état-major ont-ils abordés avec les partenaires ? ")
    assert main(["ask", "-q", question]) == 2
    _, errors = error_lines(capsys)
    assert "La question fait 3000 caractères" in errors[0]


def test_the_message_is_one_line_on_stderr_only(capsys: pytest.CaptureFixture[str], model_must_not_load: None) -> None:
    main(["ask", "-q", ""])
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.strip().count("\n") == 0 and captured.err.startswith("error: ")


# --- library errors exit 1 -----------------------------------------------------------------------------


@pytest.fixture
def fake_index(tmp_path: Path) -> tuple[Path, Path]:
    """(corpus, index) folders: the seeds indexed with the fake embedder."""
    corpus = tmp_path / "seeds"
    shutil.copytree(Path(__file__).resolve().parents[2] / "seeds", corpus)
    index = tmp_path / "index"
    build_index(load_config(env={}, corpus_dir=corpus, index_dir=index), HashingEmbedder(), show_progress=False)
    return corpus, index


def test_removing_an_unknown_document_exits_1_and_names_it(
    capsys: pytest.CaptureFixture[str], fake_model: None, fake_index: tuple[Path, Path]
) -> None:
    corpus, index = fake_index
    before = current_generation(index)
    code = main(["remove", "-q", "--index-dir", str(index), "--corpus-dir", str(corpus), "no_such_release"])
    _, errors = error_lines(capsys)
    assert code == 1
    assert len(errors) == 1 and "no_such_release" in errors[0]
    assert current_generation(index) == before
    assert len(load_generation(index).documents) == 5


def test_removing_a_known_document_drops_it(capsys: pytest.CaptureFixture[str], fake_model: None,
                                             fake_index: tuple[Path, Path]) -> None:
    corpus, index = fake_index
    doc_id = "003_f6db62ec60d4efec"
    code = main(["remove", "-q", "--index-dir", str(index), "--corpus-dir", str(corpus), doc_id])
    out, _ = error_lines(capsys)
    assert code == 0
    assert doc_id not in load_generation(index).documents
    assert f"removed: {doc_id}" in out


def test_asking_without_an_index_and_without_building_exits_1_saying_rag_index(
    capsys: pytest.CaptureFixture[str], fake_model: None, tmp_path: Path
) -> None:
    code = main(["ask", "-q", "--no-build", "--index-dir", str(tmp_path / "empty"), "Qui a ouvert la réunion ?"])
    _, errors = error_lines(capsys)
    assert code == 1
    assert len(errors) == 1 and "rag index" in errors[0]


def test_ask_json_prints_the_answer_object(capsys: pytest.CaptureFixture[str], fake_model: None,
                                           fake_index: tuple[Path, Path]) -> None:
    corpus, index = fake_index
    code = main(["ask", "-q", "--json", "--no-build", "--index-dir", str(index), "--corpus-dir", str(corpus),
                 "Qui a ouvert la réunion semestrielle avec les partenaires ?"])
    out, errors = error_lines(capsys)
    assert code == 0 and errors == []
    data = json.loads(out)
    assert {"question", "answer", "mode", "citations", "passages", "timings_ms"} <= set(data)
    assert data["question"] == "Qui a ouvert la réunion semestrielle avec les partenaires ?"


def _answer_dict(lang: str) -> dict:  # type: ignore[type-arg]
    return {"answer": "…", "mode": "extractive", "lang": lang, "context_question": "Qui a ouvert la réunion ?",
            "citations": [{"marker": 1, "doc_id": "000_a", "title": None, "date": None, "start": 4, "end": 9}],
            "passages": []}


@pytest.mark.parametrize(("lang", "expected", "foreign"), [
    ("fr", ["(communiqué sans titre)", "sans date", "caractères 4–9", "suite de : « Qui a ouvert la réunion ? »"],
     "untitled"),
    ("en", ["(untitled release)", "no date", "characters 4–9", "follow-up to: “Qui a ouvert la réunion ?”"],
     "sans titre"),
])
def test_citation_lines_speak_the_language_of_the_answer(lang: str, expected: list[str], foreign: str) -> None:
    stream = io.StringIO()
    _print_answer(_answer_dict(lang), stream)
    printed = stream.getvalue()
    assert all(part in printed for part in expected), printed
    assert foreign not in printed


def test_asking_without_building_refuses_an_index_older_than_its_releases(
        capsys: pytest.CaptureFixture[str], fake_model: None, fake_index: tuple[Path, Path]) -> None:
    corpus, index = fake_index
    release = next(corpus.glob("000_*.txt"))
    release.write_text(release.read_text(encoding="utf-8").replace("Janusz Adamczak", "Marie Curie"), encoding="utf-8")
    before = current_generation(index)
    code = main(["ask", "-q", "--no-build", "--index-dir", str(index), "--corpus-dir", str(corpus),
                 "Qui a ouvert la réunion de novembre 2024 ?"])
    out, errors = error_lines(capsys)
    assert code == 1 and "Adamczak" not in out
    assert len(errors) == 1 and "changed since the index" in errors[0] and "rag index" in errors[0]
    assert current_generation(index) == before



def test_each_related_passage_of_an_abstention_is_previewed_on_one_line() -> None:
    answer = {**_answer_dict("fr"), "mode": "abstain", "citations": [], "context_question": None,
              "passages": [{"doc_id": "000_a", "text": "Titre\n\nPremière ligne.\nSeconde ligne."}]}
    stream = io.StringIO()
    _print_answer(answer, stream)
    assert "  ~1 000_a: Titre Première ligne. Seconde ligne.…" in stream.getvalue().splitlines()


# --- a closed pipe ---------------------------------------------------------------------------------------


def test_output_to_a_closed_pipe_ends_quietly_with_141(capsys: pytest.CaptureFixture[str], fake_model: None,
                                                        fake_index: tuple[Path, Path],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """`rag ask … | head -0`: the reader is gone before the answer is written."""
    corpus, index = fake_index
    read_end, write_end = os.pipe()
    os.close(read_end)
    closed = os.fdopen(write_end, "w", encoding="utf-8")
    monkeypatch.setattr(sys, "stdout", closed)
    code = main(["ask", "-q", "--no-build", "--index-dir", str(index), "--corpus-dir", str(corpus),
                 "Qui a ouvert la réunion semestrielle avec les partenaires ?"])
    closed.write("x" * 100_000)  # what the exit flush would find: the descriptor now leads nowhere
    closed.flush()
    assert code == 141
    assert capsys.readouterr().err == ""


def test_a_closed_pipe_in_a_subprocess_leaves_no_traceback(tmp_path: Path) -> None:
    """The whole program as a shell runs it: a command printing 10,000 lines into a pipe nobody reads."""
    script = ("import sys, rag.cli\n"
              "def cmd(args, config):\n"
              "    for _ in range(10000): print('line of output')\n"
              "    return 0\n"
              "rag.cli.cmd_index = cmd\n"
              "sys.exit(rag.cli.main(['index', '-q']))\n")
    read_end, write_end = os.pipe()
    os.close(read_end)
    repo = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "-c", script], stdout=write_end, stderr=subprocess.PIPE, text=True,
                            cwd=tmp_path, env={**{k: v for k, v in os.environ.items() if not k.startswith("RAG_")},
                                               "PYTHONPATH": str(repo)}, timeout=60)
    os.close(write_end)
    assert result.returncode == 141
    assert result.stderr == ""


# --- arguments --------------------------------------------------------------------------------------------


def test_removing_an_empty_id_is_refused_by_name(capsys: pytest.CaptureFixture[str], model_must_not_load: None) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["remove", "-q", ""])
    assert exited.value.code == 2
    assert "a document id cannot be empty" in capsys.readouterr().err


@pytest.mark.parametrize("port", ["99999", "-1", "0", "http"])
def test_serve_refuses_a_port_outside_1_to_65535_before_loading_anything(
        capsys: pytest.CaptureFixture[str], model_must_not_load: None, port: str) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["serve", "-q", "--port", port])
    err = capsys.readouterr().err
    assert exited.value.code == 2
    assert "Traceback" not in err and "is not a port number" in err.splitlines()[-1]


def test_serve_on_a_busy_port_exits_1_with_the_address_before_loading_the_model(
        capsys: pytest.CaptureFixture[str], model_must_not_load: None) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code = main(["serve", "-q", "--host", "127.0.0.1", "--port", str(port)])
    _, errors = error_lines(capsys)
    assert code == 1
    assert errors == [f"error: cannot listen on 127.0.0.1:{port}: the port is already in use; "
                      "stop the other server or pick another --port"]


def test_serve_on_a_host_that_does_not_resolve_exits_1_with_one_line(
        capsys: pytest.CaptureFixture[str], model_must_not_load: None) -> None:
    code = main(["serve", "-q", "--host", "not a host", "--port", "7860"])
    _, errors = error_lines(capsys)
    assert code == 1
    assert len(errors) == 1 and "cannot listen on host 'not a host'" in errors[0]


def test_a_misspelled_rag_variable_stops_the_command_with_the_name_it_resembles(
        capsys: pytest.CaptureFixture[str], model_must_not_load: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_TOPK", "3")
    assert main(["ask", "-q", "Qui ?"]) == 1
    _, errors = error_lines(capsys)
    assert errors == ["error: environment: unknown variable RAG_TOPK (did you mean RAG_TOP_K?)"]


def test_an_error_naming_a_hostile_file_stays_on_one_line(capsys: pytest.CaptureFixture[str],
                                                          model_must_not_load: None) -> None:
    assert main(["ask", "-q", "--config", "no\nsuch\x1b[2J.toml", "Qui ?"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "\x1b" not in err and "no\\nsuch\\x1b[2J.toml" in err


def test_printed_answer_gives_its_confidence_and_the_runner_up_to_check() -> None:
    import io

    from rag.cli import _print_answer

    citation = {"marker": 1, "doc_id": "004_x", "title": "T", "date": "2025-01-15", "quote": "Bauer a ouvert.",
                "start": 0, "end": 15, "chunk_id": "004_x#0"}
    alternative = {**citation, "marker": 2, "quote": "Rutte était là.", "start": 16, "end": 31}
    out = io.StringIO()
    _print_answer({"answer": "Selon les communiqués : Bauer a ouvert. [1]", "mode": "extractive", "lang": "fr",
                   "citations": [citation], "passages": [], "confidence": 0.42, "well_supported": False,
                   "alternative": alternative}, out)
    lines = out.getvalue().splitlines()
    assert "À vérifier dans le passage cité (confiance 42%)." in lines  # one pair of brackets, not two
    assert any(line.startswith("  Autre phrase candidate : [2] 004_x — Rutte était là.") for line in lines)
