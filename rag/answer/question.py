"""What kind of thing a question asks for (a number, a date, a person, a place) and whether a sentence holds one."""

from __future__ import annotations

import re
from typing import Literal

from rag.text.countries import is_country_word, names_a_country
from rag.text.dates import MONTH_WORDS

AnswerType = Literal["reason", "frequency", "duration", "amount", "number", "country", "date", "person", "place"]

# Words that name a person by their role: "quel haut responsable", "which commander".
_FR_ROLES = (r"général|amiral|responsable|personne|officier|dirigeant|commandant|représentant|représentante|"
             r"homologue|président|présidente|directeur|directrice|intervenant|intervenante|orateur|oratrice|chef|"
             r"ministre|secrétaire|ambassadeur|ambassadrice|porte-parole|délégué|déléguée")
_EN_ROLES = (r"general|admiral|official|person|officer|leader|commander|representative|counterpart|speaker|director|"
             r"chief|chair|chairman|chairwoman|head|minister|secretary|ambassador|spokesperson|spokesman|delegate")

_QUESTION_PATTERNS: list[tuple[AnswerType, re.Pattern[str]]] = [
    ("reason", re.compile(r"\bpourquoi\b|\bpour quelle(?:s)? raisons?\b|\bwhy\b|\bfor what reasons?\b|"
                          r"\bwhat (?:is|was) the reason\b", re.I)),
    ("frequency", re.compile(r"\bà quelle (?:fréquence|périodicité)\b|\btous les combien\b|\bcombien de fois\b|"
                             r"\bquelle est (?:la )?(?:fréquence|périodicité)\b|"
                             r"\bhow (?:often|frequently|many times)\b|"
                             r"\bat what (?:frequency|interval)\b|\bwhat is the frequency\b", re.I)),
    ("duration", re.compile(r"\bcombien de temps\b|\bquelle (?:a été |est |était )?(?:la )?durée\b|"
                            r"\b(?:for )?how long\b|\bwhat (?:was|is) the duration\b", re.I)),
    # Money and shares: a count ("trente-deux chefs") does not answer "quel budget ?".
    ("amount", re.compile(r"\bquel(?:le)? (?:est (?:le|la) )?(?:pourcentage|montant|budget|coût|somme|part du pib)\b|"
                          r"\bcombien (?:d['’]argent|coûte|a coûté|d['’]euros|de dollars)\b|\bà combien s['’]élève\b|"
                          r"\bwhat (?:percentage|share|amount|budget|cost|sum)\b|"
                          r"\bhow much (?:money|funding|did|does|will)\b|"
                          r"\bhow much (?:\w+ )?(?:cost|spend|spent|funding)\b", re.I)),
    ("number", re.compile(r"\bcombien\b|\bhow (?:many|much)\b|\bquel(?:le)? (?:est le )?nombre\b|\bnombre de\b|"
                          r"\bwhat number\b|\bnumber of\b", re.I)),
    # "Quels pays…", "which South American country": a country's name, not a count of countries (asked above).
    # English "which" also opens relative clauses ("the meeting which the host nation organised"): it asks for
    # a country only where the question opens, or after a comma or a preposition that opens it.
    ("country", re.compile(r"\bquel(?:le)?s? (?:pays|nations?)\b|"
                           r"(?:^|[,;:(]\s*)\W*(?:(?:in|from|of|to|for|with|by|at|on|among)\s+)?(?:which|what)"
                           r"(?: (?!(?:did|do|does|is|are|was|were|has|have|had|will|would)\b)[\w-]+){0,2}? "
                           r"(?<!united )(?:country|countries|nations?)\b(?!['’])", re.I)),
    ("date", re.compile(r"\bquand\b|\bwhen\b|\bquel(?:le)?s? (?:jours?|dates?|années?|mois)\b|\bà quelle date\b|"
                        r"\b(?:what|which) (?:days?|dates?|years?|months?|time)\b|\ben quelle année\b|"
                        r"\bsince when\b", re.I)),
    ("person", re.compile(r"\bqui\b(?! (?:est|sont) (?:le|la|les) (?:sujet|thème))|\bwho(?:m|se)?\b|"
                          rf"\bquel(?:le)?s? (?:haute? )?(?:{_FR_ROLES})s?\b|"
                          # "which Allied chief", "which NATO commander": one capitalised word may qualify the role.
                          rf"\bwhich (?:senior |top |high-ranking |(?-i:[A-Z][\w-]*) )?(?:{_EN_ROLES})s?\b|"
                          r"\bpar qui\b|\bby whom\b", re.I)),
    ("place", re.compile(r"\boù\b|\bwhere\b|\bdans quelle ville\b|\bin which city\b|\bquel lieu\b", re.I)),
]

