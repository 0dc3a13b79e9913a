"""The French-English lexicon: reading dictd files, merging both directions by stem, and its use by retrieval
and sentence choice for a question asked in the other language."""

from __future__ import annotations

import gzip
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from rag.answer.extractive import AnswerParams, ExtractiveAnswerer, near_cognates
from rag.config import DEFAULT_LEXICON_DIR
from rag.index.store import StoredIndex
from rag.retrieve.hybrid import HybridRetriever
from rag.text.lexicon import Lexicon, build_lexicon, entry_translations, load_lexicon, read_dictd
from rag.text.stems import tokenize, tokenize_many
from tests.fakes import fake_index

_BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _number(value: int) -> str:
    digits = ""
    while True:
        digits = _BASE64[value % 64] + digits
        value //= 64
        if not value:
            return digits


def write_dictd(folder: Path, stem: str, entries: dict[str, str]) -> None:
    """A dictd dictionary as Debian ships it: the .index of base-64 offsets beside the gzip-compressed .dict.dz."""
    body, lines = b"", ["00databaseshort\tA\tB"]
    for headword, text in entries.items():
        data = text.encode("utf-8")
        lines.append(f"{headword}\t{_number(len(body))}\t{_number(len(data))}")
        body += data
    (folder / f"{stem}.dict.dz").write_bytes(gzip.compress(body))
    (folder / f"{stem}.index").write_text("\n".join(lines) + "\n", encoding="utf-8")


ENG_FRA = {
    "workshop": "workshop /wəːkʃɔp/\n1. atelier, studio\n",
    "welcome": "welcome /welkəm/\n1. accueillir (qn)\n2. bienvenue\n",
    "a lot of": "a lot of\nbeaucoup de\n",
    "define": "define\nune phrase bien trop longue pour être une traduction\n",
}
FRA_ENG = {"délégation": "délégation /delegasjɔ̃/\ndelegation\n"}


@pytest.fixture
def dictd(tmp_path: Path) -> Path:
    write_dictd(tmp_path, "freedict-eng-fra", ENG_FRA)
    write_dictd(tmp_path, "freedict-fra-eng", FRA_ENG)
    load_lexicon.cache_clear()
    return tmp_path


def _fr(word: str) -> str:
    return tokenize(word, "fr")[0]


def _en(word: str) -> str:
    return tokenize(word, "en")[0]


def test_a_dictd_file_reads_back_every_entry(dictd: Path) -> None:
    entries = read_dictd(dictd / "freedict-eng-fra.index", dictd / "freedict-eng-fra.dict.dz")
    assert entries == ENG_FRA


def test_an_entry_gives_its_translations_without_senses_brackets_or_definitions() -> None:
    assert entry_translations(ENG_FRA["workshop"]) == ["atelier", "studio"]
    assert entry_translations(ENG_FRA["welcome"]) == ["accueillir", "bienvenue"]
    assert entry_translations(ENG_FRA["define"]) == []


def test_words_find_their_translations_by_stem_in_both_directions(dictd: Path) -> None:
    lexicon = load_lexicon(dictd)
    assert _fr("ateliers") in lexicon.translate(_en("workshops"), "en", "fr")
    assert _fr("accueillis") in lexicon.translate(_en("welcomed"), "en", "fr")
    # From the French-English file, and back from the English-French one.
    assert _en("delegations") in lexicon.translate(_fr("délégations"), "fr", "en")
    assert _fr("délégations") in lexicon.translate(_en("delegation"), "en", "fr")
    assert _en("workshop") in lexicon.translate(_fr("atelier"), "fr", "en")


def test_multi_word_headwords_and_glue_words_translate_nothing(dictd: Path) -> None:
    lexicon = load_lexicon(dictd)
    assert not lexicon.translate(_en("lot"), "en", "fr")
    assert all(_fr("de") not in t for table in lexicon.stems.values() for t in table.values())


