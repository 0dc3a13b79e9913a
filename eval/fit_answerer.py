"""Fit the extractive answerer's sentence weights and abstention rule on a Q&A file, with cross-validation.

python -m eval.fit_answerer [--qa eval/qa.jsonl] [--write]

Prints cross-validated figures (folds split by question, so no question is scored by a model that saw it)
and, with --write, saves the weights fitted on every question to rag/answer/params.json with those figures.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

from rag.answer.extractive import (
    ABSTAIN_FEATURES,
    PARAMS_FILE,
    SENTENCE_FEATURES,
    AnswerParams,
    Evidence,
    prefer_typed_near_tie,
)
from rag.assistant import open_assistant
from rag.config import load_config

from .items import QAItem, load_items
from .validate import contains_answer

MAX_FALSE_ABSTAIN = 0.05


def collect(assistant, items: list[QAItem], mode: str):  # type: ignore[no-untyped-def]
    """Per question: candidate features, sentence labels, and what the abstention features need."""
    rows = []
    for item in items:
        query = assistant._prepare(item.question, (), mode, None)
        answerer, search_text, lang, candidates = query.state.answerer, query.searched, query.lang, query.candidates
        evidences = answerer.candidates(search_text, query.vector, lang, candidates)
        labels = np.array([
            item.answerable and e.sentence.doc_id in item.gold_docs
            and any(contains_answer(e.sentence.text, a) for a in item.answers)
            for e in evidences
        ], dtype=bool)
        rows.append((item, evidences, labels, answerer, search_text, lang, candidates))
    return rows


def rescore(evidences: list[Evidence], weights: np.ndarray, type_tie_margin: float) -> list[tuple[int, Evidence]]:
    """The question's sentences ranked as the answerer ranks them, each with its index in `evidences`."""
    scored = sorted(((i, replace(e, score=float(e.features @ weights))) for i, e in enumerate(evidences)),
                    key=lambda t: -t[1].score)
    position = {id(e): i for i, e in scored}
    return [(position[id(e)], e) for e in prefer_typed_near_tie([e for _, e in scored], type_tie_margin)]


def abstain_row(row, weights: np.ndarray, type_tie_margin: float) -> tuple[np.ndarray, bool]:  # type: ignore[no-untyped-def]
    item, evidences, labels, answerer, search_text, lang, candidates = row
    ranked = rescore(evidences, weights, type_tie_margin)
    features = answerer.abstention_signals([e for _, e in ranked], search_text, lang, candidates)
    return np.array([features[n] for n in ABSTAIN_FEATURES]), bool(labels[ranked[0][0]])


def fit_sentence_weights(rows) -> np.ndarray:  # type: ignore[no-untyped-def]
    # Features are centred within each question: a linear score ranks a question's sentences the same
    # way with or without a per-question offset, and the fit then learns only what separates them.
    useful = [r for r in rows if r[0].answerable and r[2].any()]
    x = np.vstack([np.array([e.features for e in r[1]]) - np.mean([e.features for e in r[1]], axis=0) for r in useful])
    y = np.concatenate([r[2] for r in useful])
    model = LogisticRegression(C=1.0, class_weight="balanced", max_iter=5000)
    model.fit(x, y)
    return model.coef_[0]


def fit_abstention(rows, weights: np.ndarray,  # type: ignore[no-untyped-def]
                   type_tie_margin: float) -> tuple[float, np.ndarray, float]:
    x = np.vstack([abstain_row(r, weights, type_tie_margin)[0] for r in rows])
    y = np.array([r[0].answerable for r in rows])
    model = LogisticRegression(C=1.0, class_weight="balanced", max_iter=5000)
    model.fit(x, y)
    probabilities = model.predict_proba(x)[:, 1]
    # The highest threshold that still answers all but MAX_FALSE_ABSTAIN of the answerable questions.
    answerable_p = np.sort(probabilities[y])
    allowed = int(np.floor(MAX_FALSE_ABSTAIN * len(answerable_p)))
    threshold = float(answerable_p[allowed]) - 1e-9 if len(answerable_p) else 0.5
    return float(model.intercept_[0]), model.coef_[0], threshold


