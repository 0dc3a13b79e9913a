"""The default answerer: quote the sentence(s) that answer the question, cite them, or abstain."""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .answer_types import expected_answer_type, holds_answer_type
from .index_store import StoredIndex
from .cleaning import readable_date
from .lexical import tokenize
from .schema import Answer, Citation, ScoredChunk, Sentence

PARAMS_FILE = Path(__file__).with_name("answer_params.json")

_STOPWORDS_RAW = {
    "fr": "a à au aux avec ce ces cet cette dans de des du elle elles en est et été être il ils la le les leur "
          "leurs lors lui mais même ne ni nos notre on ont ou où par pas pour qu que quel quelle quelles quels qui "
          "sa se ses son sont sur ta te tes ton tu un une vos votre vous y combien comment quand pourquoi était "
          "étaient avait avaient fait faite faits quoi lequel laquelle lesquels dont selon ainsi aussi cela ça "
          "celui celle ceux est-ce",
    "en": "a an and are as at be been by did do does for from had has have he her his how in into is it its "
          "of on or she that the their them they this those to was were what when where which who whom whose why "
          "with would will many much there these than then also any did about after before during said say",
}
_ENTITY = re.compile(r"\b\d[\d\s.,]*\d\b|\b\d\b|(?<!^)(?<![.?!]\s)\b[A-ZÀ-Ý][\w’'-]*[A-Za-zÀ-ÿ]\b")
_QUESTION_OPENERS = {
    "qui", "que", "quel", "quelle", "quels", "quelles", "quand", "combien", "comment", "pourquoi", "où", "est",
    "who", "what", "when", "where", "which", "why", "how", "did", "does", "do", "was", "were", "is", "are",
    "and", "et", "in", "at", "on", "lors", "during", "selon", "according", "i",
}
_MONTH_ALIASES = {
    "january": "janvier", "february": "février", "march": "mars", "april": "avril", "may": "mai", "june": "juin",
    "july": "juillet", "august": "août", "september": "septembre", "october": "octobre", "november": "novembre",
    "december": "décembre",
}
# Acronyms that differ between English and French; a question in one language names what the text spells
# in the other.
_ACRONYM_ALIASES = {"nato": "otan", "otan": "nato", "eu": "ue", "ue": "eu", "un": "onu", "onu": "un"}

FRAMING = {
    "fr": ("Selon les communiqués :", "Les communiqués indexés ne répondent pas à cette question. "
           "Passages les plus proches (liés, mais ce n'est pas une réponse) :"),
    "en": ("According to the releases (quoted in their original language):", "The indexed releases do not answer "
           "this question. Closest passages (related, not an answer):"),
}


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.replace("’", "'").casefold())
    return "".join(ch for ch in text if not unicodedata.combining(ch))


@dataclass(frozen=True)
class AnswerParams:
    """Weights of sentence choice and of the abstention rule; refit with `python -m eval.fit_abstention`."""

    w_keyword_overlap: float = 0.15
    w_type_match: float = 0.04
    w_chunk_rank: float = 0.03
    second_sentence_margin: float = 0.015
    abstain_bias: float = 0.0
    abstain_weights: dict[str, float] = field(default_factory=lambda: {
        "best_cosine": 0.0, "keyword_overlap": 0.0, "entity_coverage": 4.0, "type_match": 3.0,
        "margin": 0.0, "lexical_agreement": 0.0,
    })
    abstain_threshold: float = 0.5
    abstain_offset: float = -5.0

    @classmethod
    def load(cls, path: Path = PARAMS_FILE) -> AnswerParams:
        if not path.exists():
            return cls()
        data = json.loads(path.read_text(encoding="utf-8"))
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass(frozen=True)
class Evidence:
    """Why a sentence was chosen: the features the abstention rule reads."""

    sentence: Sentence
    score: float
    cosine: float
    keyword_overlap: float
    type_match: bool
    chunk_rank: int


