"""Training questions made from the corpus: cloze questions in French and English, and their near misses."""

from __future__ import annotations

from eval.generate import NEAR_MISS_PERSON, NEAR_MISS_YEAR, cloze_question, entities_of, generate
from rag.schema import Document, Sentence

SENTENCE = "Le général Janusz Adamczak a ouvert la réunion en présence de 26 pays partenaires de l’EMUE."


def _corpus() -> tuple[dict[str, Document], list[Sentence]]:
    text = "Réunion avec les partenaires\n" + SENTENCE
    doc = Document(doc_id="000_x", title="Réunion avec les partenaires", date="2024-11-20", lang="fr",
                   source="seeds/000_x.txt", text=text, content_hash="h")
    start = text.index(SENTENCE)
    return {doc.doc_id: doc}, [Sentence(doc_id=doc.doc_id, chunk_id="000_x#0", sentence_id=1, text=SENTENCE,
                                        start=start, end=start + len(SENTENCE))]


def test_entities_are_people_numbers_and_acronyms_but_not_the_sentence_opener() -> None:
    found = {(e.kind, e.text) for e in entities_of(SENTENCE)}
    assert ("person", "Janusz Adamczak") in found and ("number", "26") in found
    assert ("organisation", "EMUE") in found
    assert not any(text.startswith("Le ") for _, text in found)


def test_a_french_cloze_question_puts_the_question_word_in_place_of_the_person_and_names_the_meeting() -> None:
    person = next(e for e in entities_of(SENTENCE) if e.kind == "person")
    question = cloze_question(SENTENCE, person, "fr", "2024-11-20")
    assert question is not None
    assert question.startswith("Lors de la réunion de novembre 2024,") and question.endswith("?")
    assert " qui " in question and "Adamczak" not in question


def test_an_english_cloze_question_uses_english_question_words_and_month() -> None:
    number = next(e for e in entities_of(SENTENCE) if e.kind == "number")
    question = cloze_question(SENTENCE, number, "en", "2024-11-20")
    assert question is not None and question.startswith("At the November 2024 meeting, How many:")
    assert "26" not in question


def test_a_sentence_too_short_once_the_entity_is_gone_makes_no_question() -> None:
    short = "Ensuite, Janusz Adamczak a parlé."
    person = entities_of(short)[0]
    assert person.text == "Janusz Adamczak"
    assert cloze_question(short, person, "fr", "2024-11-20") is None


def test_near_misses_move_the_meeting_to_a_year_no_release_holds_and_swap_other_people() -> None:
    documents, sentences = _corpus()
    questions = generate(documents, sentences)
    answerable = [q for q in questions if q.answerable]
    missed = [q for q in questions if not q.answerable]
    assert answerable and all(q.doc_id == "000_x" and q.evidence == SENTENCE for q in answerable)
    assert {q.lang for q in answerable} == {"fr", "en"}
    assert missed and all(q.kind == "generated_near_miss" and q.answers == [] for q in missed)
    assert any(NEAR_MISS_YEAR in q.question for q in missed)
    assert any(NEAR_MISS_PERSON in q.question for q in missed)  # the number question names Adamczak
    assert not any(NEAR_MISS_YEAR in d.text or NEAR_MISS_PERSON in d.text for d in documents.values())
