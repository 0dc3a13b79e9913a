"""Unit tests run the hashing embedder, whose cosines are not the model's: the answerer's weights fitted for the
real model (rag/answer/params.json, refitted whenever the eval set grows) would make their answers drift with
every refit. They answer with a frozen copy of the weights instead (tests/unit/answer_params.json)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.answer.extractive import AnswerParams

FROZEN_PARAMS = Path(__file__).with_name("answer_params.json")


@pytest.fixture(autouse=True)
def frozen_answer_params(monkeypatch: pytest.MonkeyPatch) -> None:
    original = AnswerParams.load.__func__  # type: ignore[attr-defined]
    monkeypatch.setattr(AnswerParams, "load", classmethod(lambda cls, path=FROZEN_PARAMS: original(cls, path)))
