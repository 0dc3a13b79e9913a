"""Answers over a French release and its English twin: quoted in the reader's language, the other beside it."""

from __future__ import annotations

import io
import re
from dataclasses import replace
from html import unescape
from pathlib import Path

import numpy as np
import pytest

from rag.answer.extractive import SENTENCE_FEATURES, AnswerParams, Evidence, ExtractiveAnswerer
from rag.assistant import Assistant
from rag.config import RagConfig, load_config
from rag.index import build
from rag.index.store import StoredIndex, load_generation
from rag.schema import Answer, Citation, Document, Sentence, overlap
from tests.fakes import HashingEmbedder
from tests.twin_fixtures import write_twin_corpus

FRENCH, ENGLISH = "000_7420c92f95da150b", "000_7420c92f95da150b.en"


@pytest.fixture
def twin_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> RagConfig:
    """The seeds and two English translations, indexed with the fake embedder; the fake embedder's trigram
    cosines cannot align translations, so the twins are the ones the real model finds (tests/integration)."""
    def known_twins(documents: list[Document], sentences: list[Sentence], vectors: np.ndarray) -> dict[str, str]:
        return {FRENCH: ENGLISH, ENGLISH: FRENCH,
                "003_f6db62ec60d4efec": "003_f6db62ec60d4efec.en", "003_f6db62ec60d4efec.en": "003_f6db62ec60d4efec"}

    monkeypatch.setattr(build, "find_twins", known_twins)
    config = load_config(env={}, corpus_dir=write_twin_corpus(tmp_path / "corpus"), index_dir=tmp_path / "index")
    build.build_index(config, HashingEmbedder(), show_progress=False)
    return config


@pytest.fixture
def twin_index(twin_config: RagConfig) -> StoredIndex:
    return load_generation(twin_config.index_dir)


def _sentence(stored: StoredIndex, doc_id: str, words: str) -> Sentence:
    return next(s for s in stored.sentences if s.doc_id == doc_id and words in s.text)


def test_a_french_sentence_is_quoted_from_the_english_twin_with_the_french_beside_it(twin_index: StoredIndex) -> None:
    answerer = ExtractiveAnswerer(twin_index)
    french = _sentence(twin_index, FRENCH, "Janusz Adamczak")
    [citation] = answerer.cite_in_reader_language([french], "en")
    assert citation.doc_id == ENGLISH and "Lieutenant General Janusz Adamczak" in citation.quote
    assert citation.original is not None and citation.original.doc_id == FRENCH
    # The French sentence is quoted with the next one, which goes on with its subject ("Il a fait remarquer…").
    assert citation.original.quote.startswith(french.text)
    for cited in (citation, citation.original):
        assert twin_index.documents[cited.doc_id].text[cited.start:cited.end] == cited.quote


def test_a_french_reader_gets_the_french_quote_with_the_english_beside_it(twin_index: StoredIndex) -> None:
    french = _sentence(twin_index, FRENCH, "Janusz Adamczak")
    [citation] = ExtractiveAnswerer(twin_index).cite_in_reader_language([french], "fr")
    assert citation.doc_id == FRENCH and citation.original is not None and citation.original.doc_id == ENGLISH


def test_a_release_without_twin_is_cited_alone(twin_index: StoredIndex) -> None:
    other = twin_index.sentences[next(i for i, s in enumerate(twin_index.sentences) if s.doc_id.startswith("001"))]
    [citation] = ExtractiveAnswerer(twin_index).cite_in_reader_language([other], "en")
    assert citation.doc_id == other.doc_id and citation.original is None


def test_an_english_question_over_twins_is_answered_with_an_english_quote_and_the_french_beside_it(
        twin_config: RagConfig) -> None:
    # The frozen weights abstain on the fake embedder's cross-language cosines; the choice is not under test.
    assistant = Assistant(twin_config, HashingEmbedder(), params=replace(AnswerParams.load(), abstain_threshold=0.0))
    answer = assistant.ask("Who opened the bi-annual meeting of the International Military Staff with partners?")
    assert answer.mode == "extractive" and answer.citations
    documents = assistant.stored.documents
    for citation in answer.citations:
        assert citation.doc_id == ENGLISH and f"{citation.quote} [{citation.marker}]" in answer.answer
        assert citation.original is not None and citation.original.doc_id == FRENCH
        for cited in (citation, citation.original):
            assert documents[cited.doc_id].text[cited.start:cited.end] == cited.quote


