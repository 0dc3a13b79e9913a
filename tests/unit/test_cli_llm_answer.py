"""`rag ask` in LLM mode against a scripted chat-completions server on 127.0.0.1: what the terminal shows."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import rag.embed.embedder
from rag.cli import _print_answer, main
from rag.config import load_config
from rag.index.build import build_index
from tests.fakes import HashingEmbedder
from tests.llm_fakes import Endpoint, completion, start_endpoint

# A question the fake-embedder corpus answers extractively; its passage 1 is release 001, which this quotes.
ANSWERABLE = "Combien de pays partenaires étaient représentés aux ateliers informels de novembre 2022 ?"
SUPPORTED = ("«Le 9 novembre 2022, des représentants de plus de 30 pays partenaires ont participé à des ateliers "
             "informels» [1].")
MADE_UP = "Les ateliers ont été annulés à cause de la neige [1]."


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    running = start_endpoint()
    yield running
    running.stop()


@pytest.fixture
def llm_ask(tmp_path: Path, seeds_copy: Path, monkeypatch: pytest.MonkeyPatch,
            endpoint: Endpoint) -> list[str]:
    """The arguments of `rag ask` in LLM mode over the seeds indexed with the fake embedder, no rag.toml."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    for name in [n for n in os.environ if n.startswith("RAG_")]:
        monkeypatch.delenv(name)
    monkeypatch.setattr(rag.embed.embedder, "SentenceTransformerEmbedder", lambda config: HashingEmbedder())
    index = tmp_path / "index"
    build_index(load_config(env={}, corpus_dir=seeds_copy, index_dir=index), HashingEmbedder(), show_progress=False)
    return ["ask", "-q", "--no-build", "--index-dir", str(index), "--corpus-dir", str(seeds_copy), "--mode", "llm",
            "--llm-base-url", endpoint.base_url, "--llm-model", "scripted"]


def test_plain_ask_prints_a_warning_listing_the_unsupported_sentences(
        capsys: pytest.CaptureFixture[str], llm_ask: list[str], endpoint: Endpoint) -> None:
    endpoint.script(completion(f"{SUPPORTED} {MADE_UP}"))
    code = main([*llm_ask, ANSWERABLE])
    lines = capsys.readouterr().out.splitlines()
    assert code == 0
    assert lines[0] == f"{SUPPORTED} {MADE_UP}"
    assert lines[1:3] == ["⚠ Phrases non étayées par les passages cités :",
                          "  ✗ Les ateliers ont été annulés à cause de la neige."]


def test_plain_ask_prints_no_warning_for_a_supported_answer(
        capsys: pytest.CaptureFixture[str], llm_ask: list[str], endpoint: Endpoint) -> None:
    endpoint.script(completion(SUPPORTED))
    assert main([*llm_ask, ANSWERABLE]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{SUPPORTED}\n  [1] 001_5327e5ba5f57af7b") and "⚠" not in out


def test_plain_ask_shows_the_extractive_answer_with_the_note_when_the_llm_answer_is_unsupported(
        capsys: pytest.CaptureFixture[str], llm_ask: list[str], endpoint: Endpoint) -> None:
    endpoint.script(completion(MADE_UP))
    assert main([*llm_ask, ANSWERABLE]) == 0
    out = capsys.readouterr().out
    assert "neige" not in out and out.startswith("Selon les communiqués :")
    assert "(LLM answer rejected: no sentence of the answer is supported by a verbatim quote" in out


def test_unsupported_sentences_are_listed_in_the_language_of_the_answer() -> None:
    stream = io.StringIO()
    _print_answer({"answer": "A [1]. B.", "mode": "llm", "lang": "en", "citations": [], "passages": [],
                   "unsupported_sentences": ["B."]}, stream)
    assert stream.getvalue().splitlines()[1:] == ["⚠ Sentences not supported by the cited passages:", "  ✗ B."]
