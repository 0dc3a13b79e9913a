"""What a question asks for (number, date, person, place or nothing in particular) and which sentences hold it."""

from __future__ import annotations

import pytest

from rag.answer.question import (
    asks_about_update,
    counted_phrases,
    counted_words,
    expected_answer_type,
    holds_answer_type,
)


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("Combien de pays partenaires ont participé à la réunion de novembre 2024 ?", "number"),
        ("How many partner countries attended the November 2024 meeting?", "number"),
        ("Quel budget l'OTAN consacre-t-elle à la défense ?", "amount"),
        ("Quel est le nombre de chefs d'état-major présents ?", "number"),
        ("What percentage of GDP should be spent on defence?", "amount"),
        ("How much funding did the Alliance commit?", "amount"),
        ("Combien d'argent l'OTAN a-t-elle consacré au programme ?", "amount"),
        ("How much does the programme cost?", "amount"),
        ("Quand s'est tenue la réunion virtuelle des chefs d'état-major ?", "date"),
        ("When did the Military Committee meet in Brussels?", "date"),
        ("En quelle année le nouveau concept stratégique a-t-il été adopté ?", "date"),
        ("Which day was the virtual session held?", "date"),
        ("On which dates did the defence chiefs meet?", "date"),
        ("On which days of the week was the conference held?", "date"),
        ("Quels jours la session s'est-elle tenue ?", "date"),
        ("Quel haut responsable a clos la réunion ?", "person"),
        ("Avec quel homologue les chefs d'état-major se sont-ils entretenus ?", "person"),
        ("Quelle représentante des États-Unis a pris la parole ?", "person"),
        ("Which commander briefed the defence chiefs?", "person"),
        ("Which senior official chaired the session?", "person"),
        ("Which Allied chief of defence chaired the session?", "person"),
        ("Which NATO Secretary General opened the summit?", "person"),
        ("Quel chef d'état-major a ouvert la réunion ?", "person"),
        ("Quelle ministre a pris la parole ?", "person"),
        ("Which report did the chief present?", None),               # the role is not what is asked
        ("À quelle fréquence la réunion a-t-elle lieu ?", "frequency"),
        ("How often do the partners meet?", "frequency"),
        ("How long did the virtual meeting last?", "duration"),
        ("Combien de temps a duré la réunion ?", "duration"),
        ("Depuis combien de temps l'Ukraine résiste-t-elle ?", "duration"),
        ("Quelle a été la durée de la session ?", "duration"),
        ("Combien de fois par an se tient la réunion ?", "frequency"),
        ("How many times a year do they meet?", "frequency"),
        ("Quelle est la fréquence de ces réunions ?", "frequency"),
        ("Qui a ouvert la réunion des chefs d'état-major de janvier 2025 ?", "person"),
        ("Who opened the bi-annual meeting with partners?", "person"),
        ("Par qui la réunion a-t-elle été présidée ?", "person"),
        ("Which general presented the PAF-N framework?", "person"),
        ("Quel amiral préside le Comité militaire ?", "person"),
        ("Où se sont tenus les ateliers informels de novembre 2022 ?", "place"),
        ("Where did the Chiefs of Defence meet in January 2025?", "place"),
        ("Dans quelle ville siège l'OTAN ?", "place"),
        ("In which city is NATO headquartered?", "place"),
        ("What was discussed at the January 2025 meeting?", None),
        ("Pourquoi l'OTAN renforce-t-elle ses partenariats ?", "reason"),
        ("Why are partners especially valuable now?", "reason"),
        ("Pour quelle raison la réunion a-t-elle été virtuelle ?", "reason"),
        ("De quoi les participants ont-ils discuté ?", None),
        ("Qu'est-ce que le mécanisme PAF-N ?", None),
    ],
)
def test_question_wording_gives_the_expected_answer_type(question: str, kind: str | None) -> None:
    assert expected_answer_type(question) == kind


def test_question_words_are_recognised_whatever_their_case() -> None:
    assert expected_answer_type("QUI a ouvert la réunion ?") == "person"
    assert expected_answer_type("how MANY partners came?") == "number"


def test_a_word_that_only_contains_a_question_word_does_not_count() -> None:
    # "quiconque", "whoever"... and "wherever" are not questions about a person or a place.
    assert expected_answer_type("Quiconque lit le communiqué comprend les enjeux.") is None
    assert expected_answer_type("Describe the somewhere-else scenario.") is None


# --- dates are not numbers -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sentence",
    [
        "La réunion précédente s’était tenue en 2024.",
        "Le 20 novembre 2024, la Division a tenu sa réunion.",
        "Les 15 et 16 janvier 2025, le Comité militaire s’est réuni.",
        "The meeting was held on 20 November 2024.",
        "Demain, jeudi 16 janvier 2025 à 17h30, l’amiral tiendra une conférence.",
    ],
)
def test_a_sentence_with_only_a_date_holds_a_date_but_not_a_number(sentence: str) -> None:
    assert holds_answer_type(sentence, "date")
    assert not holds_answer_type(sentence, "number")


