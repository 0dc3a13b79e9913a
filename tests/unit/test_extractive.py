"""The extractive answerer: its shipped parameters, its abstention rule, verbatim citations and question entities."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from rag.answer.extractive import (
    ABSTAIN_FEATURES,
    PARAMS_FILE,
    SENTENCE_FEATURES,
    AnswerParams,
    Evidence,
    ExtractiveAnswerer,
    abstention_features,
    cited_first,
    cognate_prefixes,
    prefer_typed_near_tie,
)
from rag.assistant import Assistant
from rag.config import load_config
from rag.index.build import build_index
from rag.index.store import StoredIndex
from rag.schema import Answer, Citation, ScoredChunk
from tests.fakes import HashingEmbedder

REPO = Path(__file__).resolve().parents[2]
QUESTIONS = [
    ("fr", "Qui a ouvert la réunion semestrielle de l'EMI avec les partenaires tenue fin 2024 ?"),
    ("fr", "Combien de pays partenaires ont participé à la réunion du 20 novembre 2024 ?"),
    ("fr", "Qu'est-ce que le mécanisme PAF-N présenté en juin 2024 ?"),
    ("fr", "Quand s'est tenue la réunion du Comité militaire en présence de Mark Rutte ?"),
    ("fr", "Quels points sont inscrits à l'ordre du jour de la réunion de janvier 2025 ?"),
    ("en", "Where did the informal workshops with partner nations take place in November 2022?"),
    ("en", "How many Allied defence chiefs took part in the January 2025 Military Committee session?"),
    ("en", "Which NATO body convened the virtual Chiefs of Defence session with operational partners in June 2024?"),
    ("en", "Who is the Ukrainian Chief of Defence mentioned in the January 2025 release?"),
]


@pytest.fixture(scope="module")
def fake_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, HashingEmbedder]]:
    """One index over the seeds built with the fake embedder, shared read-only by this module's tests."""
    root = tmp_path_factory.mktemp("extractive")
    shutil.copytree(REPO / "seeds", root / "seeds")
    embedder = HashingEmbedder()
    build_index(load_config(env={}, corpus_dir=root / "seeds", index_dir=root / "index"), embedder,
                show_progress=False)
    yield root, embedder


def assistant_with(fake_index: tuple[Path, HashingEmbedder], params: AnswerParams) -> Assistant:
    root, embedder = fake_index
    return Assistant(load_config(env={}, corpus_dir=root / "seeds", index_dir=root / "index"), embedder,
                     params=params)


@pytest.fixture(scope="module")
def stored(fake_index: tuple[Path, HashingEmbedder]) -> StoredIndex:
    return assistant_with(fake_index, AnswerParams.load()).stored


@pytest.fixture(scope="module")
def answering(fake_index: tuple[Path, HashingEmbedder]) -> Assistant:
    """An assistant that never abstains, so that every question yields citations to check."""
    return assistant_with(fake_index, replace(AnswerParams.load(), abstain_threshold=0.0))


@pytest.fixture(scope="module")
def abstaining(fake_index: tuple[Path, HashingEmbedder]) -> Assistant:
    """An assistant whose abstention threshold no answer can reach."""
    return assistant_with(fake_index, replace(AnswerParams.load(), abstain_threshold=1.0))


# --- shipped parameters --------------------------------------------------------------------------------


def test_load_reads_the_shipped_parameter_file() -> None:
    data = json.loads(PARAMS_FILE.read_text(encoding="utf-8"))
    params = AnswerParams.load(PARAMS_FILE)
    assert params.sentence_weights == data["sentence_weights"]
    assert params.abstain_weights == data["abstain_weights"]
    assert params.abstain_bias == data["abstain_bias"]
    assert params.abstain_threshold == data["abstain_threshold"]
    assert params.candidate_passages == data["candidate_passages"]
    assert params.well_supported_threshold == data["well_supported_threshold"]


def test_every_shipped_weight_names_a_known_feature() -> None:
    params = AnswerParams.load()
    assert set(params.sentence_weights) <= set(SENTENCE_FEATURES)
    assert set(params.abstain_weights) <= set(ABSTAIN_FEATURES)


def test_shipped_threshold_is_a_probability() -> None:
    assert 0.0 < AnswerParams.load().abstain_threshold < 1.0


def test_load_without_a_file_gives_the_built_in_defaults(tmp_path: Path) -> None:
    assert AnswerParams.load(tmp_path / "absent.json") == AnswerParams()


