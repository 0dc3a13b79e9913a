"""Every answer carries its confidence; below the well-supported threshold it shows the runner-up sentence."""

from __future__ import annotations

from dataclasses import replace

from eval.fit_answerer import precision_by_coverage, well_supported_threshold
from rag.answer.extractive import AnswerParams
from rag.assistant import Assistant
from rag.config import RagConfig
from rag.index.build import build_index
from tests.fakes import HashingEmbedder

QUESTION = "Combien de pays partenaires ont participé à la réunion de novembre 2024 ?"


def _assistant(config: RagConfig, embedder: HashingEmbedder, **params: object) -> Assistant:
    if not (config.index_dir / "CURRENT").exists():
        build_index(config, embedder, show_progress=False)
    base = replace(AnswerParams.load(), abstain_threshold=0.0, confidence_bias=0.0, confidence_weights={})
    return Assistant(config, embedder, params=replace(base, **params))  # type: ignore[arg-type]


def test_an_answer_below_the_threshold_is_not_well_supported_and_offers_the_runner_up(
        fake_config: RagConfig, fake_embedder: HashingEmbedder) -> None:
    answer = _assistant(fake_config, fake_embedder, well_supported_threshold=0.9).ask(QUESTION)
    assert answer.confidence == 0.5  # bias 0, no weights: the logistic's midpoint
    assert not answer.well_supported
    assert answer.alternative is not None
    assert answer.alternative.quote not in {c.quote for c in answer.citations}
    assert answer.alternative.marker == len(answer.citations) + 1
    document = _assistant(fake_config, fake_embedder).stored.documents[answer.alternative.doc_id]
    assert document.text[answer.alternative.start:answer.alternative.end] == answer.alternative.quote


def test_an_answer_at_or_above_the_threshold_is_well_supported_with_no_alternative(
        fake_config: RagConfig, fake_embedder: HashingEmbedder) -> None:
    answer = _assistant(fake_config, fake_embedder, well_supported_threshold=0.5).ask(QUESTION)
    assert answer.well_supported and answer.alternative is None
    assert answer.to_dict()["confidence"] == 0.5 and answer.to_dict()["well_supported"] is True


def test_an_abstention_has_no_confidence(fake_config: RagConfig, fake_embedder: HashingEmbedder) -> None:
    answer = _assistant(fake_config, fake_embedder, abstain_threshold=1.0).ask(QUESTION)
    assert answer.abstained and answer.confidence is None and answer.alternative is None


def test_the_well_supported_threshold_is_the_lowest_confidence_keeping_95_percent_right() -> None:
    scored = [(0.99, True), (0.9, True), (0.8, False), (0.7, True)]
    assert well_supported_threshold(scored, answerable=5) == {"threshold": 0.9, "precision": 1.0, "coverage": 0.4}
    assert well_supported_threshold([(0.9, False)], answerable=1)["threshold"] is None


def test_precision_by_coverage_keeps_the_most_confident_answers_first() -> None:
    scored = [(0.2, False), (0.99, True), (0.9, True), (0.8, False), (0.7, True)]
    # 10 answerable questions: 10% keeps the top answer, 30% the top three, 70% more than were given.
    assert precision_by_coverage(scored, 10, (0.1, 0.3, 0.5, 0.7)) == {"10%": 1.0, "30%": 0.667, "50%": 0.6,
                                                                       "70%": None}
