"""Words as the lexical side compares them: folded to lower case, French elisions removed, stemmed with the
Snowball stemmer of their language (BM25, the answerer's word overlap and the French-English lexicon)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

import Stemmer

from rag.text.normalize import fold_case_for_stemming, strip_accents

_WORD = re.compile(r"[^\W_]+(?:[-'][^\W_]+)*", re.UNICODE)
_ELISION = re.compile(r"^(?:l|d|j|m|n|s|t|c|qu|jusqu|lorsqu|puisqu)'", re.IGNORECASE)
_STEMMER_NAMES = {"fr": "french", "en": "english", "de": "german", "es": "spanish", "it": "italian"}


@lru_cache(maxsize=8)
def _stemmer(lang: str) -> Stemmer.Stemmer | None:
    name = _STEMMER_NAMES.get(lang)
    return Stemmer.Stemmer(name) if name else None


def _words(text: str) -> list[str]:
    """Words folded to lower case, French elisions (l', d', qu') removed."""
    return [w for w in (_ELISION.sub("", w) for w in _WORD.findall(fold_case_for_stemming(text))) if w]


# French verbs whose forms the Snowball stemmer keeps apart ("Qui a ouvert…?" and "Ouvrant la réunion…",
# "s'est tenue" and "se tient", "a pris" and "prenant"): a form is read as its infinitive, which the stemmer
# then stems like the regular forms. (prefixes, root forms, infinitive of the root), over accent-free words;
# the prefix stays, so "décrit" and "écrit" remain different verbs.
# The endings of the -rir verbs (ouvrir, couvrir, offrir, souffrir) and of the -tenir/-venir verbs after
# their "t"/"v"; the other families have their own.
_RIR = r"(?:rir|erte?s?|re|res|rent|rant|rait|raient|rira|riront|rit|rirent)"
_ENIR = r"(?:enir|enue?s?|enant|ient|iennent|int|inrent|iendr(?:a|ai|ont|ait|aient)|en(?:ait|aient|ons|ez))"
_FRENCH_VERB_FAMILIES = (
    ("|r|entr", "ouv" + _RIR, "ouvrir"),
    ("|de|re", "couv" + _RIR, "couvrir"),
    ("", "off" + _RIR, "offrir"),
    ("s", "ouff" + _RIR, "ouffrir"),
    ("|ob|main|sou|con|re|entre|de|appar|abs", "t" + _ENIR, "tenir"),
    ("|de|inter|pre|par|con|re|sou|sur|pro|ad|contre|circon", "v" + _ENIR, "venir"),
    ("|com|re|ap|sur|entre|e", r"pr(?:endre|ise?s?|enant|ends?|ennent|enne|ennes|it|irent|endr(?:a|ai|ont|ait|aient)|"
     r"en(?:ait|aient|ons|ez))", "prendre"),
    ("|per|sou|pro|ad|trans|re|com|de|o", r"m(?:ettre|ise?s?|ettant|ets?|ettent|ette|ettes|it|irent|"
     r"ettr(?:a|ai|ont|ait|aient)|ett(?:ait|aient|ons|ez))", "mettre"),
    ("|re|inter|pre|contre", r"d(?:ire|ite?s?|isant|isent|ise|ira|iront|is(?:ait|aient|ons))", "dire"),
    ("con|pro|re|intro|tra|de|se|in", r"du(?:ire|ite?s?|isant|isent|ise|isait|isaient|ira|iront)", "duire"),
    ("e|de|ins|pres|trans|sous|pros|circons", r"cri(?:re|te?s?|vant|vent|ve|vait|vaient|ra|ront|vons|vez)", "crire"),
    ("|re", r"jo(?:indre|inte?s?|ignant|ignent|igne|ignait|ignaient|indra|indront)", "joindre"),
    ("re|aper|de|con|per", r"c(?:evoir|ue?s?|oit|ois|oivent|oive|evant|evait|evaient|evra|evront)", "cevoir"),
)
# Words a family's pattern takes that are mostly something else in a release: a city (Vienne), a noun of
# another sense ("un compromis"). Nouns that share their verb's meaning ("entreprise", "produit") stay verbs.
_NOT_VERB_FORMS = frozenset({"vienne", "compromis"})
_FRENCH_INFINITIVES = [(re.compile(rf"(?P<prefix>{prefixes})(?:{root})"), infinitive)
                       for prefixes, root, infinitive in _FRENCH_VERB_FAMILIES]


@lru_cache(maxsize=65536)
def _as_french_infinitive(word: str) -> str:
    """The infinitive of an irregular French verb form ("ouvert" -> "ouvrir", "repris" -> "reprendre"), else the
    word itself."""
    plain = strip_accents(word)
    if plain in _NOT_VERB_FORMS:
        return word
    for pattern, infinitive in _FRENCH_INFINITIVES:
        if match := pattern.fullmatch(plain):
            return match["prefix"] + infinitive
    return word


def _stems(words: list[str], lang: str) -> list[str]:
    stemmer = _stemmer(lang)
    if lang == "fr":
        words = [_as_french_infinitive(w) for w in words]
    # Accents are stripped after stemming: English questions often write French names without them.
    return [strip_accents(s) for s in (stemmer.stemWords(words) if stemmer else words)]


def tokenize(text: str, lang: str) -> list[str]:
    """The text's words, stemmed for its language."""
    return _stems(_words(text), lang)


def tokenize_many(texts: Sequence[str], lang: str) -> list[list[str]]:
    """`tokenize` of each text, stemming every distinct word once (for tens of thousands of short texts)."""
    words = [_words(t) for t in texts]
    distinct = sorted({w for ws in words for w in ws})
    stem_of = dict(zip(distinct, _stems(distinct, lang)))
    return [[stem_of[w] for w in ws] for ws in words]