def test_load_ignores_the_record_of_how_the_parameters_were_fitted(tmp_path: Path) -> None:
    path = tmp_path / "params.json"
    path.write_text(json.dumps({"abstain_threshold": 0.9, "fitted": {"questions": 3}}), encoding="utf-8")
    params = AnswerParams.load(path)
    assert params.abstain_threshold == 0.9
    assert params.sentence_weights == AnswerParams().sentence_weights


def test_sentence_vector_follows_the_feature_order_and_zeroes_unlisted_features() -> None:
    params = AnswerParams(sentence_weights={"type_match": 2.0, "cosine": 5.0})
    vector = params.sentence_vector()
    assert vector.shape == (len(SENTENCE_FEATURES),)
    assert vector[SENTENCE_FEATURES.index("cosine")] == 5.0
    assert vector[SENTENCE_FEATURES.index("type_match")] == 2.0
    assert np.count_nonzero(vector) == 2


# --- abstention rule -----------------------------------------------------------------------------------

EVIDENCE = {"best_score": 9.5, "margin": 0.3, "best_cosine": 0.85, "overlap": 0.5, "keywords_in_doc": 1.0,
            "cross_lingual": 0.0, "lexical_agreement": 1.0}
FULL_COVERAGE = {**EVIDENCE, "entity_in_doc": 1.0, "entity_in_sentence": 1.0, "type_miss": 0.0}
NAMES_ABSENT_TYPE_MISSING = {**EVIDENCE, "entity_in_doc": 0.0, "entity_in_sentence": 0.0, "type_miss": 1.0}


def test_missing_names_and_type_make_a_candidate_less_answerable(stored: StoredIndex) -> None:
    answerer = ExtractiveAnswerer(stored, AnswerParams.load())
    weak = answerer.answerable_probability(NAMES_ABSENT_TYPE_MISSING)
    strong = answerer.answerable_probability(FULL_COVERAGE)
    assert 0.0 < weak < strong < 1.0


def test_names_absent_from_the_release_alone_lower_the_probability(stored: StoredIndex) -> None:
    answerer = ExtractiveAnswerer(stored, AnswerParams.load())
    absent = {**FULL_COVERAGE, "entity_in_doc": 0.0}
    assert answerer.answerable_probability(absent) < answerer.answerable_probability(FULL_COVERAGE)


def test_a_missing_answer_type_alone_lowers_the_probability(stored: StoredIndex) -> None:
    answerer = ExtractiveAnswerer(stored, AnswerParams.load())
    missing = {**FULL_COVERAGE, "type_miss": 1.0}
    assert answerer.answerable_probability(missing) < answerer.answerable_probability(FULL_COVERAGE)


def test_probability_is_the_logistic_of_bias_plus_weighted_features(stored: StoredIndex) -> None:
    params = AnswerParams(abstain_bias=-1.0, abstain_weights={"entity_in_doc": 2.0, "type_miss": -3.0})
    answerer = ExtractiveAnswerer(stored, params)
    assert answerer.answerable_probability({"entity_in_doc": 1.0, "type_miss": 0.0}) == pytest.approx(
        1 / (1 + np.exp(-1.0)))
    assert answerer.answerable_probability({"entity_in_doc": 0.0, "type_miss": 1.0}) == pytest.approx(
        1 / (1 + np.exp(4.0)))


def test_no_passage_means_abstaining_in_french_for_a_french_question(stored: StoredIndex) -> None:
    answer = ExtractiveAnswerer(stored).answer("Qui a ouvert la réunion ?", np.zeros(256, np.float32), "fr", [])
    assert answer.mode == "abstain" and answer.abstained
    assert "ne répondent pas à cette question" in answer.answer
    assert answer.citations == ()


def test_no_passage_means_abstaining_in_english_for_an_english_question(stored: StoredIndex) -> None:
    answer = ExtractiveAnswerer(stored).answer("Who opened the meeting?", np.zeros(256, np.float32), "en", [])
    assert answer.mode == "abstain"
    assert "do not answer this question" in answer.answer


def test_a_question_in_another_language_is_framed_in_english(stored: StoredIndex) -> None:
    answer = ExtractiveAnswerer(stored).answer("Wer hat die Sitzung eröffnet?", np.zeros(256, np.float32), "de", [])
    assert answer.lang == "en" and "do not answer" in answer.answer


