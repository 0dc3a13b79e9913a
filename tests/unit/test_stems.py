"""Words as the lexical side compares them: French irregular verb forms meet their other forms."""

from __future__ import annotations

import pytest

from rag.text.stems import tokenize, tokenize_many


@pytest.mark.parametrize("forms", [
    ("ouvert", "ouvrant", "ouvre", "ouvrir", "ouverte"),     # "Qui a ouvert…?" / "Ouvrant la réunion…"
    ("tenue", "tient", "tiendra", "tenir", "tenant"),         # "s'est tenue" / "se tiendra"
    ("entretenus", "entretient", "entretenir"),
    ("pris", "prise", "prenant", "prend", "prennent", "prendre"),
    ("mis", "mettant", "met", "mettre"),
    ("dit", "disant", "dire"),
    ("reçu", "reçoit", "recevoir", "recevant"),
    ("conduit", "conduisant", "conduire"),
    ("venu", "vient", "venir"),
])
def test_the_forms_of_an_irregular_french_verb_share_one_stem(forms: tuple[str, ...]) -> None:
    assert len({tuple(tokenize(form, "fr")) for form in forms}) == 1


@pytest.mark.parametrize(("one", "other"), [
    ("écrit", "décrit"),          # a prefix makes another verb
    ("pris", "compris"),
    ("mis", "permis"),
    ("tenu", "obtenu"),
    ("ouvert", "couvert"),
])
def test_a_prefixed_verb_stays_another_verb(one: str, other: str) -> None:
    assert tokenize(one, "fr") != tokenize(other, "fr")


@pytest.mark.parametrize("word", ["amis", "prix", "souvent", "avenir", "crise", "critique", "adjoint", "dis",
                                  "Vienne", "compromis", "entretiens", "soutiens", "conjointe"])
def test_words_that_only_look_like_verb_forms_are_stemmed_as_before(word: str) -> None:
    import Stemmer

    from rag.text.normalize import strip_accents

    assert tokenize(word, "fr") == [strip_accents(Stemmer.Stemmer("french").stemWord(word.lower()))]


def test_english_words_are_not_read_as_french_verbs() -> None:
    assert tokenize("mis dit pris", "en") == ["mis", "dit", "pris"]  # Snowball's English stems, nothing folded


def test_tokenize_many_stems_verb_forms_as_tokenize_does() -> None:
    texts = ["Le général a ouvert la réunion.", "Ouvrant la réunion, l'amiral a pris la parole."]
    assert tokenize_many(texts, "fr") == [tokenize(t, "fr") for t in texts]