@dataclass(frozen=True)
class AbstentionFeatures:
    best_cosine: float
    keyword_overlap: float
    entity_coverage: float
    type_match: float
    margin: float
    lexical_agreement: float

    def as_dict(self) -> dict[str, float]:
        return dict(self.__dict__)


class ExtractiveAnswerer:
    """Scores the sentences of the retrieved passages against the question; vectors were computed at index time."""

    def __init__(self, stored: StoredIndex, params: AnswerParams | None = None, max_sentences: int = 2) -> None:
        self.stored = stored
        self.params = params or AnswerParams.load()
        self.max_sentences = max_sentences
        self._sentence_rows_by_chunk: dict[str, list[int]] = {}
        by_doc: dict[str, list[int]] = {}
        for row, sentence in enumerate(stored.sentences):
            by_doc.setdefault(sentence.doc_id, []).append(row)
        for chunk in stored.chunks:
            self._sentence_rows_by_chunk[chunk.chunk_id] = [
                r for r in by_doc.get(chunk.doc_id, [])
                if stored.sentences[r].start < chunk.end and chunk.start < stored.sentences[r].end
            ]
        self._sentence_stems = [
            set(tokenize(s.text, stored.documents[s.doc_id].lang)) for s in stored.sentences
        ]
        self._folded_docs = {
            doc_id: _fold(f"{doc.title or ''}\n{doc.text}") for doc_id, doc in stored.documents.items()
        }
        self._stopwords = {lang: set(tokenize(words, lang)) for lang, words in _STOPWORDS_RAW.items()}
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
        found = []
        for match in _ENTITY.finditer(question.strip()):
            word = match.group(0).strip()
            if word.casefold() in _QUESTION_OPENERS:
                continue
            found.append(word)
        return found

    def entity_coverage(self, question: str, doc_ids: Sequence[str]) -> float:
        """Share of the names and numbers of the question that appear in the cited releases."""
        names = self.entities(question)
        if not names:
            return 1.0
        haystack = "\n".join(self._folded_docs[d] for d in dict.fromkeys(doc_ids))
        covered = 0
        for name in names:
            folded = _fold(name)
            variants = {folded, _fold(_MONTH_ALIASES.get(folded, folded)), _ACRONYM_ALIASES.get(folded, folded)}
            # Plural and possessive forms: "Alliés" covers "Allied", "Ukraine's" covers "Ukraine".
            variants |= {v[:6] for v in variants if len(v) > 7}
            if any(v and re.search(rf"\b{re.escape(v)}", haystack) for v in variants):
                covered += 1
        return covered / len(names)

    def rank_sentences(self, question: str, query_vector: np.ndarray, lang: str,
                       passages: Sequence[ScoredChunk]) -> list[Evidence]:
        kind = expected_answer_type(question)
        rows: list[int] = []
        chunk_rank: dict[int, int] = {}
        for rank, passage in enumerate(passages, start=1):
            for row in self._sentence_rows_by_chunk.get(passage.chunk.chunk_id, []):
                if row not in chunk_rank:
                    rows.append(row)
                    chunk_rank[row] = rank
        if not rows:
            return []
        cosines = self.stored.sentence_vectors[rows] @ query_vector
        keywords_by_doc: dict[str, set[str]] = {}
        ranked = []
        for row, cosine in zip(rows, cosines):
            sentence = self.stored.sentences[row]
            if sentence.doc_id not in keywords_by_doc:
                all_keywords = self.keywords(question, lang, self.stored.documents[sentence.doc_id].lang)
                specific = all_keywords - self._context_stems[sentence.doc_id]
                keywords_by_doc[sentence.doc_id] = specific or all_keywords
            keywords = keywords_by_doc[sentence.doc_id]
            overlap = len(keywords & self._sentence_stems[row]) / len(keywords) if keywords else 0.0
            type_ok = holds_answer_type(sentence.text, kind)
            score = (float(cosine) + self.params.w_keyword_overlap * overlap
                     + self.params.w_type_match * type_ok + self.params.w_chunk_rank / chunk_rank[row])
            ranked.append(Evidence(sentence, score, float(cosine), overlap, type_ok, chunk_rank[row]))
        ranked.sort(key=lambda e: -e.score)
        return ranked

    def features(self, question: str, ranked: Sequence[Evidence], passages: Sequence[ScoredChunk]) -> AbstentionFeatures:
        best = ranked[0]
        second = ranked[1].score if len(ranked) > 1 else best.score - 0.1
        top_passage = next((p for p in passages if p.chunk.chunk_id == best.sentence.chunk_id), passages[0])
        kind = expected_answer_type(question)
        return AbstentionFeatures(
            best_cosine=best.cosine,
            keyword_overlap=best.keyword_overlap,
            entity_coverage=self.entity_coverage(question, [best.sentence.doc_id]),
            type_match=float(best.type_match) if kind else 1.0,
            margin=best.score - second,
            lexical_agreement=1.0 if top_passage.lexical_rank is not None and top_passage.lexical_rank <= 3 else 0.0,
        )

    def answerable_probability(self, features: AbstentionFeatures) -> float:
        p = self.params
        z = p.abstain_bias + p.abstain_offset + sum(
            weight * features.as_dict()[name] for name, weight in p.abstain_weights.items()
        )
        return 1.0 / (1.0 + math.exp(-z))

    def answer(self, question: str, query_vector: np.ndarray, lang: str,
               passages: Sequence[ScoredChunk]) -> Answer:
        lang = lang if lang in FRAMING else "en"
        ranked = self.rank_sentences(question, query_vector, lang, passages) if passages else []
        if not ranked:
            return self._abstain(question, lang, passages, "no passage was retrieved")
        features = self.features(question, ranked, passages)
        probability = self.answerable_probability(features)
        if probability < self.params.abstain_threshold:
            reasons = []
            if features.entity_coverage < 1:
                reasons.append("names or numbers of the question are missing from the best release")
            if features.type_match < 1:
                reasons.append(f"no {expected_answer_type(question)} in the best sentences")
            reason = "; ".join(reasons) or f"weak evidence (confidence {probability:.2f})"
            return self._abstain(question, lang, passages, reason)
        chosen = [ranked[0]]
        for other in ranked[1:]:
            if len(chosen) >= self.max_sentences:
                break
            same_doc_adjacent = (other.sentence.doc_id == chosen[0].sentence.doc_id
                                 and abs(other.sentence.sentence_id - chosen[0].sentence.sentence_id) == 1)
            close = chosen[0].score - other.score <= self.params.second_sentence_margin
            if same_doc_adjacent and (close or (not chosen[0].type_match and other.type_match)):
                chosen.append(other)
        chosen.sort(key=lambda e: (e.sentence.doc_id, e.sentence.start))
        citations = tuple(self._cite(marker, e.sentence) for marker, e in enumerate(chosen, start=1))
        body = " ".join(f"{c.quote} [{c.marker}]" for c in citations)
        return Answer(
            question=question, answer=f"{FRAMING[lang][0]} {body}", mode="extractive", lang=lang,
            citations=citations, passages=tuple(passages),
        )

    def _cite(self, marker: int, sentence: Sentence) -> Citation:
        doc = self.stored.documents[sentence.doc_id]
        quote = doc.text[sentence.start:sentence.end]
        # The promise of the product: every quote is a verbatim span of its release.
        if quote != sentence.text:
            raise AssertionError(f"quote of {sentence.doc_id} at {sentence.start} is not verbatim")
        return Citation(marker, doc.doc_id, doc.title, doc.date, quote, sentence.start, sentence.end, sentence.chunk_id)

    def _abstain(self, question: str, lang: str, passages: Sequence[ScoredChunk], reason: str) -> Answer:
        return Answer(
            question=question, answer=FRAMING[lang][1], mode="abstain", lang=lang,
            passages=tuple(passages), abstain_reason=reason,
        )
