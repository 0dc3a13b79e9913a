"""Bilingual twins with the real model: the seeds plus English translations of 000 and 003 (tests/fixtures/twins)."""

from __future__ import annotations

import pytest

from rag.assistant import Assistant
from rag.config import RagConfig, load_config
from rag.index.store import load_generation
from tests.twin_fixtures import write_twin_corpus


@pytest.fixture(scope="module")
def twin_config(tmp_path_factory: pytest.TempPathFactory, real_embedder) -> RagConfig:  # type: ignore[no-untyped-def]
    from rag.index.build import build_index

    root = tmp_path_factory.mktemp("twins")
    config = load_config(env={}, corpus_dir=write_twin_corpus(root / "corpus"), index_dir=root / "index")
    build_index(config, real_embedder, show_progress=False)
    return config


def test_each_release_and_its_translation_are_linked_and_nothing_else(twin_config: RagConfig) -> None:
    twins = load_generation(twin_config.index_dir).twins
    assert twins == {
        "000_7420c92f95da150b": "000_7420c92f95da150b.en", "000_7420c92f95da150b.en": "000_7420c92f95da150b",
        "003_f6db62ec60d4efec": "003_f6db62ec60d4efec.en", "003_f6db62ec60d4efec.en": "003_f6db62ec60d4efec",
    }


def test_two_different_releases_of_the_same_day_are_not_linked(twin_config: RagConfig) -> None:
    stored = load_generation(twin_config.index_dir)
    english, other = stored.documents["003_f6db62ec60d4efec.en"], stored.documents["004_d1ec464ecfb2424b"]
    assert (english.date, english.lang, other.lang) == (other.date, "en", "fr")  # a candidate pair...
    assert stored.twins["003_f6db62ec60d4efec.en"] != other.doc_id  # ...that does not align


def test_an_english_question_is_answered_from_the_english_twin_with_the_french_beside_it(
        twin_config: RagConfig, real_embedder) -> None:  # type: ignore[no-untyped-def]
    assistant = Assistant(twin_config, real_embedder)
    answer = assistant.ask("Who opened the bi-annual meeting of the International Military Staff with partners "
                           "in November 2024?")
    assert answer.mode == "extractive"
    first = answer.citations[0]
    assert first.doc_id == "000_7420c92f95da150b.en" and "Janusz Adamczak" in first.quote
    assert f"{first.quote} [1]" in answer.answer
    assert first.original is not None and first.original.doc_id == "000_7420c92f95da150b"
    assert "Janusz Adamczak" in first.original.quote and first.original.lang == "fr"
    documents = assistant.stored.documents
    for cited in (first, first.original):
        assert documents[cited.doc_id].text[cited.start:cited.end] == cited.quote
    shown = {p.chunk.doc_id for p in answer.passages}
    assert "000_7420c92f95da150b" not in shown and "000_7420c92f95da150b.en" in shown


def test_without_the_translation_the_same_question_is_quoted_in_french(real_assistant: Assistant) -> None:
    answer = real_assistant.ask("Who opened the bi-annual meeting of the International Military Staff with partners "
                                "in November 2024?")
    assert answer.citations and answer.citations[0].doc_id == "000_7420c92f95da150b"
    assert answer.citations[0].original is None