@pytest.mark.parametrize(("question", "expected"), [
    ("Quelle est la recette des crêpes bretonnes ?", "ne répondent pas à cette question"),
    ("What is the recipe for Breton crêpes?", "do not answer this question"),
])
def test_an_abstention_says_so_in_the_question_language_and_lists_related_passages(
    abstaining: Assistant, question: str, expected: str
) -> None:
    answer = abstaining.ask(question)
    assert answer.mode == "abstain"
    assert expected in answer.answer
    assert answer.citations == ()
    assert 0 < len(answer.passages) <= abstaining.config.top_k
    assert answer.abstain_reason


def test_when_the_rule_is_confident_the_answer_is_framed_in_the_question_language(answering: Assistant) -> None:
    french = answering.ask("Qui a ouvert la réunion semestrielle avec les partenaires ?")
    english = answering.ask("Who opened the bi-annual meeting with the partners?")
    assert french.mode == english.mode == "extractive"
    assert french.answer.startswith("Selon les communiqués :")
    assert english.answer.startswith("According to the releases")


# --- citations -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def answers(answering: Assistant) -> list[Answer]:
    return [answering.ask(question) for _, question in QUESTIONS]


def test_every_question_gets_at_least_one_citation(answers: list[Answer]) -> None:
    assert all(a.mode == "extractive" and a.citations for a in answers)


def test_every_quote_is_the_exact_slice_of_its_document(answers: list[Answer], stored: StoredIndex) -> None:
    for answer in answers:
        for citation in answer.citations:
            doc = stored.documents[citation.doc_id]
            assert doc.text[citation.start:citation.end] == citation.quote
            assert (citation.title, citation.date) == (doc.title, doc.date)


def test_every_quote_is_found_word_for_word_in_the_release_file(answers: list[Answer], stored: StoredIndex) -> None:
    for answer in answers:
        for citation in answer.citations:
            raw = Path(stored.documents[citation.doc_id].source).read_text(encoding="utf-8")
            assert citation.quote in raw


def test_every_quote_lies_in_the_chunk_it_names(answers: list[Answer], stored: StoredIndex) -> None:
    chunks = {c.chunk_id: c for c in stored.chunks}
    for answer in answers:
        for citation in answer.citations:
            chunk = chunks[citation.chunk_id]
            assert chunk.doc_id == citation.doc_id
            assert chunk.start < citation.end and citation.start < chunk.end


def test_the_answer_text_carries_each_quote_with_its_marker(answers: list[Answer]) -> None:
    for answer in answers:
        assert [c.marker for c in answer.citations] == list(range(1, len(answer.citations) + 1))
        for citation in answer.citations:
            assert f"{citation.quote} [{citation.marker}]" in answer.answer


def test_no_answer_quotes_more_sentences_than_allowed(answers: list[Answer], answering: Assistant) -> None:
    assert all(len(a.citations) <= answering.config.max_answer_sentences for a in answers)


def test_listed_passages_are_at_most_top_k_and_distinct(answers: list[Answer], answering: Assistant) -> None:
    for answer in answers:
        ids = [p.chunk.chunk_id for p in answer.passages]
        assert 0 < len(ids) <= answering.config.top_k and len(set(ids)) == len(ids)


# --- entities of a question ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Qui a présidé la réunion du Comité militaire en janvier 2025 ?", ["Comité", "janvier 2025"]),
        ("Combien de pays ont participé en juin ?", ["juin"]),
        ("What happened in June 2024 and in 2022?", ["June 2024", "2022"]),
        ("Who opened the NATO meeting with 26 partners?", ["NATO", "26"]),
        ("What did Mark Rutte say about Ukraine?", ["Mark", "Rutte", "Ukraine"]),
        ("Que dit le communiqué sur le SACEUR de l’OTAN ?", ["SACEUR", "OTAN"]),
        ("Depuis combien de jours l'Ukraine résiste-t-elle, 1 001 ?", ["Ukraine", "1 001"]),
        ("What was updated on 22 Nov. 2024?", ["22 Nov. 2024"]),
        ("Qu'a-t-on décidé le 1er mars 2025 ?", ["1er mars 2025"]),
        ("Qu'a-t-on décidé en janv. 2025 ?", ["janv. 2025"]),
        ("What happened on 2024-11-20 and on 20/11/2024?", ["2024-11-20", "20/11/2024"]),
        ("Combien de pays en sept ?", []),
    ],
)
def test_entities_are_the_names_and_numbers_of_the_question(question: str, expected: list[str]) -> None:
    assert ExtractiveAnswerer.entities(question) == expected


