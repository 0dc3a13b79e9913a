"""Every month name and date grammar of the pipeline, in French and English: parsing a release's date,
spelling it for embedding, and finding the dates a question names."""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.text.normalize import fold_case_and_accents

MONTH_NUMBERS = {
    # French
    "janvier": 1, "janv": 1, "février": 2, "fevrier": 2, "févr": 2, "fevr": 2, "mars": 3, "avril": 4,
    "avr": 4, "mai": 5, "juin": 6, "juillet": 7, "juil": 7, "août": 8, "aout": 8, "septembre": 9,
    "sept": 9, "octobre": 10, "oct": 10, "novembre": 11, "nov": 11, "décembre": 12, "decembre": 12,
    "déc": 12, "dec": 12,
    # English
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4, "apr": 4,
    "may": 5, "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8, "september": 9,
    "sep": 9, "october": 10, "november": 11, "december": 12,
}
# Longest first, so that "janvier" wins over "janv".
MONTH_PATTERN = "|".join(sorted((re.escape(m) for m in MONTH_NUMBERS), key=len, reverse=True))

# The months a sentence may name as a date (what "when?" expects); "may" and "mar" are left out, being words too.
MONTH_WORDS = (
    r"janvier|février|mars|avril|mai|juin|juillet|août|septembre|octobre|novembre|décembre|"
    r"january|february|march|april|june|july|august|september|october|november|december|"
    r"janv|févr|nov|déc|dec"
)


MONTH_NAMES_FR = ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
                  "octobre", "novembre", "décembre"]
MONTH_NAMES_EN = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
                  "October", "November", "December"]


def readable_date(iso: str | None) -> str:
    """'2024-11-20' -> '20 novembre 2024 / 20 November 2024': both languages a question may use."""
    if not iso:
        return ""
    year, month, day = (int(part) for part in iso.split("-"))
    return f"{day} {MONTH_NAMES_FR[month - 1]} {year} / {day} {MONTH_NAMES_EN[month - 1]} {year}"


YEAR = re.compile(r"(?:19|20)\d\d")
MONTH_ALIASES = {en.lower(): fr for en, fr in zip(MONTH_NAMES_EN, MONTH_NAMES_FR)}
_MONTH_NAMES_BY_FRENCH = {fold_case_and_accents(fr): en for en, fr in MONTH_ALIASES.items()}
_MONTH_NUMBER = {fold_case_and_accents(word): number for word, number in MONTH_NUMBERS.items()}
_FULL_MONTHS = set(MONTH_ALIASES) | set(_MONTH_NAMES_BY_FRENCH)
_ABBREVIATED_MONTHS = sorted(
    {w for w in MONTH_NUMBERS if fold_case_and_accents(w) not in _FULL_MONTHS}, key=len, reverse=True
)
_AMBIGUOUS_MONTHS = {"may", "march"}
_FRENCH_MONTHS = sorted(set(MONTH_ALIASES.values()) | set(_MONTH_NAMES_BY_FRENCH), key=len, reverse=True)
# A month, with its year when one follows, is one entity: "juin 2024" must not be satisfied by a release
# that mentions June 2023 and, elsewhere, 2024. French month names are lowercase, so capitalisation misses them.
# An abbreviated month ("Nov. 2024", "janv. 2025") counts only with its year: alone, "sept" or "mar" are words.
MONTH_ENTITY = re.compile(
    r"\b(?:\d{1,2}(?:er)?\s+)?"  # the day, when it comes first: "20 Nov. 2024", "1er mars"
    rf"(?:(?:(?i:{'|'.join(_FRENCH_MONTHS)})|{'|'.join(m.capitalize() for m in MONTH_ALIASES)})"
    r"(?:(?:\s+\d{1,2},)?\s+(?:19|20)\d\d)?\b"
    rf"|(?i:{'|'.join(_ABBREVIATED_MONTHS)})\.?(?:\s+\d{{1,2}},)?\s+(?:19|20)\d\d\b)"
)
NUMERIC_DATE = re.compile(
    r"\b(?:(?:19|20)\d\d[-/]\d{1,2}[-/]\d{1,2}|\d{1,2}/\d{1,2}/(?:19|20)\d\d)\b"
)
_WRITTEN_DATE_PARTS = re.compile(r"(?:(\d{1,2})(?:er)?\s+)?([a-z]+)\.?(?:\s+(\d{1,2}),)?(?:\s+(\d{4}))?")


