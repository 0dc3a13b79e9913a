"""The third-language note: a question in German, Arabic or Hebrew is told it may be misread; French and English
questions and bare names never are (issue 15, item 19)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.text.language import unsupported_language_note

QA = Path(__file__).resolve().parents[2] / "eval" / "qa.jsonl"


@pytest.mark.parametrize(("question", "named"), [
    ("Wer hat die Sitzung des Militärausschusses eröffnet?", "German"),
    ("Wie viele Länder haben an der Sitzung des Ausschusses teilgenommen?", "German"),
    ("Was hat der Generalsekretär in Brüssel gesagt?", "German"),
    ("من افتتح اجتماع اللجنة العسكرية للناتو؟", "Arabic"),
    ("מי פתח את הישיבה של הוועדה הצבאית?", "Hebrew"),
    ("Кто открыл заседание Военного комитета?", "Russian"),
])
def test_a_question_in_a_third_language_gets_the_note_naming_it(question: str, named: str) -> None:
    note = unsupported_language_note(question)
    assert note is not None and f"looks like {named}" in note


def test_no_question_of_the_evaluation_set_gets_the_note() -> None:
    questions = [json.loads(line)["question"] for line in QA.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(questions) >= 108
    assert [q for q in questions if unsupported_language_note(q)] == []


@pytest.mark.parametrize("question", [
    "Quelle est la position de l'OTAN sur la réunion des chefs d'état-major de la défense ?",
    "Des partenaires ont-ils participé à la réunion de novembre ?",
    "Qui est Владимир Зеленский ?", "مارك روته", "Mark Rutte Kyiv visit October 2024?", "Mircea Geoană Bucarest visite ?",
])
def test_french_english_and_names_in_any_script_get_no_note(question: str) -> None:
    assert unsupported_language_note(question) is None


def test_every_language_set_shares_the_one_loaded_model_and_classifies_as_its_own_copy_would() -> None:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    from rag.text.language import _identifier

    sets = [("en", "fr"), ("de", "en", "es", "fr", "it"), None]
    shared = [_identifier(s) for s in sets]
    assert len({id(i._full_model[0]) for i in shared}) == 1  # one model in memory, not one per set
    texts = ["Qui a ouvert la réunion ?", "Who opened the meeting in Brussels?", "Wer hat das Treffen eröffnet?",
             "¿Quién abrió la reunión de noviembre?", "Mark Rutte Kyiv October 2024"]
    for languages, identifier in zip(sets, shared):
        alone = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        if languages:
            alone.set_languages(list(languages))
        for text in texts:
            assert identifier.classify(text) == alone.classify(text)
