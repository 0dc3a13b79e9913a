"""Unit tests run the hashing embedder, whose cosines are not the model's: the answerer's weights fitted for the
real model (rag/answer/params.json, refitted whenever the eval set grows) would make their answers drift with
every refit. They answer with a frozen copy of the weights instead (tests/unit/answer_params.json), and without
the system's French-English dictionaries (installed or not, their answers stay the same; test_lexicon.py gives
the lexicon its own files)."""

from __future__ import annotations

from pathlib import Path

import pytest

import rag.assistant
from rag.answer.extractive import AnswerParams
from rag.text.lexicon import Lexicon

FROZEN_PARAMS = Path(__file__).with_name("answer_params.json")


@pytest.fixture(autouse=True)
def frozen_answer_params(monkeypatch: pytest.MonkeyPatch) -> None:
    original = AnswerParams.load.__func__  # type: ignore[attr-defined]
    monkeypatch.setattr(AnswerParams, "load", classmethod(lambda cls, path=FROZEN_PARAMS: original(cls, path)))


@pytest.fixture(autouse=True)
def no_system_lexicon(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rag.assistant, "load_lexicon", lambda folder, cache_dir=None: Lexicon())