@pytest.mark.parametrize("question", [
    "Combien de pays partenaires ont participé ?",
    "Who opened the meeting?",
    "Et qui l'a présidée ?",
    "Where and when did they meet?",
])
def test_question_words_are_not_entities(question: str) -> None:
    assert ExtractiveAnswerer.entities(question) == []


def test_entity_coverage_counts_names_found_in_the_release(stored: StoredIndex) -> None:
    answerer = ExtractiveAnswerer(stored)
    doc_004 = next(d for d in stored.documents if d.startswith("004"))
    assert answerer.entity_coverage("Qu'a dit Mark Rutte aux partenaires ?", [doc_004]) == 1.0
    assert answerer.entity_coverage("Qu'a dit Jens Stoltenberg aux partenaires ?", [doc_004]) == 0.0
    assert answerer.entity_coverage("Qu'a dit Mark Stoltenberg aux partenaires ?", [doc_004]) == 0.5


def test_a_month_and_year_are_covered_only_together(stored: StoredIndex) -> None:
    answerer = ExtractiveAnswerer(stored)
    doc_004 = next(d for d in stored.documents if d.startswith("004"))
    # The release is about January 2025: 2025 alone and June alone are not enough for "juin 2025".
    assert answerer.entity_coverage("Qu'a décidé le Comité militaire en janvier 2025 ?", [doc_004]) == 1.0
    assert answerer.entity_coverage("Qu'a décidé le Comité militaire en juin 2025 ?", [doc_004]) == 0.5
    assert answerer.entity_coverage("What did NATO decide in January 2025?", [doc_004]) == 1.0


def test_english_names_of_french_acronyms_and_months_count_as_covered(stored: StoredIndex) -> None:
    answerer = ExtractiveAnswerer(stored)
    doc_004 = next(d for d in stored.documents if d.startswith("004"))
    assert answerer.entity_coverage("What did NATO decide in January?", [doc_004]) == 1.0


# --- near-ties on the kind of answer asked for ------------------------------------------------------------

def _evidence(stored: StoredIndex, row: int, score: float, type_match: bool | None) -> Evidence:
    features = np.zeros(len(SENTENCE_FEATURES))
    if type_match is not None:
        features[SENTENCE_FEATURES.index("type_match")] = float(type_match)
        features[SENTENCE_FEATURES.index("type_miss")] = float(not type_match)
    return Evidence(stored.sentences[row], 0, features, score)


def test_a_sentence_holding_the_asked_type_wins_a_near_tie(stored: StoredIndex) -> None:
    ranked = [_evidence(stored, 0, 9.30, False), _evidence(stored, 1, 9.25, False), _evidence(stored, 2, 9.22, True)]
    reordered = prefer_typed_near_tie(ranked, margin=0.1)
    assert [e.score for e in reordered] == [9.22, 9.30, 9.25]


def test_a_typed_sentence_beyond_the_margin_does_not_overtake(stored: StoredIndex) -> None:
    ranked = [_evidence(stored, 0, 9.30, False), _evidence(stored, 1, 9.10, True)]
    assert prefer_typed_near_tie(ranked, margin=0.1) == ranked


def test_an_open_question_or_a_typed_best_sentence_keeps_its_order(stored: StoredIndex) -> None:
    open_question = [_evidence(stored, 0, 9.30, None), _evidence(stored, 1, 9.29, None)]
    typed_best = [_evidence(stored, 0, 9.30, True), _evidence(stored, 1, 9.29, True)]
    assert prefer_typed_near_tie(open_question, margin=0.1) == open_question
    assert prefer_typed_near_tie(typed_best, margin=0.1) == typed_best
    assert prefer_typed_near_tie([], margin=0.1) == []


# --- how many sentences an answer quotes -----------------------------------------------------------------

def _rows_of_two_releases(stored: StoredIndex) -> tuple[int, int, int]:
    """Two rows of one release (in document order) and one row of another release."""
    first_doc = stored.sentences[0].doc_id
    same = [r for r, s in enumerate(stored.sentences) if s.doc_id == first_doc]
    other = next(r for r, s in enumerate(stored.sentences) if s.doc_id != first_doc)
    return same[1], same[3], other


def test_a_sentence_scoring_within_the_margin_is_quoted_beside_the_best(stored: StoredIndex) -> None:
    answerer = ExtractiveAnswerer(stored, AnswerParams(second_sentence_margin=0.1))
    early, late, other = _rows_of_two_releases(stored)
    ranked = [_evidence(stored, other, 9.30, None), _evidence(stored, early, 9.25, None),
              _evidence(stored, late, 9.24, None)]
    chosen = answerer.choose_sentences(ranked)
    # Two at most, the best release first.
    assert [e.sentence for e in chosen] == [stored.sentences[other], stored.sentences[early]]


