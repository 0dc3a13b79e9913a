"""Country names in French and English, from ISO 3166 (pycountry and its French translations): what tells a
country ("la Colombie", "New Zealand") from a person or an organisation in a sentence."""

from __future__ import annotations

import gettext
import re
from functools import lru_cache

import pycountry

# "Korea, Republic of" is written "République de Corée" / "Republic of Korea" in running text.
_INVERTED = re.compile(r"^(?P<name>[^,()]+),\s*(?P<qualifier>[^,()]+)$")
_PARENTHESES = re.compile(r"\s*\([^)]*\)")


def _forms(name: str) -> set[str]:
    """A name as ISO lists it and as a sentence writes it: "Korea, Republic of" gives "Korea, Republic of",
    "Korea" and "Republic of Korea"; "Bolivia (Plurinational State of)" gives "Bolivia" too."""
    forms = {name}
    plain = _PARENTHESES.sub("", name).strip()
    forms.add(plain)
    if inverted := _INVERTED.match(plain):
        head, qualifier = inverted["name"].strip(), inverted["qualifier"].strip()
        forms |= {head, f"{qualifier} {head}"}
    return {f for f in forms if len(f) > 2}


# ISO names that running text mostly uses for something else: a meeting ("Réunion des chefs…" opens release
# titles), first names (Maurice, Dominique, Salvador, Salomon, Chad, Jordan), a weapon (Grenade), a holiday,
# an adjective ("Syrienne" of "République arabe syrienne"). Their other names still count (Tchad, Jordanie).
_NOT_COUNTRIES_IN_RUNNING_TEXT = frozenset({
    "Réunion", "Maurice", "Dominique", "Salvador", "Salomon", "Chad", "Jordan", "Grenade", "Christmas", "Jersey",
    "Syrienne",
})


@lru_cache(maxsize=1)
def country_names() -> frozenset[str]:
    """Every country's short, common and official names, in English and in French (see
    _NOT_COUNTRIES_IN_RUNNING_TEXT for the few left out)."""
    french = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["fr"], fallback=True)
    names: set[str] = set()
    for country in pycountry.countries:
        for attribute in ("name", "common_name", "official_name"):
            english = getattr(country, attribute, None)
            if english:
                names |= _forms(english) | _forms(french.gettext(english))
    return frozenset(names - _NOT_COUNTRIES_IN_RUNNING_TEXT)


@lru_cache(maxsize=1)
def _country_pattern() -> re.Pattern[str]:
    # Longest first, so that "Nouvelle-Zélande" is not read as a shorter name; a name must start on a capital
    # and end at a word boundary ("Inde" is not found in "Indes", "Oman" not in "Romania").
    alternatives = "|".join(re.escape(n) for n in sorted(country_names(), key=len, reverse=True))
    return re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w-])")


def names_a_country(text: str) -> bool:
    return bool(_country_pattern().search(text))


def is_country_word(word: str) -> bool:
    """Whether a single capitalised word ("Corée", "Moldova", "Bosnie-Herzégovine") is a country's name."""
    return word in country_names()