@pytest.mark.parametrize(
    "sentence",
    [
        "Les participants de 26 pays partenaires ont discuté de la résilience.",
        "Leurs homologues de vingt-sept partenaires étaient présents.",
        "Les trente-deux chefs d’état-major se sont réunis.",
        "Representatives of more than 30 partner countries took part.",
        "Twenty-six partners attended the meeting.",
        "Le 20 novembre 2024, les délégués de 26 pays se sont réunis.",
    ],
)
def test_a_count_written_in_digits_or_words_is_a_number(sentence: str) -> None:
    assert holds_answer_type(sentence, "number")


def test_a_sentence_without_date_or_number_holds_neither() -> None:
    sentence = "La coopération accroît l’interopérabilité et la confiance entre les partenaires."
    assert not holds_answer_type(sentence, "date")
    assert not holds_answer_type(sentence, "number")


# --- people are not institutions -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "sentence",
    [
        "La réunion a été organisée par la Division Sécurité coopérative.",
        "Le Comité militaire de l’OTAN s’est réuni au siège de l’Organisation.",
        "L’État-major de l’Union européenne était représenté.",
        "The International Military Staff hosted the meeting.",
    ],
)
def test_an_institution_is_not_a_person(sentence: str) -> None:
    assert not holds_answer_type(sentence, "person")


@pytest.mark.parametrize(
    "sentence",
    [
        "La réunion a été ouverte par l’amiral Rob Bauer.",
        "Dans son allocution d’ouverture, le secrétaire général de l’OTAN, Mark Rutte, a déclaré qu’il fallait agir.",
        "Le général Cavoli a présenté un exposé.",
        "La vice-amiral Shoshana Chatfield a salué le rôle des partenaires.",
        "General Adamczak opened the meeting.",
        "Oleksandr Syrskyi a pris part à la session.",
    ],
)
def test_a_titled_or_full_name_is_a_person(sentence: str) -> None:
    assert holds_answer_type(sentence, "person")


def test_a_title_without_a_name_is_not_a_person() -> None:
    assert not holds_answer_type("Le président du Comité militaire a pris la parole.", "person")


# --- places --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sentence",
    [
        "Les ateliers ont été organisés au siège de l’OTAN à Bruxelles.",
        "The summit took place in Washington.",
    ],
)
def test_a_named_place_or_headquarters_is_a_place(sentence: str) -> None:
    assert holds_answer_type(sentence, "place")


def test_a_sentence_without_a_place_holds_none() -> None:
    assert not holds_answer_type("la coopération accroît la confiance entre les partenaires.", "place")


# --- countries ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("question", "kind"), [
    ("Quel pays accueillera le prochain sommet ?", "country"),
    ("Quels pays d'Asie étaient représentés ?", "country"),
    ("Which South American country was among the partners?", "country"),
    ("In which country is the centre based?", "country"),
    ("What countries took part in the session?", "country"),
    ("Combien de pays partenaires étaient présents ?", "number"),     # a count of countries, not their names
    ("How many countries attended?", "number"),
    ("Dans quel état d'esprit la rencontre s'est-elle terminée ?", None),
    ("Quel état-major de l'UE était présent ?", None),
    ("What did partner nations discuss?", None),                     # "nations" is the subject, not the asked
    ("Which nations' chiefs met in Brussels?", None),
    ("Among the partners, which country spoke first?", "country"),
    ("When did the meeting which the host nation organised start?", "date"),   # "which" opens a clause
    ("Who chaired the session which the host country opened?", "person"),
    ("Which United Nations agency attended?", None),
    # A nationality is often written as an adjective ("le chef d'état-major ukrainien"), not a country's name.
    ("De quelle nationalité est le général Landrum ?", None),
])
def test_a_question_asking_which_country_wants_a_country(question: str, kind: str | None) -> None:
    assert expected_answer_type(question) == kind


@pytest.mark.parametrize(("sentence", "holds"), [
    ("Parmi les partenaires figuraient la Colombie et la République de Corée.", True),
    ("La Nouvelle-Zélande a pris la parole.", True),
    ("Delegates from the Republic of Korea and New Zealand attended.", True),
    ("Des représentants de 26 pays partenaires étaient présents.", False),
    ("L’État-major de l’Union européenne était représenté en Europe.", False),
    ("Les Indes galantes ont été jouées à Romainville.", False),     # "Inde" and "Oman" only as whole words
    ("Réunion des chefs d’état-major de la défense des pays de l’Alliance", False),  # a meeting, not La Réunion
    ("Maurice et Dominique ont pris la parole.", False),             # first names
    ("Le Tchad et la Jordanie étaient représentés.", True),
])
def test_a_sentence_holds_a_country_when_it_names_one(sentence: str, holds: bool) -> None:
    assert holds_answer_type(sentence, "country") is holds