def test_sentences_of_one_release_are_quoted_in_their_order(stored: StoredIndex) -> None:
    answerer = ExtractiveAnswerer(stored, AnswerParams(second_sentence_margin=0.1))
    early, late, _ = _rows_of_two_releases(stored)
    chosen = answerer.choose_sentences([_evidence(stored, late, 9.30, None), _evidence(stored, early, 9.29, None)])
    assert [e.sentence for e in chosen] == [stored.sentences[early], stored.sentences[late]]


def test_a_clearly_weaker_sentence_is_not_quoted(stored: StoredIndex) -> None:
    answerer = ExtractiveAnswerer(stored, AnswerParams(second_sentence_margin=0.1))
    early, late, _ = _rows_of_two_releases(stored)
    chosen = answerer.choose_sentences([_evidence(stored, early, 9.30, None), _evidence(stored, late, 9.15, None)])
    assert [e.sentence for e in chosen] == [stored.sentences[early]]


def test_a_sentence_repeated_by_another_release_is_quoted_once(stored: StoredIndex) -> None:
    answerer = ExtractiveAnswerer(stored, AnswerParams(second_sentence_margin=0.1))
    early, late, _ = _rows_of_two_releases(stored)
    repeated = replace(stored.sentences[early], doc_id="another-release")
    ranked = [_evidence(stored, early, 9.30, None), Evidence(repeated, 0, np.zeros(len(SENTENCE_FEATURES)), 9.29),
              _evidence(stored, late, 9.28, None)]
    chosen = answerer.choose_sentences(ranked)
    assert [e.sentence for e in chosen] == [stored.sentences[early], stored.sentences[late]]


def test_one_sentence_answers_when_asked_for_one(stored: StoredIndex) -> None:
    answerer = ExtractiveAnswerer(stored, AnswerParams(second_sentence_margin=0.1), max_sentences=1)
    early, late, _ = _rows_of_two_releases(stored)
    chosen = answerer.choose_sentences([_evidence(stored, early, 9.30, None), _evidence(stored, late, 9.29, None)])
    assert len(chosen) == 1


# --- update stamps --------------------------------------------------------------------------------------

def _candidate_texts(stored: StoredIndex, question: str) -> list[str]:
    answerer = ExtractiveAnswerer(stored)
    passages = [ScoredChunk(chunk, 1.0) for chunk in stored.chunks]
    query = stored.sentence_vectors[0]
    return [e.sentence.text for e in answerer.candidates(question, query, "fr", passages)]


def test_an_update_stamp_answers_only_a_question_about_updates(stored: StoredIndex) -> None:
    updated = _candidate_texts(stored, "Quand le communiqué a-t-il été mis à jour ?")
    assert any(text.startswith("Mis à jour le") for text in updated)
    other = _candidate_texts(stored, "Quand la réunion s'est-elle tenue ?")
    assert other and not any(text.startswith("Mis à jour le") for text in other)


@pytest.mark.parametrize("question", [
    "Qui a pris la parole aux réunions de novembre 2022 et de novembre 2024 ?",
    "Who spoke at both the November 2022 and the November 2024 meetings?",
])
def test_a_question_on_two_meetings_is_covered_by_the_top_releases_together(stored: StoredIndex,
                                                                            question: str) -> None:
    answerer = ExtractiveAnswerer(stored)
    nov_2024 = next(d for d in stored.documents if d.startswith("000"))
    nov_2022 = next(d for d in stored.documents if d.startswith("001"))
    assert answerer.entity_coverage(question, [nov_2024]) == 0.5
    assert answerer.entity_coverage(question, [nov_2024, nov_2022]) == 1.0


def test_abstention_features_carry_the_coverage_of_the_top_releases(stored: StoredIndex) -> None:
    ranked = [_evidence(stored, 0, 9.3, True), _evidence(stored, 5, 9.1, True)]
    features = abstention_features(ranked, cross_lingual=False, lexical_agreement=True, entity_in_top_releases=0.5,
                                   names_dates=False)
    assert set(features) == set(ABSTAIN_FEATURES)
    assert features["entity_in_top_releases"] == 0.5 and features["lexical_agreement"] == 1.0