def test_the_runner_up_is_quoted_in_the_reader_language_like_the_answer(twin_index: StoredIndex) -> None:
    """A doubtful answer's alternative from a French release with an English twin: an English reader gets the
    twin's sentence with the French beside it, as the answer itself; never a sentence the answer quotes."""
    answerer = ExtractiveAnswerer(twin_index)
    french = [s for s in twin_index.sentences if s.doc_id == FRENCH]
    best, runner_up = french[1], french[4]
    ranked = [Evidence(s, 0, np.zeros(len(SENTENCE_FEATURES)), score) for s, score in ((best, 9.0), (runner_up, 8.0))]
    quoted = answerer.citations([best], "Qui ?", "en")
    alternative = answerer._runner_up(ranked, quoted, 2, "en")
    assert alternative is not None and alternative.marker == 2
    assert alternative.doc_id == ENGLISH and alternative.original is not None
    assert alternative.original.doc_id == FRENCH and runner_up.text in alternative.original.quote
    for cited in (alternative, alternative.original):
        assert twin_index.documents[cited.doc_id].text[cited.start:cited.end] == cited.quote
        assert not any(overlap(cited, q) or (q.original and overlap(cited, q.original)) for q in quoted)
    french_reader = answerer._runner_up(ranked, answerer.citations([best], "Qui ?", "fr"), 2, "fr")
    assert french_reader is not None and french_reader.doc_id == FRENCH and runner_up.text in french_reader.quote


@pytest.mark.parametrize("question", [
    "Who opened the bi-annual meeting of the International Military Staff with partners?",
    "Qui a ouvert la réunion semestrielle de l'EMI avec les partenaires ?",
    "What did Mark Rutte say about a wartime mindset?",
])
def test_a_release_and_its_twin_are_not_both_among_the_passages(twin_config: RagConfig, question: str) -> None:
    assistant = Assistant(twin_config, HashingEmbedder())
    answer = assistant.ask(question, top_k=10)
    shown = {p.chunk.doc_id for p in answer.passages}
    twins = assistant.stored.twins
    assert not [d for d in shown if twins.get(d) in shown]
    retrieved = {p.chunk.doc_id for p in assistant.retrieve(question, top_k=10)}
    assert not [d for d in retrieved if twins.get(d) in retrieved]


def test_of_a_release_and_its_twin_the_version_in_the_question_language_stays(twin_index: StoredIndex) -> None:
    from rag.schema import ScoredChunk

    answerer = ExtractiveAnswerer(twin_index)
    french = next(c for c in twin_index.chunks if c.doc_id == FRENCH)
    english = next(c for c in twin_index.chunks if c.doc_id == ENGLISH)
    other = next(c for c in twin_index.chunks if c.doc_id.startswith("001"))
    passages = [ScoredChunk(french, 0.9), ScoredChunk(other, 0.8), ScoredChunk(english, 0.7)]
    assert [p.chunk.doc_id for p in answerer.one_version_per_release(passages, "en")] == [other.doc_id, ENGLISH]
    assert [p.chunk.doc_id for p in answerer.one_version_per_release(passages, "fr")] == [FRENCH, other.doc_id]
    assert [p.chunk.doc_id for p in answerer.one_version_per_release(passages, "de")] == [FRENCH, other.doc_id]


def _answer_with_twin_quote() -> Answer:
    original = Citation(1, FRENCH, "Réunion <b>", "2024-11-20", "Le général <script>x</script> a ouvert", 10, 48,
                        f"{FRENCH}#0", lang="fr")
    quoted = Citation(1, ENGLISH, "Meeting", "2024-11-20", "The general opened", 5, 23, f"{ENGLISH}#0",
                      original=original, lang="en")
    return Answer("Who opened it?", "According to the releases: The general opened [1]", "extractive", "en",
                  citations=(quoted,))


def test_the_page_lists_the_other_language_quote_beside_the_citation_escaped() -> None:
    from ui.render import render_citation_list

    html = render_citation_list(_answer_with_twin_quote(), turn=1)
    shown = unescape(html)
    assert "also in French: [1′] Réunion" in re.sub(r"<[^>]+>", "", shown) and FRENCH in shown
    assert "Le général &lt;script&gt;x&lt;/script&gt; a ouvert" in html and "<script>" not in html
    assert "Réunion &lt;b&gt;" in html