def test_a_country_written_beside_another_capitalised_word_is_not_a_person() -> None:
    assert not holds_answer_type("Parmi les partenaires : Ukraine Moldova.", "person")
    assert holds_answer_type("Les partenaires ont écouté Jordan Smith.", "person")


def test_an_open_question_accepts_any_sentence() -> None:
    assert holds_answer_type("Sans date, sans nombre, sans nom.", None)
    assert holds_answer_type("", None)


@pytest.mark.parametrize("sentence", [
    "Cette réunion se tient deux fois par an au siège.",
    "La Division organise sa réunion semestrielle avec les partenaires.",
    "The partners meet every year in Brussels.",
    "The bi-annual meeting took place in November.",
])
def test_a_repeated_event_holds_a_frequency(sentence: str) -> None:
    assert holds_answer_type(sentence, "frequency")


def test_a_single_dated_event_holds_no_frequency() -> None:
    assert not holds_answer_type("La réunion s'est tenue le 20 novembre 2024 à Bruxelles.", "frequency")


def test_a_time_of_day_is_not_a_count() -> None:
    assert not holds_answer_type("Mis à jour le: 22 Nov. 2024 15:48", "number")
    assert holds_answer_type("Mis à jour le: 22 Nov. 2024 15:48", "date")


@pytest.mark.parametrize(("question", "about_update"), [
    ("Quand le communiqué a-t-il été mis à jour ?", True),
    ("When was the release last updated?", True),
    ("Quelle est la date de la dernière mise à jour ?", True),
    ("Quand la réunion s'est-elle tenue ?", False),
    ("When did the partners meet?", False),
])
def test_questions_about_an_update_are_recognised(question: str, about_update: bool) -> None:
    assert asks_about_update(question) is about_update


@pytest.mark.parametrize("sentence", [
    "Tous les participants ont pris la parole.",
    "Every participant spoke about resilience.",
    "The session is held a day after the summit.",
    "Chaque partenaire a présenté ses priorités.",
])
def test_every_or_tous_les_without_a_unit_of_time_is_not_a_frequency(sentence: str) -> None:
    assert not holds_answer_type(sentence, "frequency")


@pytest.mark.parametrize(("sentence", "holds"), [
    ("Les Alliés consacreront 2 % de leur PIB à la défense.", True),
    ("NATO committed 40 billion euros to the programme.", True),
    ("Le programme est doté de 500 millions d'euros.", True),
    ("Les trente-deux chefs d'état-major ont rencontré vingt-sept partenaires.", False),
    ("The 26 partners discussed resilience.", False),
])
def test_an_amount_is_money_or_a_share_not_a_count(sentence: str, holds: bool) -> None:
    assert holds_answer_type(sentence, "amount") is holds


@pytest.mark.parametrize(("sentence", "holds"), [
    ("La réunion de deux jours s'est conclue par une session du Conseil OTAN-Ukraine.", True),
    ("L'Ukraine résiste depuis 1 001 jours.", True),
    ("The session lasted three hours.", True),
    ("Le 11 juin 2024, le Comité militaire a tenu une réunion virtuelle.", False),
    ("The 26 partners discussed resilience.", False),
])
def test_a_duration_is_a_count_of_units_of_time(sentence: str, holds: bool) -> None:
    assert holds_answer_type(sentence, "duration") is holds


@pytest.mark.parametrize(("sentence", "holds"), [
    ("En raison de la nature globale des conflits, ces partenaires sont importants.", True),
    ("La réunion a été virtuelle car les délais étaient courts.", True),
    ("Partners matter because today's conflicts are global.", True),
    ("La réunion s'est tenue à Bruxelles le 20 novembre 2024.", False),
])
def test_a_reason_is_a_sentence_that_gives_a_cause(sentence: str, holds: bool) -> None:
    assert holds_answer_type(sentence, "reason") is holds


@pytest.mark.parametrize(("question", "lang", "counted"), [
    ("Combien de pays partenaires ont participé ?", "fr", ["pays", "partenaires"]),
    ("How many Allied defence chiefs took part?", "en", ["Allied", "defence", "chiefs"]),
    ("What was the number of workshops?", "en", ["workshops"]),
    ("Quand la réunion a-t-elle eu lieu ?", "fr", []),
])
def test_counted_words_are_what_the_question_counts(question: str, lang: str, counted: list[str]) -> None:
    assert counted_words(question, lang) == counted


def test_counted_phrases_follow_counts_but_not_dates_or_frequencies() -> None:
    sentence = ("Le 9 novembre 2022, des représentants de plus de 30 pays partenaires ont participé, "
                "deux fois par an, aux trente-deux ateliers.")
    assert counted_phrases(sentence) == ["pays partenaires ont participé, par", "ateliers."]