def _with_words(evidence: Evidence, same_lang: float, translated: float = 0.0) -> Evidence:
    features = evidence.features.copy()
    features[SENTENCE_FEATURES.index("overlap_same_lang")] = same_lang
    features[SENTENCE_FEATURES.index("translated_overlap")] = translated
    return replace(evidence, features=features)


@pytest.mark.parametrize(("best_words", "other_words", "agree"), [
    ((0.5, 0.0), (0.25, 0.0), 1.0),   # the best sentence also shares the most words with the question
    ((0.25, 0.0), (0.5, 0.0), 0.0),   # another sentence shares more: the embedding and the words disagree
    ((0.5, 0.0), (0.5, 0.0), 1.0),    # a tie counts
    ((0.0, 0.6), (0.0, 0.4), 1.0),    # across languages, through the translated words
    ((0.0, 0.2), (0.0, 0.4), 0.0),
    ((0.0, 0.0), (0.0, 0.0), 1.0),    # no sentence shares a word: a tie at zero (kept, see abstention_features)
])
def test_words_agree_when_the_best_sentence_shares_the_most_words_with_the_question(
        stored: StoredIndex, best_words: tuple[float, float], other_words: tuple[float, float], agree: float) -> None:
    ranked = [_with_words(_evidence(stored, 0, 9.3, None), *best_words),
              _with_words(_evidence(stored, 5, 9.1, None), *other_words)]
    features = abstention_features(ranked, cross_lingual=False, lexical_agreement=False, entity_in_top_releases=1.0,
                                   names_dates=False)
    assert features["words_agree"] == agree


def _cite(stored: StoredIndex, chunk_row: int, marker: int, original: Citation | None = None) -> Citation:
    chunk = stored.chunks[chunk_row]
    middle = (chunk.start + chunk.end) // 2
    doc = stored.documents[chunk.doc_id]
    return Citation(marker, chunk.doc_id, doc.title, doc.date, doc.text[middle:middle + 5], middle, middle + 5,
                    chunk.chunk_id, original=original)


def test_the_passages_an_answer_quotes_come_first_and_the_rest_keep_their_ranking(stored: StoredIndex) -> None:
    far_apart = [row for row, c in enumerate(stored.chunks) if c.doc_id == stored.chunks[0].doc_id][::2][:4]
    passages = [ScoredChunk(stored.chunks[row], 1.0 - i / 10) for i, row in enumerate(far_apart)]
    quoted_last, quoted_third = _cite(stored, far_apart[3], 1), _cite(stored, far_apart[2], 2)
    ordered = cited_first(passages, [quoted_last, quoted_third])
    assert [p.chunk.chunk_id for p in ordered] == [passages[i].chunk.chunk_id for i in (2, 3, 0, 1)]
    assert cited_first(passages, []) == passages


def test_a_quote_from_a_twin_brings_the_passage_of_its_original_first(stored: StoredIndex) -> None:
    passages = [ScoredChunk(stored.chunks[row], 1.0 - row / 10) for row in (0, 2)]
    translation = _cite(stored, 2, 1)
    elsewhere = replace(translation, doc_id="an-english-twin", chunk_id="an-english-twin#0")
    from_twin = replace(elsewhere, original=_cite(stored, 2, 1))
    assert [p.chunk.chunk_id for p in cited_first(passages, [from_twin])] == [stored.chunks[2].chunk_id,
                                                                                stored.chunks[0].chunk_id]
    assert [p.chunk for p in cited_first(passages, [elsewhere])] == [p.chunk for p in passages]


# --- which meeting the question means ------------------------------------------------------------------

@pytest.mark.parametrize(("question", "expected"), [
    ("Lors de la réunion de 2022 (et non celle de 2024), qui dirigeait la Division ?", ["2022", "Division"]),
    ("Qui présidait en 2022, et non en 2024 ?", ["2022"]),
    ("Who chaired the 2024 meeting, as opposed to the 2022 one?", ["2024"]),
    ("Who chaired the 2024 meeting (not the 2022 one)?", ["2024"]),
    ("Which partners did not attend in 2024?", ["2024"]),
    ("Qui était présent en 2024, et pas seulement l'Ukraine ?", ["2024", "Ukraine"]),
    ("Which countries (not only NATO members) attended in 2024?", ["NATO", "2024"]),
    ("What happened on June 20, 2024?", ["June 20, 2024"]),
])
def test_what_a_question_sets_aside_is_not_one_of_its_entities(question: str, expected: list[str]) -> None:
    assert ExtractiveAnswerer.entities(question) == expected