def test_the_cli_prints_the_other_language_quote_on_one_more_line() -> None:
    from rag.cli import _print_answer

    with_twin, without = io.StringIO(), io.StringIO()
    answer = _answer_with_twin_quote()
    _print_answer(answer.to_dict(), with_twin)
    _print_answer(replace(answer, citations=(replace(answer.citations[0], original=None),)).to_dict(), without)
    extra = [line for line in with_twin.getvalue().splitlines() if line not in without.getvalue().splitlines()]
    assert extra == [f"    also in French: [1′] {FRENCH} — characters 10–48 — Le général <script>x</script> a ouvert"]


def test_the_eval_scores_a_twin_quote_by_the_french_sentence_cited_beside_it(twin_config: RagConfig) -> None:
    from eval.items import QAItem
    from eval.run import evaluate_item

    assistant = Assistant(twin_config, HashingEmbedder(), params=replace(AnswerParams.load(), abstain_threshold=0.0))
    qa = QAItem(id="en-x", lang="en", question="Who opened the bi-annual meeting of the International Military Staff "
                "with partners?", answers=("Le général de corps d’armée Janusz Adamczak",), doc_id=FRENCH,
                alt_doc_ids=(), evidence="", answerable=True, kind="fact")
    outcome = evaluate_item(assistant, qa, "hybrid", None)
    assert "Lieutenant General Janusz Adamczak" in outcome.answer_text
    assert outcome.answer_correct and outcome.citation_correct and all(outcome.quotes_verbatim)


def test_the_answerer_is_fitted_on_the_quotes_an_answer_shows_twins_included(twin_config: RagConfig) -> None:
    """eval.fit_answerer labels a sentence by what answer() would quote for it: for an English reader, the
    English twin's sentence with the French beside it, so a French gold answer still marks it right."""
    from eval.fit_answerer import collect
    from eval.items import QAItem

    assistant = Assistant(twin_config, HashingEmbedder(), params=replace(AnswerParams.load(), abstain_threshold=0.0))
    qa = QAItem(id="en-x", lang="en", question="Who opened the bi-annual meeting of the International Military Staff "
                "with partners?", answers=("Le général de corps d’armée Janusz Adamczak",), doc_id=FRENCH,
                alt_doc_ids=(), evidence="", answerable=True, kind="fact")
    [(_, evidences, labels, answerer, _, lang, _)] = collect(assistant, [qa], "hybrid")
    # The English sentence holds no French words: it is right by the French sentence an answer cites beside it.
    opening = [i for i, e in enumerate(evidences) if e.sentence.doc_id == ENGLISH and "Janusz Adamczak" in e.sentence.text]
    assert opening and all(labels[i] for i in opening)
    [citation] = answerer.citations([evidences[opening[0]].sentence], qa.question, lang)
    assert citation.doc_id == ENGLISH and citation.original is not None and citation.original.doc_id == FRENCH
    assert labels.sum() < len(labels)  # sentences that do not name him are not labelled right


def test_the_runner_up_is_not_a_twin_title_either(twin_index: StoredIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    """A French sentence whose aligned English sentence is the English release's title is skipped: the title
    states nothing to compare an answer with."""
    answerer = ExtractiveAnswerer(twin_index)
    french = [s for s in twin_index.sentences if s.doc_id == FRENCH]
    english_title = next(s for s in twin_index.sentences
                         if s.doc_id == ENGLISH and s.text == twin_index.documents[ENGLISH].title)
    best, aligned_to_title, later = french[1], french[4], french[6]
    real = answerer.in_reader_language

    def title_for_one(sentence, lang):  # type: ignore[no-untyped-def]
        return (english_title, sentence) if sentence == aligned_to_title else real(sentence, lang)

    monkeypatch.setattr(answerer, "in_reader_language", title_for_one)
    ranked = [Evidence(s, 0, np.zeros(len(SENTENCE_FEATURES)), score)
              for s, score in ((best, 9.0), (aligned_to_title, 8.0), (later, 7.0))]
    alternative = answerer._runner_up(ranked, answerer.citations([best], "Qui ?", "en"), 2, "en")
    assert alternative is not None and alternative.quote != english_title.text
    assert alternative.original is not None and later.text in alternative.original.quote