def probability(bias: float, coef: np.ndarray, x: np.ndarray) -> float:
    return float(1 / (1 + np.exp(-(bias + x @ coef))))


def cross_validate(rows, type_tie_margin: float, folds: int = 5,  # type: ignore[no-untyped-def]
                   fixed_weights: np.ndarray | None = None):
    groups = [r[0].id for r in rows]
    results = []
    for train, test in GroupKFold(n_splits=folds).split(rows, groups=groups):
        train_rows = [rows[i] for i in train]
        weights = fixed_weights if fixed_weights is not None else fit_sentence_weights(train_rows)
        bias, coef, threshold = fit_abstention(train_rows, weights, type_tie_margin)
        for i in test:
            x, correct = abstain_row(rows[i], weights, type_tie_margin)
            abstained = probability(bias, coef, x) < threshold
            results.append((rows[i][0], correct, abstained))
    summary = {}
    for lang in ("fr", "en", "overall"):
        chosen = [r for r in results if lang == "overall" or r[0].lang == lang]
        answerable = [r for r in chosen if r[0].answerable]
        unanswerable = [r for r in chosen if not r[0].answerable]
        summary[lang] = {
            "best_sentence_holds_answer": round(float(np.mean([c for _, c, _ in answerable])), 3),
            "answered_correctly": round(float(np.mean([c and not a for _, c, a in answerable])), 3),
            "false_abstain": round(float(np.mean([a for _, _, a in answerable])), 3),
            "abstain_unanswerable": round(float(np.mean([a for _, _, a in unanswerable])), 3) if unanswerable else None,
        }
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--qa", type=Path, default=Path("eval/qa.jsonl"))
    parser.add_argument("--mode", default="hybrid")
    parser.add_argument("--write", action="store_true", help=f"save the fitted parameters to {PARAMS_FILE}")
    parser.add_argument("--fit-sentences", action="store_true",
                        help="also fit the sentence weights (default: keep the hand-set ones, which did as well)")
    args = parser.parse_args(argv)
    config = load_config()
    assistant = open_assistant(config, build=True)
    items = load_items(args.qa)
    rows = collect(assistant, items, args.mode)
    current = AnswerParams.load()
    fixed = None if args.fit_sentences else current.sentence_vector()
    cv = cross_validate(rows, current.type_tie_margin, fixed_weights=fixed)
    print("cross-validated (5 folds by question):")
    print(json.dumps(cv, indent=2))
    weights = fixed if fixed is not None else fit_sentence_weights(rows)
    bias, coef, threshold = fit_abstention(rows, weights, current.type_tie_margin)
    params = AnswerParams(
        sentence_weights={n: round(float(w), 4) for n, w in zip(SENTENCE_FEATURES, weights)},
        abstain_bias=round(bias, 4),
        abstain_weights={n: round(float(w), 4) for n, w in zip(ABSTAIN_FEATURES, coef)},
        abstain_threshold=round(threshold, 4),
        second_sentence_margin=current.second_sentence_margin,
        type_tie_margin=current.type_tie_margin,
        candidate_passages=current.candidate_passages,
    )
    print("fitted on all questions:")
    print(json.dumps(asdict(params), indent=2))
    if args.write:
        payload = {**asdict(params), "fitted": {
            "command": "python -m eval.fit_answerer --write",
            "qa_file": str(args.qa), "questions": len(items), "retrieval_mode": args.mode,
            "model": assistant.embedder.model_id,
            "chunk_size": config.chunk_size, "chunk_overlap": config.chunk_overlap,
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "cross_validated": cv,
        }}
        PARAMS_FILE.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"written to {PARAMS_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