@pytest.mark.parametrize(("names", "iso", "expected"), [
    (["novembre 2024"], "2024-11-20", 1.0),
    (["November 2024"], "2024-11-20", 1.0),
    (["novembre 2024"], "2022-11-09", 0.0),
    (["2022"], "2022-11-09", 1.0),
    (["janvier"], "2025-01-15", 1.0),
    (["2022", "2024"], "2024-11-20", 0.5),
    (["NATO", "Rutte"], "2024-11-20", 0.0),
    (["2024"], None, 0.0),
    (["June 20, 2024"], "2024-06-20", 1.0),
    (["June 20, 2024"], "2023-06-20", 0.0),
    (["Nov. 2024"], "2024-11-20", 1.0),
    (["2024-11-20"], "2024-11-22", 1.0),
    (["2024-11-20"], "2024-12-20", 0.0),
    (["20/11/2024"], "2024-11-20", 1.0),
    (["11/20/2024"], "2024-11-20", 1.0),
    (["05/11/2024"], "2024-11-20", 1.0),
])
def test_release_date_match_counts_the_question_dates_that_are_the_release_date(
        names: list[str], iso: str | None, expected: float) -> None:
    assert ExtractiveAnswerer.release_date_match(names, iso) == expected


@pytest.mark.parametrize(("names_dates", "date_match", "mismatch"), [
    (True, 0.0, 1.0),   # "the 2023 meeting", and the best release is dated 2024
    (True, 1.0, 0.0),   # the best release is dated when the question says
    (False, 0.0, 0.0),  # the question names no date: nothing to contradict
])
def test_a_question_dated_elsewhere_than_the_best_release_is_a_mismatch(
        stored: StoredIndex, names_dates: bool, date_match: float, mismatch: float) -> None:
    best = _evidence(stored, 0, 9.3, True)
    features = best.features.copy()
    features[SENTENCE_FEATURES.index("release_date_match")] = date_match
    ranked = [replace(best, features=features), _evidence(stored, 5, 9.1, True)]
    result = abstention_features(ranked, cross_lingual=False, lexical_agreement=False, entity_in_top_releases=1.0,
                                 names_dates=names_dates)
    assert result["date_mismatch"] == mismatch


@pytest.mark.parametrize(("question", "names_dates"), [
    ("Qu'a décidé la réunion de février 2024 ?", True),
    ("What was discussed at the 2023 meeting?", True),
    ("Qui a ouvert la réunion ?", False),
    ("How many partners attended, 26?", False),
    ("What changed on 2024-11-20?", True),
    ("Qu'a-t-on décidé en févr. 2024 ?", True),
])
def test_a_question_names_dates_when_it_names_a_year_or_a_month(question: str, names_dates: bool) -> None:
    assert ExtractiveAnswerer.names_dates(question) is names_dates


def test_a_french_month_alone_is_not_matched_by_an_english_word_it_resembles() -> None:
    # "mai" must not be satisfied by the modal verb "may" of an English release, nor "mars" by "march".
    for question, text in (("Qu'a-t-on décidé en mai ?", "nato may decide later"),
                           ("Que s'est-il passé en mars ?", "the march of the troops")):
        patterns = ExtractiveAnswerer._entity_patterns(ExtractiveAnswerer.entities(question))
        assert ExtractiveAnswerer._coverage(patterns, text) == 0.0
    with_year = ExtractiveAnswerer._entity_patterns(ExtractiveAnswerer.entities("Qu'a-t-on décidé en mai 2024 ?"))
    assert ExtractiveAnswerer._coverage(with_year, "in may 2024 nato decided") == 1.0


@pytest.mark.parametrize("question", [
    "What was decided on 2024-11-20?",
    "Qu'a-t-on décidé le 20/11/2024 ?",
    "What was decided in Nov. 2024?",
    "What was decided on November 20, 2024?",
])
def test_a_date_written_any_way_is_covered_by_the_release_that_writes_it_another_way(question: str) -> None:
    patterns = ExtractiveAnswerer._entity_patterns(ExtractiveAnswerer.entities(question))
    for text in ("le 20 novembre 2024, l'emi a tenu sa reunion", "mis a jour le: 20 nov. 2024 15:48"):
        assert ExtractiveAnswerer._coverage(patterns, text) == 1.0, (question, text)
    assert ExtractiveAnswerer._coverage(patterns, "le 21 novembre 2023, l'emi a tenu sa reunion") == 0.0


@pytest.mark.parametrize("question", ["What happened on 2024-11-20?", "What happened on 20 Nov. 2024?",
                                      "Que s'est-il passé le 20 novembre 2024 ?", "What happened on 2024/11/20?"])
