"""eval.probe: a signal is judged by the sentence it puts first, with the answerer's own tie rule."""

from __future__ import annotations

import numpy as np

from eval.items import QAItem
from eval.probe import Candidates, first_is_right
from rag.answer.extractive import SENTENCE_FEATURES, Evidence
from rag.schema import Sentence


def _evidence(number: int, score: float, **features: float) -> Evidence:
    vector = np.array([features.get(name, 0.0) for name in SENTENCE_FEATURES])
    sentence = Sentence(number, "doc", "doc-0", f"sentence {number}", number * 10, number * 10 + 9)
    return Evidence(sentence, 0, vector, score)


def _question(evidences: list[Evidence], labels: list[bool]) -> Candidates:
    item = QAItem.from_dict({"id": "fr-1", "lang": "fr", "question": "Combien ?", "answers": ["2"],
                             "doc_id": "doc", "answerable": True})
    return Candidates(item, evidences, np.array(labels), answerer=None)  # type: ignore[arg-type]


def test_a_heavy_enough_signal_puts_the_labelled_sentence_first() -> None:
    question = _question([_evidence(0, 2.0), _evidence(1, 1.5)], [False, True])
    values = np.array([0.0, 1.0])
    assert not first_is_right(question, values, 0.0, margin=0.0)
    assert not first_is_right(question, values, 0.4, margin=0.0)
    assert first_is_right(question, values, 0.6, margin=0.0)


def test_the_label_follows_the_sentence_not_its_place_in_the_list() -> None:
    question = _question([_evidence(0, 1.0), _evidence(1, 3.0)], [True, False])
    assert not first_is_right(question, np.zeros(2), 0.0, margin=0.0)
    assert first_is_right(question, np.array([5.0, 0.0]), 1.0, margin=0.0)


def test_a_typed_sentence_within_the_margin_goes_first_as_in_the_answerer() -> None:
    question = _question([_evidence(0, 2.0, type_miss=1.0), _evidence(1, 1.95, type_match=1.0)], [False, True])
    assert first_is_right(question, np.zeros(2), 0.0, margin=0.1)
    assert not first_is_right(question, np.zeros(2), 0.0, margin=0.01)