_NUMBER_WORDS = (
    r"deux|trois|quatre|cinq|six|sept|huit|neuf|dix|onze|douze|treize|quatorze|quinze|seize|vingt|"
    r"trente|quarante|cinquante|soixante|cent|mille|douzaine|two|three|four|five|six|seven|eight|nine|"
    r"ten|eleven|twelve|twenty|thirty|forty|fifty|hundred|thousand|dozen"
)
_HAS_NUMBER = re.compile(rf"\d|\b(?:{_NUMBER_WORDS})(?:-(?:{_NUMBER_WORDS}|et-un))*s?\b", re.I)
_HAS_DATE = re.compile(
    rf"\b(?:{MONTH_WORDS})\b|\b(?:19|20)\d\d\b|\b(?:lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche|monday|"
    r"tuesday|wednesday|thursday|friday|saturday|sunday|hier|demain|aujourd|yesterday|tomorrow|today)\b",
    re.I,
)
_TITLES = (
    r"général|générale|amiral|vice-amiral|contre-amiral|colonel|lieutenant|commandant|président|présidente|"
    r"secrétaire général|secrétaire générale|directeur|directrice|ministre|chef|représentant|représentante|"
    r"homologue|porte-parole|general|admiral|colonel|president|secretary general|director|minister|chief|chair|"
    r"representative|spokesperson|m\.|mme|mr|mrs|ms|dr"
)
# A person is a title followed closely by a capitalised name ("l’amiral Rob Bauer", "secrétaire général
# de l’OTAN, Mark Rutte"), or two capitalised words that are not institution words.
_INSTITUTION_WORDS = {
    "division", "sécurité", "securite", "comité", "comite", "état-major", "etat-major", "union", "organisation",
    "otan", "nato", "alliance", "conseil", "centre", "forces", "europe", "européenne", "europeenne", "militaire",
    "international", "internationale", "coopérative", "science", "technologie", "transformation", "république",
    "staff", "military", "committee", "council", "cooperative", "security", "european", "general", "allied",
    "indo-pacifique", "group", "photo", "meeting", "partners", "hosts", "bi-annual", "réunion",
}


def _may_be_a_name(word: str) -> bool:
    return word.casefold() not in _INSTITUTION_WORDS
_TITLE_THEN_NAME = re.compile(rf"\b(?:{_TITLES})\b[^.;:]{{0,60}}?\b[A-ZÀ-ÝȘ][a-zà-ÿș]+", re.IGNORECASE)
_CAPITALISED_PAIR = re.compile(r"\b([A-ZÀ-ÝȘ][a-zà-ÿș]+(?:-[A-ZÀ-ÝȘ][a-zà-ÿș]+)?)\s+([A-ZÀ-ÝȘ][a-zà-ÿș]+)\b")
_DATE_NUMBER = re.compile(
    r"\b\d{1,2}(?:er)?\s+(?:et\s+\d{1,2}\s+)?(?:janvier|février|mars|avril|mai|juin|juillet|août|septembre|octobre|"
    r"novembre|décembre|january|february|march|april|may|june|july|august|september|october|november|december|"
    r"jan|feb|mar|apr|jun|jul|aug|sep|oct|nov|dec)\.?|\b(?:19|20)\d\d\b|\b\d{1,2}[h:]\d{2}\b",
    re.IGNORECASE,
)


def _has_person(sentence: str) -> bool:
    for match in _TITLE_THEN_NAME.finditer(sentence):
        # The name must be capitalised in the text itself (the search ignores case only for the title).
        name = match.group(0).rsplit(None, 1)[-1]
        if name[:1].isupper() and _may_be_a_name(name):
            return True
    # Two countries side by side ("Ukraine Moldova") are not a first name and a surname; "Jordan Smith" is.
    return any(_may_be_a_name(a) and _may_be_a_name(b) and not (is_country_word(a) and is_country_word(b))
               for a, b in _CAPITALISED_PAIR.findall(sentence))


_FREQUENCY = re.compile(rf"\b(?:{_NUMBER_WORDS}|\d+)\s+fois\b|\b(?:{_NUMBER_WORDS}|\d+)\s+times\b", re.IGNORECASE)


# A repetition needs a unit of time: "tous les participants" and "every participant" are not frequencies.
_TIME_UNIT = r"(?:ans?|années?|mois|semaines?|jours?|trimestres?|years?|months?|weeks?|days?|quarters?)"
_HAS_FREQUENCY_WORD = re.compile(
    rf"\b(?:(?:chaque|tous les|toutes les|every)\s+(?:\w+\s+)?{_TIME_UNIT}|par (?:an|mois|semaine|jour)|"
    r"(?:once|twice) a (?:year|month|week|day)|per (?:year|month|week)|"
    r"annuel\w*|semestriel\w*|biannuel\w*|trimestriel\w*|mensuel\w*|hebdomadaire\w*|quotidien\w*|"
    r"annual\w*|bi-annual\w*|biannual\w*|quarterly|monthly|weekly|daily)\b",
    re.I,
)