def test_a_full_date_needs_its_day(question: str) -> None:
    patterns = ExtractiveAnswerer._entity_patterns(ExtractiveAnswerer.entities(question))
    assert ExtractiveAnswerer._coverage(patterns, "le 21 novembre 2024, la reunion") == 0.0
    assert ExtractiveAnswerer._coverage(patterns, "le 20 novembre 2024, la reunion") == 1.0


def test_the_first_day_of_a_range_is_covered_by_the_range() -> None:
    patterns = ExtractiveAnswerer._entity_patterns(ExtractiveAnswerer.entities("Qu'a-t-on décidé le 15 janvier 2025 ?"))
    assert ExtractiveAnswerer._coverage(patterns, "les 15 et 16 janvier 2025, le comite s'est reuni") == 1.0


@pytest.mark.parametrize("question", ["What happened on 2024-13-45?", "Qu'a-t-on décidé le 05/00/2024 ?"])
def test_an_impossible_date_is_no_date(question: str) -> None:
    assert not ExtractiveAnswerer.names_dates(question)


def test_cognate_prefixes_fold_accents_and_skip_short_and_function_words() -> None:
    assert cognate_prefixes("Which délégation did the Supreme Commander thank?") == {"deleg", "supre", "comma", "thank"}
    assert cognate_prefixes("Which delegation?") == cognate_prefixes("la délégation")


def _candidates_for(stored: StoredIndex, question: str, lang: str) -> list[Evidence]:
    passages = [ScoredChunk(chunk, 1.0) for chunk in stored.chunks]
    return ExtractiveAnswerer(stored).candidates(question, stored.sentence_vectors[0], lang, passages)


def test_an_english_question_credits_the_french_sentences_sharing_its_cognates(stored: StoredIndex) -> None:
    ranked = _candidates_for(stored, "Which Ukrainian delegation was there?", "en")
    overlap = {e.sentence.text: e.feature("cognate_overlap") for e in ranked}
    thanked = next(text for text in overlap if "délégation ukrainienne" in text)
    assert overlap[thanked] == 1.0
    assert all(v == 0.0 for text, v in overlap.items()
               if "ukrain" not in text.casefold() and "délég" not in text.casefold())


def test_cognates_count_only_across_languages(stored: StoredIndex) -> None:
    ranked = _candidates_for(stored, "Quelle délégation ukrainienne a été remerciée ?", "fr")
    assert ranked and all(e.feature("cognate_overlap") == 0.0 for e in ranked)


def _signals_over(stored: StoredIndex, question: str, lang: str, release_prefix: str) -> tuple[dict[str, float], float]:
    """The abstention signals and probability for a question whose passages all come from one release."""
    answerer = ExtractiveAnswerer(stored)
    passages = [ScoredChunk(c, 1.0) for c in stored.chunks if c.doc_id.startswith(release_prefix)]
    ranked = answerer.candidates(question, stored.sentence_vectors[0], lang, passages)
    signals = answerer.abstention_signals(ranked, question, lang, passages)
    return signals, answerer.answerable_probability(signals)


@pytest.mark.parametrize(("signal", "values", "lang", "supported", "unsupported"), [
    # someone the release never names
    ("entity_in_doc", (1.0, 0.0), "fr", "Qu'a dit Mark Rutte aux chefs d'état-major ?",
     "Qu'a dit Jens Stoltenberg aux chefs d'état-major ?"),
    ("entity_in_doc", (1.0, 0.0), "en", "What did Mark Rutte tell the defence chiefs?",
     "What did Jens Stoltenberg tell the defence chiefs?"),
    # a date at which the release is not dated
    ("date_mismatch", (0.0, 1.0), "fr", "Qui a ouvert la réunion de janvier 2025 ?",
     "Qui a ouvert la réunion de mars 2021 ?"),
    ("date_mismatch", (0.0, 1.0), "en", "Who opened the January 2025 meeting?", "Who opened the March 2021 meeting?"),
])
def test_a_question_the_release_does_not_support_is_less_answerable(
        stored: StoredIndex, signal: str, values: tuple[float, float], lang: str, supported: str,
        unsupported: str) -> None:
    supported_signals, supported_p = _signals_over(stored, supported, lang, "004")
    unsupported_signals, unsupported_p = _signals_over(stored, unsupported, lang, "004")
    assert (supported_signals[signal], unsupported_signals[signal]) == values
    assert unsupported_p < supported_p