def date_parts(name: str) -> tuple[int | None, int | None, str | None] | None:
    """Day, month and year of a date a question names ("2024", "juin 2024", "20 Nov. 2024", "2024-11-20",
    "20/11/2024"), or None when the name is no date (also "2024-13-45")."""
    day: int | None
    month: int | None
    if YEAR.fullmatch(name):
        return None, None, name
    if iso := re.fullmatch(r"((?:19|20)\d\d)[-/](\d{1,2})[-/](\d{1,2})", name):
        day, month, year = int(iso[3]), int(iso[2]), iso[1]
    elif slashed := re.fullmatch(r"(\d{1,2})/(\d{1,2})/((?:19|20)\d\d)", name):
        first, second = int(slashed[1]), int(slashed[2])
        # Day first, as French and British write it, unless that cannot be ("11/20/2024").
        day, month = (second, first) if second > 12 >= first else (first, second)
        year = slashed[3]
    elif MONTH_ENTITY.fullmatch(name) and (written := _WRITTEN_DATE_PARTS.fullmatch(fold_case_and_accents(name))):
        lead, word, trail, year = written.groups()
        day = int(lead or trail) if (lead or trail) else None
        month = _MONTH_NUMBER.get(word)
    else:
        return None
    if month is None or not 1 <= month <= 12 or (day is not None and not 1 <= day <= 31):
        return None
    return day, month, year


def month_word(name: str) -> str:
    """The month as the question writes it, folded ("juin" in "20 juin 2024")."""
    return next((w for w in re.findall(r"[a-z]+", fold_case_and_accents(name)) if w in _MONTH_NUMBER), "")


def dates_among(names: Sequence[str]) -> list[str]:
    """The years, months (with or without a year) and full dates among a question's entities."""
    return [n for n in names if date_parts(n)]


def date_patterns(day: int | None, month: int | None, year: str | None, own: str) -> list[re.Pattern[str]]:
    """What a date of the question matches in folded text, in either language: "juin 2024" also matches
    "20 juin 2024", "June 20, 2024" and "Jun. 2024"; "2024-11-20" matches "20 novembre 2024", "20 Nov. 2024"
    and "les 20 et 21 novembre 2024"."""
    candidates = {w for w, number in _MONTH_NUMBER.items() if number == month}
    if not year:
        # Alone, "may" and "march" are also common English words: keep the question's own form.
        candidates = {w for w in candidates if w in _FULL_MONTHS and w not in _AMBIGUOUS_MONTHS} | {own}
    words = sorted(w for w in candidates if w)
    if day is None:
        tail = rf"\.?(?:\s+\d{{1,2}}(?:st|nd|rd|th)?,?)?\s+{year}\b" if year else r"\b"
        return [re.compile(rf"\b{w}{tail}") for w in words]
    d = rf"0?{day}"
    after = rf",?\s+{year}\b" if year else r"\b"
    patterns = [re.compile(rf"\b{d}(?:er)?(?:\s*(?:et|and|-|–|au|to)\s*\d{{1,2}})?\s+{w}\.?{after}") for w in words]
    patterns += [re.compile(rf"\b{w}\.?\s+{d}(?:st|nd|rd|th)?{after}") for w in words]
    if year:
        patterns += [re.compile(rf"\b{year}-0?{month}-{d}\b"), re.compile(rf"\b{d}/0?{month}/{year}\b")]
    return patterns