_HAS_REASON = re.compile(
    r"\b(?:car|parce que|parce qu['’]|en raison d|puisque|puisqu['’]|étant donné|compte tenu|grâce à|afin d|pour que|"
    r"because|due to|owing to|given that|as a result|so that|in order to|thanks to)", re.I
)
_HAS_DURATION = re.compile(
    rf"\b(?:\d[\d\s]*|{_NUMBER_WORDS}|une?|one|a|an|quelques|several|plusieurs)(?:-(?:{_NUMBER_WORDS}))*\s+"
    r"(?:minutes?|heures?|hours?|jours?|days?|semaines?|weeks?|mois|months?|ans|années|years?)\b|"
    r"\b(?:demi-journée|half a day|toute la journée|all day)\b",
    re.I,
)
_HAS_AMOUNT = re.compile(
    r"[€$£%]|\b(?:euros?|dollars?|livres? sterling|pounds?|pour ?cent|percent|per cent|"
    r"millions? d['’]euros|milliards?|billions?|PIB|GDP)\b", re.I
)


def _without_dates_and_frequencies(sentence: str) -> str:
    """The sentence with its dates, times of day and frequencies ("deux fois par an") blanked: they are not counts."""
    return _FREQUENCY.sub(" ", _DATE_NUMBER.sub(" ", sentence))


def _has_number(sentence: str) -> bool:
    """A count or an amount (see _without_dates_and_frequencies)."""
    return bool(_HAS_NUMBER.search(_without_dates_and_frequencies(sentence)))


_HAS_PLACE = re.compile(
    r"\b(?:à|au|aux|en|in|at|dans)\s+(?:l[’']|la\s|le\s)?[A-ZÀ-Ý][\w’'-]+|\bsiège\b|\bheadquarters\b", re.UNICODE
)


_ASKS_ABOUT_UPDATE = re.compile(r"\bmis(?:e)? à jour\b|\bmise à jour\b|\bupdated?\b", re.I)


def asks_about_update(question: str) -> bool:
    """Whether the question is about when a release was updated (the only question an update stamp answers)."""
    return bool(_ASKS_ABOUT_UPDATE.search(question))


# The kinds a single pattern recognises in a sentence (person, number and frequency need more than one test).
_SENTENCE_HOLDS: dict[AnswerType, re.Pattern[str]] = {
    "reason": _HAS_REASON, "duration": _HAS_DURATION, "amount": _HAS_AMOUNT, "date": _HAS_DATE, "place": _HAS_PLACE,
}


def expected_answer_type(question: str) -> AnswerType | None:
    """The first kind of answer the question's wording asks for; None for open questions (what, why, how)."""
    for kind, pattern in _QUESTION_PATTERNS:
        if pattern.search(question):
            return kind
    return None


def holds_answer_type(sentence: str, kind: AnswerType | None) -> bool:
    """Whether the sentence contains something of that kind (always true for open questions)."""
    if kind is None:
        return True
    if kind == "person":
        return _has_person(sentence)
    if kind == "number":
        return _has_number(sentence)
    if kind == "country":
        return names_a_country(sentence)
    if kind == "frequency":
        return bool(_FREQUENCY.search(sentence) or _HAS_FREQUENCY_WORD.search(sentence))
    return bool(_SENTENCE_HOLDS[kind].search(sentence))


# "combien de chefs", "how many partner countries", "the number of workshops": the words naming what is counted.
_COUNTED = re.compile(
    r"\b(?:combien\s+(?:de|d['’])\s*|nombre\s+(?:de|d['’])\s*|how\s+many\s+|number\s+of\s+)"
    r"((?:[^\W\d_][\w’'-]*\s*){1,3})", re.I)
_COUNT = re.compile(rf"\b(?:\d[\d\s.,]*\d|\d|(?:{_NUMBER_WORDS})(?:-(?:{_NUMBER_WORDS}|et-un))*)\b", re.I)
# How far after a number the counted thing may be named: "26 pays partenaires", "plus de 30 pays".
_COUNTED_WINDOW_WORDS = 5
# English puts the counted noun last ("how many Allied defence chiefs"), French first ("combien de chefs alliés").
_COUNTED_WORDS = {"en": 3}


def counted_words(question: str, lang: str) -> list[str]:
    """The words after "combien de" / "how many" that name what the question counts (three in English, two in
    French); empty if none. Glue words among them ("combien de personnes ont…") are the caller's to skip."""
    match = _COUNTED.search(question)
    return match.group(1).split()[:_COUNTED_WORDS.get(lang, 2)] if match else []


def counted_phrases(sentence: str) -> list[str]:
    """The words that follow each count of the sentence (dates, times and frequencies are not counts)."""
    text = _without_dates_and_frequencies(sentence)
    return [" ".join(text[m.end():].split()[:_COUNTED_WINDOW_WORDS]) for m in _COUNT.finditer(text)]


def dated_by_dateline(question: str) -> bool:
    """Whether a sentence without a date of its own answers the question with its release's dateline: a "when?"
    question, unless it asks when a release was updated (its update stamp says that)."""
    return expected_answer_type(question) == "date" and not asks_about_update(question)
