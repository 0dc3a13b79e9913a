"""A quote a reader can take alone: who "il" is, the whole of a quotation, and the sentence that goes on with
the same subject, always as one verbatim span of the release."""

from __future__ import annotations

import numpy as np
import pytest

from rag.answer.extractive import SENTENCE_FEATURES, STATEMENT_EXTRA_SENTENCES, Evidence, ExtractiveAnswerer
from rag.index.store import StoredIndex
from rag.schema import Sentence
from tests.fakes import fake_index

FRENCH_RELEASE = """Réunion d’essai avec les partenaires

  • 20 Nov. 2024 -

Le 20 novembre 2024, la réunion s’est tenue au siège. Le général Jean Dupont a ouvert la réunion. \
Il a remercié les délégations de leur présence. La deuxième partie a porté sur la science. \
Le président a déclaré : « Nous devons agir. Le moment est venu d’agir ensemble. » \
Les participants ont ensuite visité le centre. Ils ont salué l’accueil. Ils ont promis de revenir. \
Ils ont signé le registre. Une photo a clos la journée.
"""

ENGLISH_RELEASE = """Test meeting with partners

  • 20 Nov. 2024 -

On 20 November 2024, the meeting took place at headquarters. General John Smith opened the meeting. \
He thanked the delegations for attending. The second part covered science and technology.
"""


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> StoredIndex:
    return fake_index(tmp_path_factory.mktemp("statement"), {"essai.txt": FRENCH_RELEASE, "trial.txt": ENGLISH_RELEASE})


def _sentence(stored: StoredIndex, words: str) -> Sentence:
    return next(s for s in stored.sentences if words in s.text)


def _statement(stored: StoredIndex, words: str) -> Sentence:
    statement = ExtractiveAnswerer(stored).statement(_sentence(stored, words))
    assert stored.documents[statement.doc_id].text[statement.start:statement.end] == statement.text
    return statement


def test_a_sentence_opening_on_a_pronoun_is_quoted_with_the_sentence_naming_its_subject(stored: StoredIndex) -> None:
    statement = _statement(stored, "Il a remercié")
    assert statement.text.startswith("Le général Jean Dupont a ouvert la réunion.")
    assert statement.text.endswith("de leur présence.")


def test_the_next_sentence_going_on_with_the_same_subject_is_quoted_too(stored: StoredIndex) -> None:
    assert _statement(stored, "Jean Dupont a ouvert").text.endswith("Il a remercié les délégations de leur présence.")
    assert _statement(stored, "John Smith opened").text.endswith("He thanked the delegations for attending.")


def test_a_quotation_is_never_cut(stored: StoredIndex) -> None:
    opening = _statement(stored, "Nous devons agir")
    closing = _statement(stored, "Le moment est venu")
    assert opening.text == closing.text
    assert opening.text.startswith("Le président a déclaré : «") and opening.text.endswith("ensemble. »")


def test_a_sentence_that_stands_alone_is_quoted_alone(stored: StoredIndex) -> None:
    alone = _sentence(stored, "La deuxième partie")
    assert ExtractiveAnswerer(stored).statement(alone) == alone


def test_a_statement_grows_by_a_bounded_number_of_sentences(stored: StoredIndex) -> None:
    # "Ils ont salué…", "Ils ont promis…" and "Ils ont signé…" all go on with the same subject.
    statement = _statement(stored, "Ils ont promis")
    sentences_in_it = [s for s in stored.sentences
                       if s.doc_id == statement.doc_id and statement.start <= s.start < statement.end]
    assert len(sentences_in_it) <= 1 + STATEMENT_EXTRA_SENTENCES
    assert "Une photo" not in statement.text


def test_two_chosen_sentences_of_one_statement_give_one_citation(stored: StoredIndex) -> None:
    answerer = ExtractiveAnswerer(stored)
    first, second = _sentence(stored, "Jean Dupont a ouvert"), _sentence(stored, "Il a remercié")
    [citation] = answerer.cite_in_reader_language([first, second], "fr")
    assert "Jean Dupont" in citation.quote and "Il a remercié" in citation.quote


def test_the_runner_up_is_never_a_sentence_of_the_quoted_statement(stored: StoredIndex) -> None:
    answerer = ExtractiveAnswerer(stored)
    best, inside, outside = (_sentence(stored, w) for w in ("Jean Dupont a ouvert", "Il a remercié", "La deuxième"))
    ranked = [Evidence(s, 0, np.zeros(len(SENTENCE_FEATURES)), score) for s, score in
              ((best, 9.0), (inside, 8.9), (outside, 8.5))]
    quoted = answerer.cite_in_reader_language([best], "fr")
    alternative = answerer._runner_up(ranked, quoted, 2, "fr")
    assert alternative is not None and alternative.quote == outside.text


def test_a_release_title_is_never_offered_as_the_runner_up(stored: StoredIndex) -> None:
    answerer = ExtractiveAnswerer(stored)
    best, title, outside = (_sentence(stored, w) for w in ("Jean Dupont a ouvert", "Réunion d’essai", "La deuxième"))
    assert title.text == stored.documents[title.doc_id].title
    ranked = [Evidence(s, 0, np.zeros(len(SENTENCE_FEATURES)), score) for s, score in
              ((best, 9.0), (title, 8.9), (outside, 8.5))]
    alternative = answerer._runner_up(ranked, answerer.cite_in_reader_language([best], "fr"), 2, "fr")
    assert alternative is not None and alternative.quote == outside.text


def test_when_no_quoted_sentence_gives_a_date_the_release_dateline_is_quoted_before_it(stored: StoredIndex) -> None:
    answerer = ExtractiveAnswerer(stored)
    undated = _sentence(stored, "La deuxième partie")
    dateline, quoted = answerer.quotation([undated], "Quand la deuxième partie a-t-elle porté sur la science ?")
    assert dateline.text.startswith("Le 20 novembre 2024") and quoted == undated


def test_a_sentence_that_gives_its_own_date_needs_no_dateline(stored: StoredIndex) -> None:
    dated = _sentence(stored, "Le 20 novembre 2024")
    assert ExtractiveAnswerer(stored).quotation([dated], "When did the meeting take place?") == [dated]


@pytest.mark.parametrize("question", [
    "Sur quoi la deuxième partie a-t-elle porté ?", "Who opened the meeting?", "How many parts did it have?",
    "When was the release updated?",
])
def test_only_a_when_question_other_than_about_the_update_gets_the_dateline(stored: StoredIndex,
                                                                             question: str) -> None:
    undated = _sentence(stored, "La deuxième partie")
    assert ExtractiveAnswerer(stored).quotation([undated], question) == [undated]
