"""The default answerer: quote the sentence(s) that answer the question, cite them, or abstain."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from rag.answer.question import (
    asks_about_update,
    counted_phrases,
    counted_words,
    dated_by_dateline,
    expected_answer_type,
    holds_answer_type,
)
from rag.index.store import StoredIndex
from rag.schema import Answer, Citation, Document, ScoredChunk, Sentence, overlap
from rag.text.cleaning import is_update_stamp
from rag.text.dates import (
    MONTH_ALIASES,
    MONTH_ENTITY,
    NUMERIC_DATE,
    YEAR,
    date_parts,
    date_patterns,
    dates_among,
    month_word,
    readable_date,
)
from rag.text.lexicon import Lexicon
from rag.text.normalize import fold_case_and_accents
from rag.text.stems import tokenize
from rag.text.stopwords import QUESTION_STOPWORDS
from rag.wording import ANSWER_FRAMING

PARAMS_FILE = Path(__file__).with_name("params.json")

_ENTITY = re.compile(r"\b\d[\d\s.,]*\d\b|\b\d\b|(?<!^)(?<![.?!]\s)\b[A-ZÀ-Ý][\w’'-]*[A-Za-zÀ-ÿ]\b")
# What a question sets aside ("(et non celle de 2024)", "as opposed to the 2022 one") names nothing it asks about.
_EXCLUDED_PART = re.compile(
    r"\(\s*(?:et\s+|mais\s+)?(?:non|pas)\b(?!\s+(?:seulement|uniquement|membres?))[^)]*\)|"
    r",\s*(?:et|mais)\s+(?:non|pas)\s+(?!seulement|uniquement)[^,?;]*|"
    r"\(\s*(?:and\s+)?not\b(?!\s+(?:only|just|members?))[^)]*\)|,\s*(?:and\s+)?not\s+(?:the|that|in|at|during)\b[^,?;]*|"
    r",?\s*\b(?:as opposed to|rather than|instead of|plutôt qu[e'’]|au lieu de)[^,?;]*",
    re.IGNORECASE,
)
_QUESTION_OPENERS = {
    "qui", "que", "quel", "quelle", "quels", "quelles", "quand", "combien", "comment", "pourquoi", "où", "est",
    "who", "what", "when", "where", "which", "why", "how", "did", "does", "do", "was", "were", "is", "are",
    "and", "et", "in", "at", "on", "lors", "during", "selon", "according", "i",
}
# Acronyms that differ between English and French; a question in one language names what the text spells
# in the other.
_ACRONYM_ALIASES = {"nato": "otan", "otan": "nato", "eu": "ue", "ue": "eu", "un": "onu", "onu": "un"}
# Across languages, stems rarely match but cognates often share their first letters once accents are folded:
# "Supreme Allied Commander Transformation" / "commandant suprême ... transformation", "delegation" / "délégation".
_COGNATE_WORD = re.compile(r"[a-z]{5,}")
# A sentence that goes on with the previous one's subject ("Il a également rappelé…", "They expressed…").
_SAME_SUBJECT = re.compile(r"^(?:il|elle|ils|elles|he|she|they)\b", re.IGNORECASE)
_QUOTE_MARKS = (("«", "»"), ("“", "”"))
# A quote grows by at most this many sentences around the chosen one (see ExtractiveAnswerer.statement).
STATEMENT_EXTRA_SENTENCES = 2
_COGNATE_PREFIX = 5




# The stop words long enough to be taken for cognates, and a few more of the question's glue.
_LONG_FUNCTION_WORDS = {
    w for w in (fold_case_and_accents(x) for words in QUESTION_STOPWORDS.values() for x in words.split())
    if len(w) >= _COGNATE_PREFIX
} | {"could", "should", "other", "avant", "apres", "pendant", "entre"}


def near_cognates(word: str, other: str) -> bool:
    """Two long words that begin alike over half the shorter one: "partners" / "partenaires" (4 of 8 letters),
    which the five-letter cognate prefix misses."""
    a, b = fold_case_and_accents(word), fold_case_and_accents(other)
    if min(len(a), len(b)) < 6:
        return False
    shared = 0
    while shared < min(len(a), len(b)) and a[shared] == b[shared]:
        shared += 1
    return shared >= 4 and shared * 2 >= min(len(a), len(b))


def cognate_prefixes(text: str) -> set[str]:
    words = _COGNATE_WORD.findall(fold_case_and_accents(text))
    return {w[:_COGNATE_PREFIX] for w in words if w not in _LONG_FUNCTION_WORDS}




SENTENCE_FEATURES = (
    "cosine", "chunk_cosine", "first_stage", "overlap_same_lang", "cognate_overlap", "overlap_all",
    "type_match", "type_miss", "entity_in_sentence", "entity_in_doc", "lead_sentence", "title_line", "log_length",
    "keywords_in_doc", "release_date_match", "translated_overlap",
)
ABSTAIN_FEATURES = (
    "best_score", "margin", "best_cosine", "entity_in_doc", "entity_in_sentence", "type_miss", "overlap",
    "keywords_in_doc", "cross_lingual", "lexical_agreement", "entity_in_top_releases", "date_mismatch",
    "count_miss", "words_agree",
)
# How many of the first retrieved passages' releases count for "entity_in_top_releases": a question that
# compares two meetings names things that no single release holds.
TOP_RELEASE_PASSAGES = 3


def _default_sentence_weights() -> dict[str, float]:
    return {"cosine": 10.0, "overlap_same_lang": 1.5, "type_match": 0.4, "type_miss": -0.4, "first_stage": 0.3,
            "keywords_in_doc": 0.5, "release_date_match": 0.4, "cognate_overlap": 0.5, "translated_overlap": 1.0}


def _default_abstain_weights() -> dict[str, float]:
    return {"entity_in_doc": 4.0, "type_miss": -3.0}


@dataclass(frozen=True)
class AnswerParams:
    """Weights of sentence choice and of the abstention rule, read from params.json.

    Refit them with `python -m eval.fit_answerer` (cross-validated figures are printed and saved beside them).
    """

    sentence_weights: dict[str, float] = field(default_factory=_default_sentence_weights)
    abstain_bias: float = -1.0
    abstain_weights: dict[str, float] = field(default_factory=_default_abstain_weights)
    abstain_threshold: float = 0.5
    # Sentences scoring within this of the best one are quoted beside it (see ExtractiveAnswerer.choose_sentences).
    second_sentence_margin: float = 0.1
    # A sentence this close to the best one, holding the kind of answer asked for, wins the near-tie.
    type_tie_margin: float = 0.1
    candidate_passages: int = 10
    # The probability that an answer is right (a logistic model over the abstention features, fitted to
    # "the quoted sentence holds the answer"), and the confidence above which answers are called well supported.
    confidence_bias: float = 0.0
    confidence_weights: dict[str, float] = field(default_factory=dict)
    well_supported_threshold: float = 1.01  # never, until fitted

    @classmethod
    def load(cls, path: Path = PARAMS_FILE) -> AnswerParams:
        if not path.exists():
            return cls()
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    def sentence_vector(self) -> np.ndarray:
        return np.array([self.sentence_weights.get(n, 0.0) for n in SENTENCE_FEATURES], dtype=np.float64)


@dataclass(frozen=True)
class Evidence:
    """A candidate sentence with the features that scored it."""

    sentence: Sentence
    chunk_row: int
    features: np.ndarray  # in SENTENCE_FEATURES order
    score: float

    def feature(self, name: str) -> float:
        return float(self.features[SENTENCE_FEATURES.index(name)])


def _logistic(bias: float, weights: dict[str, float], features: dict[str, float]) -> float:
    z = bias + sum(weight * features.get(name, 0.0) for name, weight in weights.items())
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


@dataclass(frozen=True)
class _ReleaseMatch:
    """How a question matches one candidate release, computed once for all of its sentences."""

    keywords: set[str]  # content stems of the question
    specific: set[str]  # the keywords that are not words of the release's title and date
    entity_coverage: float
    same_lang: bool
    keywords_in_doc: float
    date_match: float
    # Across languages: the question's content stems that the lexicon translates, with their translations.
    translated: dict[str, frozenset[str]] = field(default_factory=dict)
    asked_stems: int = 0


def prefer_typed_near_tie(ranked: list[Evidence], margin: float) -> list[Evidence]:
    """When the best sentence lacks the asked-for kind of answer (no number for "how many"), a sentence
    within `margin` of it that holds one goes first: the embedding cannot tell them apart, the question can."""
    if not ranked or not ranked[0].feature("type_miss"):
        return ranked
    for position, evidence in enumerate(ranked):
        if ranked[0].score - evidence.score > margin:
            break
        if evidence.feature("type_match"):
            return [evidence, *ranked[:position], *ranked[position + 1:]]
    return ranked


def cited_first(passages: Sequence[ScoredChunk], citations: Sequence[Citation]) -> list[ScoredChunk]:
    """The passages holding quoted text first (a "when?" answer quotes its release's dateline, which may sit in
    a passage ranked lower), then the others; each group keeps its ranking. A twin's quote counts in either
    version."""
    spans = [s for c in citations for s in c.spans]
    return sorted(passages, key=lambda p: not any(overlap(s, p.chunk) for s in spans))  # stable


def abstention_features(ranked: Sequence[Evidence], cross_lingual: bool, lexical_agreement: bool,
                        entity_in_top_releases: float, names_dates: bool, count_miss: bool = False) -> dict[str, float]:
    """What the abstention rule weighs; `names_dates` says whether the question names a year or a month."""
    best = ranked[0]
    runner_up = next((e.score for e in ranked[1:] if e.sentence.doc_id != best.sentence.doc_id
                      or abs(e.sentence.sentence_id - best.sentence.sentence_id) > 1), best.score - 1.0)
    return {
        "best_score": best.score,
        "margin": best.score - runner_up,
        "best_cosine": best.feature("cosine"),
        "entity_in_doc": best.feature("entity_in_doc"),
        "entity_in_sentence": best.feature("entity_in_sentence"),
        "type_miss": best.feature("type_miss"),
        "overlap": best.feature("overlap_same_lang"),
        "keywords_in_doc": best.feature("keywords_in_doc"),
        "cross_lingual": float(cross_lingual),
        "lexical_agreement": float(lexical_agreement),
        "entity_in_top_releases": entity_in_top_releases,
        # The question names when, and the best sentence's release is dated at none of those times.
        "date_mismatch": float(names_dates and best.feature("release_date_match") == 0),
        # "How many X?" and no count in the best sentence is a count of X.
        "count_miss": float(count_miss),
        # The words alone (the question's words, or their translations, found in the sentence) point at the
        # best sentence too, a tie included: a second ranker that errs differently from the embedding. A tie at
        # zero counts as well: requiring a shared word lowered cross-validated answers on tune (0.837 -> 0.826
        # in each language) and, without the dictionaries, English answers (0.793 -> 0.739).
        "words_agree": float(_words_share(best) >= max(map(_words_share, ranked))),
    }


def _words_share(evidence: Evidence) -> float:
    return evidence.feature("overlap_same_lang") + evidence.feature("translated_overlap")


class ExtractiveAnswerer:
    """Scores the sentences of the candidate passages; all vectors were computed at index time."""

    def __init__(self, stored: StoredIndex, params: AnswerParams | None = None, max_sentences: int = 2,
                 lexicon: Callable[[], Lexicon] | None = None) -> None:
        """`lexicon` gives the French-English lexicon for questions in another language than a release."""
        self.stored = stored
        self.lexicon = lexicon
        self.params = params or AnswerParams.load()
        self.max_sentences = max_sentences
        self._weights = self.params.sentence_vector()
        self._chunk_row = {c.chunk_id: row for row, c in enumerate(stored.chunks)}
        self._sentence_rows_by_chunk = {
            chunk.chunk_id: rows for chunk, rows in zip(stored.chunks, stored.sentence_rows_by_chunk)
        }
        self._first_sentence: dict[str, int] = {}
        self._sentence_rows_by_doc: dict[str, list[int]] = {}
        self._sentence_row: dict[tuple[str, int], int] = {}
        self._position_in_doc: list[int] = []
        for row, sentence in enumerate(stored.sentences):
            self._first_sentence.setdefault(sentence.doc_id, row)
            in_doc = self._sentence_rows_by_doc.setdefault(sentence.doc_id, [])
            self._position_in_doc.append(len(in_doc))
            in_doc.append(row)
            self._sentence_row[sentence.doc_id, sentence.start] = row
        self._sentence_stems = [set(tokenize(s.text, stored.documents[s.doc_id].lang)) for s in stored.sentences]
        self._doc_stems = {doc_id: set(tokenize(doc.text, doc.lang)) for doc_id, doc in stored.documents.items()}
        self._folded_sentences = [fold_case_and_accents(s.text) for s in stored.sentences]
        self._sentence_prefixes = [cognate_prefixes(s.text) for s in stored.sentences]
        self._update_stamps = {row for row, s in enumerate(stored.sentences) if is_update_stamp(s.text)}
        # A release's dateline: its first sentence that gives a date ("Le 20 novembre 2024, la Division…"). What
        # a release reports happened then, so it tells "when?" for a sentence that gives no date of its own.
        self._dateline: dict[str, int] = {}
        for row, sentence in enumerate(stored.sentences):
            if (sentence.doc_id not in self._dateline and row not in self._update_stamps
                    and sentence.text != stored.documents[sentence.doc_id].title
                    and holds_answer_type(sentence.text, "date")):
                self._dateline[sentence.doc_id] = row
        self._folded_docs = {
            doc_id: fold_case_and_accents(f"{doc.title or ''}\n{readable_date(doc.date)}\n{doc.text}")
            for doc_id, doc in stored.documents.items()
        }
        self._stopwords = {lang: set(tokenize(words, lang)) for lang, words in QUESTION_STOPWORDS.items()}
        # Words of a release's title and date identify the release, not the answer inside it.
        self._context_stems = {
            doc_id: set(tokenize(f"{doc.title or ''} {readable_date(doc.date)}", doc.lang))
            | set(tokenize(readable_date(doc.date), "en"))
            for doc_id, doc in stored.documents.items()
        }

    def keywords(self, question: str, lang: str, doc_lang: str) -> set[str]:
        """Content stems of the question, stemmed both for its language and for the passage's."""
        stems = set(tokenize(question, lang)) | set(tokenize(question, doc_lang))
        stop = self._stopwords.get(lang, set()) | self._stopwords.get(doc_lang, set())
        return {s for s in stems if s not in stop and len(s) > 1}

    @staticmethod
    def entities(question: str) -> list[str]:
        """Names, acronyms and numbers of the question (capitalised words past its first word, digits)."""
        text = _EXCLUDED_PART.sub(lambda m: " " * len(m.group(0)), question.strip())
        found = [(m.start(), m.group(0)) for dates in (MONTH_ENTITY, NUMERIC_DATE) for m in dates.finditer(text)]
        # Blank the dates out (keeping offsets) so that their numbers are not counted a second time.
        masked = text
        for dates in (MONTH_ENTITY, NUMERIC_DATE):
            masked = dates.sub(lambda m: " " * len(m.group(0)), masked)
        for match in _ENTITY.finditer(masked):
            word = match.group(0).strip()
            if word.casefold() not in _QUESTION_OPENERS:
                found.append((match.start(), word))
        return [word for _, word in sorted(found)]

    @classmethod
    def names_dates(cls, question: str) -> bool:
        return bool(dates_among(cls.entities(question)))

    @staticmethod
    def release_date_match(names: Sequence[str], iso_date: str | None) -> float:
        """Share of the question's years and months that are the release's own date (0 when it names none):
        "the November 2024 meeting" points at the release dated November 2024."""
        when = [parts for parts in map(date_parts, names) if parts]
        if not when or not iso_date:
            return 0.0
        year, month = iso_date[:4], int(iso_date[5:7])
        matched = sum((m is None or m == month) and (y is None or y == year) for _, m, y in when)
        return matched / len(when)

    @staticmethod
    def _entity_patterns(names: Sequence[str]) -> list[list[re.Pattern[str]]]:
        patterns = []
        for name in names:
            folded = fold_case_and_accents(name)
            parts = None if YEAR.fullmatch(name) else date_parts(name)
            if parts:
                patterns.append(date_patterns(*parts, own=month_word(name)))
                continue
            variants = {folded, fold_case_and_accents(MONTH_ALIASES.get(folded, folded)),
                        _ACRONYM_ALIASES.get(folded, folded)}
            # Inflected forms: "Alliés" covers "Allied", "Ukraine's" covers "Ukraine".
            variants |= {v[:6] for v in variants if len(v) > 7}
            patterns.append([re.compile(rf"\b{re.escape(v)}") for v in variants if v])
        return patterns

    @staticmethod
    def _coverage(patterns: list[list[re.Pattern[str]]], haystack: str) -> float:
        if not patterns:
            return 1.0
        return sum(any(p.search(haystack) for p in group) for group in patterns) / len(patterns)

    def entity_coverage(self, question: str, doc_ids: Sequence[str]) -> float:
        """Share of the names and numbers of the question that appear in the given releases."""
        haystack = "\n".join(self._folded_docs[d] for d in dict.fromkeys(doc_ids))
        return self._coverage(self._entity_patterns(self.entities(question)), haystack)

    def candidates(self, question: str, query_vector: np.ndarray, lang: str,
                   passages: Sequence[ScoredChunk], asked: str | None = None) -> list[Evidence]:
        """Every sentence of the candidate passages with its features and score, best first.

        `question` is what was searched (a follow-up joined to its context); `asked` is the follow-up alone,
        which alone says what kind of answer is wanted.
        """
        kind = expected_answer_type(asked or question)
        # An update stamp shares its release's title and date, so its vector is close to every question on the
        # release; it may answer only a question about updates.
        skipped = set() if asks_about_update(asked or question) else self._update_stamps
        by_dateline = dated_by_dateline(asked or question)
        counted = self.counted(asked or question, lang) if kind == "number" else None
        rows: list[int] = []
        first_stage: dict[int, int] = {}
        home_chunk: dict[int, int] = {}
        for rank, passage in enumerate(passages[: self.params.candidate_passages], start=1):
            for row in self._sentence_rows_by_chunk.get(passage.chunk.chunk_id, []):
                if row not in first_stage and row not in skipped:
                    rows.append(row)
                    first_stage[row] = rank
                    home_chunk[row] = self._chunk_row[passage.chunk.chunk_id]
        if not rows:
            return []
        cosines = self.stored.sentence_vectors[rows] @ query_vector
        chunk_cosines = self.stored.chunk_vectors[[home_chunk[r] for r in rows]] @ query_vector
        names = self.entities(question)
        patterns = self._entity_patterns(names)
        question_prefixes = cognate_prefixes(question)
        releases: dict[str, _ReleaseMatch] = {}
        # The question's words and their translations, once for each language of the candidate releases.
        translations: dict[str, tuple[dict[str, frozenset[str]], int]] = {}
        matrix = np.zeros((len(rows), len(SENTENCE_FEATURES)), dtype=np.float64)
        for i, row in enumerate(rows):
            sentence = self.stored.sentences[row]
            doc = self.stored.documents[sentence.doc_id]
            if doc.doc_id not in releases:
                if doc.lang not in translations:
                    translations[doc.lang] = self._translated_question(question, lang, doc.lang)
                releases[doc.doc_id] = self._release_match(question, lang, doc, patterns, names,
                                                           translations[doc.lang])
            release = releases[doc.doc_id]
            stems = self._sentence_stems[row]
            specific_share = len(release.specific & stems) / len(release.specific) if release.specific else 0.0
            cognates = (len(question_prefixes & self._sentence_prefixes[row]) / len(question_prefixes)
                        if question_prefixes and not release.same_lang else 0.0)
            type_ok = holds_answer_type(sentence.text, kind) or (by_dateline and doc.doc_id in self._dateline)
            if type_ok and counted is not None:
                type_ok = not self._counts_other_than(counted, lang, sentence)
            features = {
                "cosine": cosines[i],
                "chunk_cosine": chunk_cosines[i],
                "first_stage": 1.0 / first_stage[row],
                "overlap_same_lang": specific_share if release.same_lang else 0.0,
                "cognate_overlap": cognates,
                "overlap_all": (len(release.keywords & stems) / len(release.keywords) if release.keywords else 0.0),
                "type_match": float(kind is not None and type_ok),
                "type_miss": float(kind is not None and not type_ok),
                "entity_in_sentence": self._coverage(patterns, self._folded_sentences[row]),
                "entity_in_doc": release.entity_coverage,
                "lead_sentence": float(self._first_sentence.get(sentence.doc_id) == row),
                "title_line": float(sentence.text == doc.title),
                "log_length": math.log1p(len(sentence.text)) / 6.0,
                "keywords_in_doc": release.keywords_in_doc,
                "release_date_match": release.date_match,
                "translated_overlap": (sum(bool(t & stems) for t in release.translated.values()) / release.asked_stems
                                       if release.asked_stems else 0.0),
            }
            matrix[i] = [features[name] for name in SENTENCE_FEATURES]
        scores = matrix @ self._weights
        ranked = [
            Evidence(self.stored.sentences[row], home_chunk[row], matrix[i], float(scores[i]))
            for i, row in enumerate(rows)
        ]
        ranked.sort(key=lambda e: -e.score)
        return prefer_typed_near_tie(ranked, self.params.type_tie_margin)

    def _translated_question(self, question: str, lang: str, doc_lang: str) -> tuple[dict[str, frozenset[str]], int]:
        """For a release in another language: the question's content stems the lexicon translates, with their
        translations, and how many content stems the question has; nothing for a release in its language."""
        if lang == doc_lang or self.lexicon is None:
            return {}, 0
        asked = {s for s in tokenize(question, lang) if s not in self._stopwords.get(lang, set()) and len(s) > 1}
        return self.lexicon().translations(asked, lang, doc_lang), len(asked)

    def _keywords_in_doc(self, keywords: set[str], same_lang: bool, translated: dict[str, frozenset[str]],
                         doc_id: str) -> float:
        """Share of the question's keywords the release holds; across languages, of the words the lexicon
        translates, the share whose translation it holds (1.0, no evidence either way, when there are none)."""
        doc_stems = self._doc_stems[doc_id]
        if keywords and same_lang:
            return len(keywords & doc_stems) / len(keywords)
        return sum(bool(t & doc_stems) for t in translated.values()) / len(translated) if translated else 1.0

    def _release_match(self, question: str, lang: str, doc: Document, patterns: list[list[re.Pattern[str]]],
                       names: Sequence[str], translation: tuple[dict[str, frozenset[str]], int]) -> _ReleaseMatch:
        keywords = self.keywords(question, lang, doc.lang)
        same_lang = lang == doc.lang
        translated, asked_stems = translation
        return _ReleaseMatch(
            keywords=keywords,
            specific=(keywords - self._context_stems[doc.doc_id]) or keywords,
            entity_coverage=self._coverage(patterns, self._folded_docs[doc.doc_id]),
            same_lang=same_lang,
            keywords_in_doc=self._keywords_in_doc(keywords, same_lang, translated, doc.doc_id),
            date_match=self.release_date_match(names, doc.date),
            translated=translated,
            asked_stems=asked_stems,
        )

    def abstention_signals(self, ranked: Sequence[Evidence], question: str, lang: str,
                           passages: Sequence[ScoredChunk]) -> dict[str, float]:
        """The abstention features of ranked candidates (eval/fit_answerer fits the rule on these same values)."""
        best_chunk = self.stored.chunks[ranked[0].chunk_row]
        best_passage = next(p for p in passages if p.chunk.chunk_id == best_chunk.chunk_id)
        return abstention_features(
            ranked, cross_lingual=lang != self.stored.documents[best_chunk.doc_id].lang,
            lexical_agreement=best_passage.lexical_rank is not None and best_passage.lexical_rank <= 3,
            entity_in_top_releases=self.entity_coverage(
                question, [p.chunk.doc_id for p in passages[:TOP_RELEASE_PASSAGES]]),
            names_dates=self.names_dates(question),
            count_miss=self.counts_something_else(question, lang, ranked[0].sentence),
        )

    def counted(self, question: str, lang: str) -> tuple[tuple[str, str], ...] | None:
        """What a "how many?" question counts, as (word, stem) pairs without glue words; None when it counts
        nothing. Computed once a question, for every sentence `counts_something_else` looks at."""
        words = counted_words(question, lang)
        if not words:
            return None
        stop = self._stopwords.get(lang, set())
        return tuple((word, stems[0]) for word in words for stems in [tokenize(word, lang)]
                     if stems and stems[0] not in stop)

    def counts_something_else(self, question: str, lang: str, sentence: Sentence) -> bool:
        """Whether the question counts something ("how many workshops?") that no count of the sentence names
        ("30 pays partenaires"): the words after each number are matched by stem, translation or cognate."""
        counted = self.counted(question, lang)
        return counted is not None and self._counts_other_than(counted, lang, sentence)

    def _counts_other_than(self, wanted: tuple[tuple[str, str], ...], lang: str, sentence: Sentence) -> bool:
        doc_lang = self.stored.documents[sentence.doc_id].lang
        lexicon = self.lexicon() if self.lexicon is not None and doc_lang != lang else None
        forms = [(word, stem, lexicon.translate(stem, lang, doc_lang) if lexicon else frozenset(),
                  cognate_prefixes(word)) for word, stem in wanted]
        for phrase in counted_phrases(sentence.text):
            stems, prefixes = set(tokenize(phrase, doc_lang)), cognate_prefixes(phrase)
            for word, stem, translations, word_prefixes in forms:
                if (stem in stems or translations & stems or word_prefixes & prefixes
                        or any(near_cognates(word, other) for other in phrase.split())):
                    return False
        return True

    def answerable_probability(self, features: dict[str, float]) -> float:
        p = self.params
        return _logistic(p.abstain_bias, p.abstain_weights, features)

    def confidence(self, features: dict[str, float]) -> float:
        """Probability that the best sentence answers the question (what the reader is told)."""
        p = self.params
        return _logistic(p.confidence_bias, p.confidence_weights, features)

    def rerank(self, ranked: Sequence[Evidence], passages: Sequence[ScoredChunk], top_k: int,
               lang: str | None = None) -> list[ScoredChunk]:
        """Passages ordered by their best sentence: the passage that holds the answer comes first. Given the
        question's language, a release and its twin are not both shown (see one_version_per_release)."""
        best: dict[str, float] = {}
        for evidence in ranked:
            chunk_id = self.stored.chunks[evidence.chunk_row].chunk_id
            best.setdefault(chunk_id, evidence.score)
        order = sorted(range(len(passages)), key=lambda i: (-best.get(passages[i].chunk.chunk_id, -math.inf), i))
        ordered = [passages[i] for i in order]
        return (self.one_version_per_release(ordered, lang) if lang else ordered)[:top_k]

    def one_version_per_release(self, passages: Sequence[ScoredChunk], lang: str) -> list[ScoredChunk]:
        """When a release and its twin both have passages in the list, only one version stays: the one in the
        question's language, else the one ranked first. The same fact is not shown once per language."""
        twins = self.stored.twins
        present = list(dict.fromkeys(p.chunk.doc_id for p in passages))
        dropped: set[str] = set()
        for doc_id in present:
            twin = twins.get(doc_id)
            if twin not in present or doc_id in dropped or twin in dropped:
                continue
            reader_reads_twin = (self.stored.documents[twin].lang == lang
                                 and self.stored.documents[doc_id].lang != lang)
            dropped.add(doc_id if reader_reads_twin else twin)
        return [p for p in passages if p.chunk.doc_id not in dropped]

    def answer(self, question: str, query_vector: np.ndarray, lang: str,
               passages: Sequence[ScoredChunk], top_k: int | None = None, asked: str | None = None) -> Answer:
        lang = lang if lang in ANSWER_FRAMING else "en"
        top_k = top_k or len(passages)
        ranked = self.candidates(question, query_vector, lang, passages, asked) if passages else []
        if not ranked:
            return self._abstain(question, lang, passages[:top_k], "no passage was retrieved")
        # The candidate passages by best sentence, once: an abstention shows the first top_k, an answer its quoted
        # passages first (rerank cuts to top_k after its twin filter, so cutting this list gives the same).
        ordered = self.rerank(ranked, passages, len(passages), lang)
        features = self.abstention_signals(ranked, question, lang, passages)
        probability = self.answerable_probability(features)
        if probability < self.params.abstain_threshold:
            reasons = []
            if features["entity_in_doc"] < 1:
                reasons.append("names or numbers of the question are missing from the best release")
            if features["type_miss"]:
                reasons.append(f"no {expected_answer_type(asked or question)} in the best sentence")
            reason = "; ".join(reasons) or "the best sentence is weak evidence"
            return self._abstain(question, lang, ordered[:top_k], f"{reason} (confidence {probability:.2f})")
        chosen = self.choose_sentences(ranked)
        citations = self.citations([e.sentence for e in chosen], asked or question, lang)
        shown = cited_first(ordered, citations)[:top_k]
        body = " ".join(f"{c.quote} [{c.marker}]" for c in citations)
        confidence = self.confidence(features)
        well_supported = confidence >= self.params.well_supported_threshold
        alternative = None if well_supported else self._runner_up(ranked, citations, len(citations) + 1, lang)
        return Answer(
            question=question, answer=f"{ANSWER_FRAMING[lang][0]} {body}", mode="extractive", lang=lang,
            citations=citations, passages=tuple(shown), confidence=confidence, well_supported=well_supported,
            alternative=alternative,
        )

    def _runner_up(self, ranked: Sequence[Evidence], quoted: Sequence[Citation], marker: int,
                   lang: str) -> Citation | None:
        """The best sentence outside the quoted statements (and not a copy of one, nor a release's title, which
        states nothing): what to compare against a doubtful answer, quoted in the reader's language like the
        answer (a twin's sentence, the original beside it)."""
        spans = [s for c in quoted for s in c.spans]
        texts = {fold_case_and_accents(s.quote) for s in spans}

        def inside_a_quote(sentence: Sentence) -> bool:
            return any(overlap(s, sentence) for s in spans)

        def is_title(sentence: Sentence) -> bool:
            return sentence.text == self.stored.documents[sentence.doc_id].title

        def whole(sentence: Sentence) -> Sentence:
            """Its statement, unless that reaches into a quote of the answer."""
            statement = self.statement(sentence)
            return sentence if inside_a_quote(statement) else statement

        for evidence in ranked:
            if (inside_a_quote(evidence.sentence) or fold_case_and_accents(evidence.sentence.text) in texts
                    or is_title(evidence.sentence)):
                continue
            sentence, twin = self.in_reader_language(evidence.sentence, lang)
            if inside_a_quote(sentence) or is_title(sentence):  # the twin's aligned sentence may be its title
                continue
            return self._cite_pair(marker, whole(sentence), whole(twin) if twin is not None else None)
        return None

    def choose_sentences(self, ranked: Sequence[Evidence]) -> list[Evidence]:
        """The best sentence, and the sentences that score within `second_sentence_margin` of it (up to
        `max_sentences` in all): when the scores cannot separate them, the reader sees both, each cited.
        Sentences of one release keep their order in it."""
        best = ranked[0]
        chosen = [best]
        seen = {fold_case_and_accents(best.sentence.text)}
        for other in ranked[1:]:
            if len(chosen) >= self.max_sentences or best.score - other.score > self.params.second_sentence_margin:
                break
            # Releases on the same meeting repeat sentences word for word: one quote of it is enough.
            if fold_case_and_accents(other.sentence.text) not in seen:
                chosen.append(other)
                seen.add(fold_case_and_accents(other.sentence.text))
        first_doc = {e.sentence.doc_id: i for i, e in reversed(list(enumerate(chosen)))}
        return sorted(chosen, key=lambda e: (first_doc[e.sentence.doc_id], e.sentence.start))

    def aligned_sentence(self, sentence: Sentence, doc_id: str) -> Sentence | None:
        """The sentence of release `doc_id` closest to `sentence`: its translation, when `doc_id` is its twin."""
        rows = self._sentence_rows_by_doc.get(doc_id)
        if not rows:
            return None
        vectors = self.stored.sentence_vectors
        cosines = vectors[rows] @ vectors[self._sentence_row[sentence.doc_id, sentence.start]]
        return self.stored.sentences[rows[int(np.argmax(cosines))]]

    def citations(self, sentences: list[Sentence], question: str, lang: str) -> tuple[Citation, ...]:
        """What an answer to `question` quotes and cites for the chosen sentences: the quotation (a dateline for
        "when?"), each sentence a whole statement, in the reader's language when the release has a twin.
        eval.fit_answerer labels a sentence right or wrong by these same quotes."""
        return self.cite_in_reader_language(self.quotation(sentences, question), lang)

    def quotation(self, sentences: list[Sentence], question: str) -> list[Sentence]:
        """The sentences an answer to `question` quotes for the chosen ones. For "when?", when none gives a date,
        the dateline of the first one's release is quoted before it (the events a release reports are those of
        its dateline). Each is then quoted as a whole statement (see `statement`)."""
        if not dated_by_dateline(question) or any(holds_answer_type(s.text, "date") for s in sentences):
            return sentences
        row = self._dateline.get(sentences[0].doc_id)
        if row is None or any(s.start == self.stored.sentences[row].start and s.doc_id == sentences[0].doc_id
                              for s in sentences):
            return sentences
        return [self.stored.sentences[row], *sentences]

    def statement(self, sentence: Sentence) -> Sentence:
        """The sentence as a reader can take it alone: with the sentence before it when it opens on a pronoun
        ("Il a remercié…" says nothing of who thanked), with the rest of a quotation it opens or closes, and with
        the next sentence when that one goes on with the same subject. A span of the release, verbatim."""
        rows = self._sentence_rows_by_doc[sentence.doc_id]
        at = self._position_in_doc[self._sentence_row[sentence.doc_id, sentence.start]]
        first = last = at
        sentences = self.stored.sentences

        def open_quotes(start: int, end: int) -> int:
            text = " ".join(sentences[rows[i]].text for i in range(start, end + 1))
            return sum(text.count(opening) - text.count(closing) for opening, closing in _QUOTE_MARKS)

        budget = STATEMENT_EXTRA_SENTENCES
        if first > 0 and _SAME_SUBJECT.match(sentences[rows[first]].text) and budget:
            first, budget = first - 1, budget - 1
        while budget and open_quotes(first, last) < 0 and first > 0:
            first, budget = first - 1, budget - 1
        while budget and open_quotes(first, last) > 0 and last + 1 < len(rows):
            last, budget = last + 1, budget - 1
        if budget and last + 1 < len(rows) and _SAME_SUBJECT.match(sentences[rows[last + 1]].text):
            last += 1
        if first == last == at:
            return sentence
        start, end = sentences[rows[first]].start, sentences[rows[last]].end
        text = self.stored.documents[sentence.doc_id].text[start:end]
        return replace(sentence, text=text, start=start, end=end)

    def cite_in_reader_language(self, sentences: Sequence[Sentence], lang: str) -> tuple[Citation, ...]:
        """Citations of the chosen sentences. A sentence whose release has a twin is quoted from the version in
        the question's language (the twin's aligned sentence, when the release is in another language), with
        the other version's sentence cited beside it as `original`; both are verbatim spans of their release."""
        pairs: list[tuple[Sentence, Sentence | None]] = []
        for sentence in sentences:
            sentence, twin = self.in_reader_language(sentence, lang)
            sentence = self.statement(sentence)
            twin = self.statement(twin) if twin is not None else None
            # Two chosen sentences of one statement are quoted once.
            if not any(overlap(s, sentence) for s, _ in pairs):
                pairs.append((sentence, twin))
        return tuple(self._cite_pair(marker, quoted, other) for marker, (quoted, other) in enumerate(pairs, start=1))

    def in_reader_language(self, sentence: Sentence, lang: str) -> tuple[Sentence, Sentence | None]:
        """The sentence to quote for a reader of `lang` and the one to cite beside it: a release in another
        language than the reader's that has a twin in the reader's is quoted from the twin."""
        twin_id = self.stored.twins.get(sentence.doc_id)
        twin = self.aligned_sentence(sentence, twin_id) if twin_id else None
        if (twin is not None and self.stored.documents[sentence.doc_id].lang != lang
                and self.stored.documents[twin.doc_id].lang == lang):
            return twin, sentence
        return sentence, twin

    def _cite_pair(self, marker: int, quoted: Sentence, beside: Sentence | None) -> Citation:
        return replace(self._cite(marker, quoted), original=self._cite(marker, beside) if beside else None)

    def _cite(self, marker: int, sentence: Sentence) -> Citation:
        doc = self.stored.documents[sentence.doc_id]
        quote = doc.text[sentence.start:sentence.end]
        # The promise of the product: every quote is a verbatim span of its release.
        if quote != sentence.text:
            raise AssertionError(f"quote of {sentence.doc_id} at {sentence.start} is not verbatim")
        return Citation(marker, doc.doc_id, doc.title, doc.date, quote, sentence.start, sentence.end, sentence.chunk_id,
                        lang=doc.lang)

    def _abstain(self, question: str, lang: str, passages: Sequence[ScoredChunk], reason: str) -> Answer:
        return Answer(
            question=question, answer=ANSWER_FRAMING[lang][1], mode="abstain", lang=lang,
            passages=tuple(passages), abstain_reason=reason,
        )
