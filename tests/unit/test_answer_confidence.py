"""Every answer carries its confidence; below the well-supported threshold it shows the runner-up sentence."""

from __future__ import annotations

from dataclasses import replace

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
