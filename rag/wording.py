"""Every sentence the assistant itself says to a reader, in French and English (the page adds its own labels
in ui/render.py): the page and the CLI say the same thing."""

from __future__ import annotations

CITATION_WORDS = {
    "fr": {
        "untitled": "(communiqué sans titre)",
        "no_date": "sans date",
        "chars": "caractères {start}–{end}",
        "follow_up": "Question lue comme la suite de : « {question} »",
        "unsupported": "Phrases non étayées par les passages cités :",
        "well_supported": "Bien étayée (confiance {confidence:.0%})",
        "check": "À vérifier dans le passage cité (confiance {confidence:.0%})",
        "alternative": "Autre phrase candidate :",
        "also_in": "aussi en {language} :",
    },
    "en": {
        "untitled": "(untitled release)",
        "no_date": "no date",
        "chars": "characters {start}–{end}",
        "follow_up": "Read as a follow-up to: “{question}”",
        "unsupported": "Sentences not supported by the cited passages:",
        "well_supported": "Well supported (confidence {confidence:.0%})",
        "check": "Check the cited passage (confidence {confidence:.0%})",
        "alternative": "Another candidate sentence:",
        "also_in": "also in {language}:",
    },
}
# A language's name in the answer's language: "also in French", "aussi en anglais".
LANGUAGE_NAMES = {"fr": {"fr": "français", "en": "anglais"}, "en": {"fr": "French", "en": "English"}}


def also_in(answer_lang: str, other_lang: str) -> str:
    """The words before a quote's other-language version: "also in French:"."""
    names = LANGUAGE_NAMES.get(answer_lang, LANGUAGE_NAMES["en"])
    return citation_words(answer_lang)["also_in"].format(language=names.get(other_lang, other_lang))


def citation_words(lang: str) -> dict[str, str]:
    return CITATION_WORDS.get(lang, CITATION_WORDS["en"])


# What a refused question is told.
QUESTION_MESSAGES = {
    "empty": {"fr": "La question est vide : écrivez une question sur les communiqués.",
              "en": "The question is empty: type a question about the releases."},
    "long": {"fr": "La question fait {n} caractères ; la limite est de {limit}. Raccourcissez-la.",
             "en": "The question is {n} characters long; the limit is {limit}. Please shorten it."},
    "not_text": {"fr": "La question n'est pas du texte valide (UTF-8) : elle contient des octets qui ne forment "
                       "aucun caractère. Retapez-la, ou vérifiez l'encodage du terminal.",
                 "en": "The question is not valid text (UTF-8): it contains bytes that form no character. "
                       "Type it again, or check the terminal's encoding."},
}


# The line before the quotes of an answer, and the whole text of an abstention.

ANSWER_FRAMING = {
    "fr": ("Selon les communiqués :", "Les communiqués indexés ne répondent pas à cette question. "
           "Passages les plus proches (liés, mais ce n'est pas une réponse) :"),
    "en": ("According to the releases (quoted in their original language):", "The indexed releases do not answer "
           "this question. Closest passages (related, not an answer):"),
}