def test_without_the_dictionaries_the_lexicon_is_empty_and_says_which_package_to_install(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    load_lexicon.cache_clear()
    with caplog.at_level(logging.INFO, logger="rag.text.lexicon"):
        lexicon = load_lexicon(tmp_path)
    assert not lexicon and lexicon.words() == 0
    assert "dict-freedict-eng-fra" in caplog.text


@pytest.mark.parametrize(("name", "content"), [
    ("freedict-eng-fra.dict.dz", b"not gzip"),
    ("freedict-eng-fra.index", b"workshop\t!!\tB\n"),
    ("freedict-eng-fra.index", b"\xff\xfe not utf-8\n"),
])
def test_a_corrupt_dictionary_is_skipped_with_a_warning(dictd: Path, caplog: pytest.LogCaptureFixture,
                                                        name: str, content: bytes) -> None:
    (dictd / name).write_bytes(content)
    with caplog.at_level(logging.WARNING, logger="rag.text.lexicon"):
        lexicon = load_lexicon(dictd)
    assert "cannot read the dictionary" in caplog.text
    assert lexicon.translate(_fr("délégation"), "fr", "en")  # the other direction still loads


DICTD_DIR = Path(DEFAULT_LEXICON_DIR)


@pytest.mark.skipif(not (DICTD_DIR / "freedict-eng-fra.index").is_file(), reason="Debian's FreeDict not installed")
def test_the_installed_freedict_dictionaries_load() -> None:
    load_lexicon.cache_clear()
    lexicon = load_lexicon(DICTD_DIR)
    assert lexicon.words() > 10_000
    assert _fr("atelier") in lexicon.translate(_en("workshops"), "en", "fr")
    assert _fr("ville") in lexicon.translate(_en("city"), "en", "fr")


# --- use by retrieval and sentence choice ---------------------------------------------------------------

RELEASE = """Ateliers avec les partenaires

  • 9 Nov. 2022 -

Le 9 novembre 2022, des représentants de trente pays ont participé à des ateliers informels au siège. \
La délégation ukrainienne a présenté un exposé. Le directeur a clos la réunion.
"""
OTHER = """Réunion du Comité militaire

  • 15 Jan. 2025 -

Les chefs d’état-major se sont réunis à Bruxelles. Ils ont discuté de la défense aérienne.
"""


@pytest.fixture
def stored(tmp_path: Path) -> StoredIndex:
    return fake_index(tmp_path, {"ateliers.txt": RELEASE, "comite.txt": OTHER})


def _lexicon() -> Lexicon:
    return build_lexicon([("workshop", "en", "atelier", "fr"), ("delegation", "en", "délégation", "fr")])


def test_an_english_question_is_searched_with_its_words_french_translations(stored: StoredIndex) -> None:
    with_lexicon = HybridRetriever(stored, lexicon=_lexicon)
    query = with_lexicon.translated_query("Where were the workshops held?", "en")
    assert query is not None and _fr("ateliers") in query
    rows, _ = with_lexicon.lexical_ranking("Where were the workshops held?", "en", 5, query)
    assert rows and stored.chunks[rows[0]].doc_id.startswith("ateliers")
    without = HybridRetriever(stored)
    assert without.translated_query("Where were the workshops held?", "en") is None
    assert without.lexical_ranking("Where were the workshops held?", "en", 5)[0] == []


def test_a_french_question_over_french_releases_is_not_translated(stored: StoredIndex) -> None:
    assert HybridRetriever(stored, lexicon=_lexicon).translated_query("Où étaient les ateliers ?", "fr") is None


def test_a_sentence_holding_a_translation_of_the_question_words_scores_the_overlap(stored: StoredIndex) -> None:
    question = "What did the delegation present?"
    vector = np.zeros(stored.sentence_vectors.shape[1], dtype=np.float32)
    passages = HybridRetriever(stored).retrieve(question, vector, "en", "dense", 5)
    params = AnswerParams()
    with_lexicon = {e.sentence.text: e.feature("translated_overlap") for e in
                    ExtractiveAnswerer(stored, params, lexicon=_lexicon).candidates(question, vector, "en", passages)}
    without = {e.sentence.text: e.feature("translated_overlap") for e in
               ExtractiveAnswerer(stored, params).candidates(question, vector, "en", passages)}
    holding = next(text for text in with_lexicon if "délégation ukrainienne" in text)
    assert with_lexicon[holding] > 0 and without[holding] == 0
    assert all(score == 0 for text, score in with_lexicon.items() if "délégation" not in text)


def test_the_lexicon_is_cached_and_read_back_equal(dictd: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    built = load_lexicon(dictd, cache)
    [cached_file] = cache.glob("freedict-*.json")
    load_lexicon.cache_clear()
    assert load_lexicon(dictd, cache) == built
    # A changed dictionary is another cache entry, not a stale one.
    write_dictd(dictd, "freedict-fra-eng", {**FRA_ENG, "ville": "ville\ncity\n"})
    load_lexicon.cache_clear()
    assert _en("city") in load_lexicon(dictd, cache).translate(_fr("ville"), "fr", "en")
    assert len(list(cache.glob("freedict-*.json"))) == 2 and cached_file.exists()


def test_a_corrupt_cache_is_rebuilt_from_the_dictionaries(dictd: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    built = load_lexicon(dictd, cache)
    [cached_file] = cache.glob("freedict-*.json")
    cached_file.write_text("{not json", encoding="utf-8")
    load_lexicon.cache_clear()
    assert load_lexicon(dictd, cache) == built


def test_a_count_of_something_else_is_told_apart_from_the_count_asked(stored: StoredIndex) -> None:
    sentence = next(s for s in stored.sentences if "trente pays" in s.text)
    lexicon = lambda: build_lexicon([("country", "en", "pays", "fr")])  # noqa: E731
    answerer = ExtractiveAnswerer(stored, AnswerParams(), lexicon=lexicon)
    assert not answerer.counts_something_else("How many countries took part?", "en", sentence)
    assert not answerer.counts_something_else("Combien de pays ont participé ?", "fr", sentence)
    assert answerer.counts_something_else("How many workshops were held?", "en", sentence)
    assert answerer.counts_something_else("Combien de personnes ont participé ?", "fr", sentence)
    assert not answerer.counts_something_else("How many Allied partner countries took part?", "en", sentence)
    assert not answerer.counts_something_else("Where were the workshops held?", "en", sentence)
    # Without the lexicon, "countries" finds nothing in "trente pays".
    assert ExtractiveAnswerer(stored, AnswerParams()).counts_something_else("How many countries took part?", "en",
                                                                            sentence)


@pytest.mark.parametrize(("word", "other", "expected"), [
    ("partners", "partenaires", True), ("delegates", "délégués", True), ("workshops", "pays", False),
    ("people", "personnes", False), ("days", "dates", False),
])
def test_near_cognates_begin_alike_over_half_the_shorter_word(word: str, other: str, expected: bool) -> None:
    assert near_cognates(word, other) is expected


def test_across_languages_the_translated_words_are_the_keyword_evidence_of_a_release(stored: StoredIndex) -> None:
    question = "Which delegation ran the workshops?"
    vector = np.zeros(stored.sentence_vectors.shape[1], dtype=np.float32)
    passages = HybridRetriever(stored).retrieve(question, vector, "en", "dense", 5)

    def keywords_in_doc(lexicon: Callable[[], Lexicon] | None) -> dict[str, float]:
        answerer = ExtractiveAnswerer(stored, AnswerParams(), lexicon=lexicon)
        return {e.sentence.doc_id: e.feature("keywords_in_doc")
                for e in answerer.candidates(question, vector, "en", passages)}

    assert keywords_in_doc(_lexicon) == {"ateliers": 1.0, "comite": 0.0}
    # Without translations an English question says nothing about a French release's words.
    assert keywords_in_doc(None) == {"ateliers": 1.0, "comite": 1.0}


@pytest.mark.parametrize("lang", ["fr", "en", "xx"])
def test_tokenize_many_stems_each_text_as_tokenize_does(lang: str) -> None:
    texts = ["L’amiral d’OTAN a dit qu’il viendra.", "Les ateliers informels", "Workshops' partners-states", ""]
    assert tokenize_many(texts, lang) == [tokenize(t, lang) for t in texts]
