"""Words that present a citation, in the language of the answer: the page and the CLI say the same thing."""

from __future__ import annotations

CITATION_WORDS = {
    "fr": {
        "untitled": "(communiqué sans titre)",
        "no_date": "sans date",
        "chars": "caractères {start}–{end}",
        "follow_up": "Question lue comme la suite de : « {question} »",
    },
    "en": {
        "untitled": "(untitled release)",
        "no_date": "no date",
        "chars": "characters {start}–{end}",
        "follow_up": "Read as a follow-up to: “{question}”",
    },
}


def citation_words(lang: str) -> dict[str, str]:
    return CITATION_WORDS.get(lang, CITATION_WORDS["en"])
