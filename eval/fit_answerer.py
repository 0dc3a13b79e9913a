"""Fit the extractive answerer's sentence weights and abstention rule on a Q&A file, with cross-validation.

python -m eval.fit_answerer [--qa eval/qa.jsonl] [--write]

Prints cross-validated figures (folds split by question, so no question is scored by a model that saw it)
and, with --write, saves the weights fitted on every question to rag/answer/params.json with those figures.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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
from rag.schema import Citation

from .generate import generate
from .items import QAItem, load_items
from .metrics import by_confidence
from .run import with_split

# The abstention threshold answers all but this share of the answerable training questions. Chosen on tune
# (cross-validated, FR / EN): 0.02 answered correctly 0.837 / 0.848, unanswerable abstained 0.519 / 0.630;
# 0.03: 0.837 / 0.826, 0.556 / 0.667; 0.05: 0.826 / 0.826, 0.556 / 0.667; 0.08: 0.826 / 0.783, the same.
MAX_FALSE_ABSTAIN = 0.03
# Inverse regularisation of the abstention model, chosen by the cross-validated answers on tune over
# 0.1, 0.3, 1, 3, 10 (answered correctly overall 0.815, 0.821, 0.810, 0.810, 0.804).
ABSTENTION_C = 0.3
WELL_SUPPORTED_PRECISION = 0.95


def collect(assistant, items: list[QAItem], mode: str):  # type: ignore[no-untyped-def]
    """Per question: candidate features, sentence labels, and what the abstention features need."""
    rows = []
    for item in items:
        query = assistant._prepare(item.question, (), mode, None)
        answerer, search_text, lang, candidates = query.state.answerer, query.searched, query.lang, query.candidates
        evidences = answerer.candidates(search_text, query.vector, lang, candidates)
        # A sentence is right when what answer() would quote and cite for it holds the answer.
        labels = np.array([_answers(item, answerer.citations([e.sentence], item.question, lang)) for e in evidences],
                          dtype=bool)
        rows.append((item, evidences, labels, answerer, search_text, lang, candidates))
    return rows


def _answers(item: QAItem, citations: tuple[Citation, ...]) -> bool:
    """Whether these citations, from a release the question is about, hold one of its answers (in the quotes or
    in the original beside a quote taken from a release's twin, as eval.metrics counts it)."""
    spans = [s for c in citations for s in c.spans]
    return (item.answerable and any(s.doc_id in item.gold_docs for s in spans)
            and item.answered_by(" ".join(c.quote for c in citations),
                                 *(c.original.quote for c in citations if c.original is not None)))


def ranked_by(evidences: Sequence[Evidence], scores: Iterable[float],
              type_tie_margin: float) -> list[tuple[int, Evidence]]:
    """The question's sentences ranked by `scores` as the answerer ranks them (prefer_typed_near_tie), each with
    its index in `evidences`."""
    scored = sorted(((i, replace(e, score=float(s))) for i, (e, s) in enumerate(zip(evidences, scores))),
                    key=lambda t: -t[1].score)
    position = {id(e): i for i, e in scored}
    return [(position[id(e)], e) for e in prefer_typed_near_tie([e for _, e in scored], type_tie_margin)]


def rescore(evidences: list[Evidence], weights: np.ndarray, type_tie_margin: float) -> list[tuple[int, Evidence]]:
    """The question's sentences ranked as the answerer ranks them with these sentence weights."""
    return ranked_by(evidences, (e.features @ weights for e in evidences), type_tie_margin)


def abstain_row(row, weights: np.ndarray, type_tie_margin: float) -> tuple[np.ndarray, bool]:  # type: ignore[no-untyped-def]
    item, evidences, labels, answerer, search_text, lang, candidates = row
    ranked = rescore(evidences, weights, type_tie_margin)
    features = answerer.abstention_signals([e for _, e in ranked], search_text, lang, candidates)
    return np.array([features[n] for n in ABSTAIN_FEATURES]), bool(labels[ranked[0][0]])


def fit_sentence_weights(rows) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Pairwise: within each question, every sentence holding the answer against every one that does not
    (a linear score only has to order a question's sentences; RankSVM-style logistic on differences)."""
    useful = [r for r in rows if r[0].answerable and r[2].any() and not r[2].all()]
    differences = []
    for _, evidences, labels, *_ in useful:
        features = np.array([e.features for e in evidences])
        positives, negatives = features[labels], features[~labels]
        differences.append((positives[:, None, :] - negatives[None, :, :]).reshape(-1, features.shape[1]))
    x = np.vstack(differences)
    x = np.vstack([x, -x])
    y = np.concatenate([np.ones(len(x) // 2, bool), np.zeros(len(x) // 2, bool)])
    model = LogisticRegression(C=1.0, fit_intercept=False, max_iter=5000)
    model.fit(x, y)
    return model.coef_[0]


def fit_abstention(rows, weights: np.ndarray,  # type: ignore[no-untyped-def]
                   type_tie_margin: float) -> tuple[float, np.ndarray, float]:
    x = np.vstack([abstain_row(r, weights, type_tie_margin)[0] for r in rows])
    y = np.array([r[0].answerable for r in rows])
    model = LogisticRegression(C=ABSTENTION_C, class_weight="balanced", max_iter=5000)
    model.fit(x, y)
    probabilities = model.predict_proba(x)[:, 1]
    # The highest threshold that still answers all but MAX_FALSE_ABSTAIN of the answerable questions.
    answerable_p = np.sort(probabilities[y])
    allowed = int(np.floor(MAX_FALSE_ABSTAIN * len(answerable_p)))
    threshold = float(answerable_p[allowed]) - 1e-9 if len(answerable_p) else 0.5
    return float(model.intercept_[0]), model.coef_[0], threshold


def fit_confidence(rows, weights: np.ndarray,  # type: ignore[no-untyped-def]
                   type_tie_margin: float) -> tuple[float, np.ndarray]:
    """A logistic model of "the best sentence answers the question" (unanswerable questions count as wrong)
    over the abstention features: the confidence an answer is shown with."""
    pairs = [abstain_row(r, weights, type_tie_margin) for r in rows]
    x = np.vstack([features for features, _ in pairs])
    y = np.array([r[0].answerable and correct for r, (_, correct) in zip(rows, pairs)])
    model = LogisticRegression(C=1.0, max_iter=5000)
    model.fit(x, y)
    return float(model.intercept_[0]), model.coef_[0]


def probability(bias: float, coef: np.ndarray, x: np.ndarray) -> float:
    return float(1 / (1 + np.exp(-(bias + x @ coef))))


def cross_validate(rows, type_tie_margin: float, folds: int = 5,  # type: ignore[no-untyped-def]
                   fixed_weights: np.ndarray | None = None, extra_rows=(), folds_by: str = "question"):
    """Scores each tune question with a rule fitted on the other folds (plus `extra_rows`, the generated
    questions, which are never scored). With folds_by="evidence", the questions answered by one sentence (a
    French question and its English counterpart, say) stay in one fold."""
    groups = [(r[0].evidence or r[0].id) if folds_by == "evidence" else r[0].id for r in rows]
    results = []
    for train, test in GroupKFold(n_splits=folds).split(rows, groups=groups):
        train_rows = [rows[i] for i in train] + list(extra_rows)
        weights = fixed_weights if fixed_weights is not None else fit_sentence_weights(train_rows)
        bias, coef, threshold = fit_abstention(train_rows, weights, type_tie_margin)
        confidence_bias, confidence_coef = fit_confidence(train_rows, weights, type_tie_margin)
        for i in test:
            x, correct = abstain_row(rows[i], weights, type_tie_margin)
            abstained = probability(bias, coef, x) < threshold
            results.append((rows[i][0], correct, abstained, probability(confidence_bias, confidence_coef, x)))
    summary: dict[str, Any] = {}
    for lang in ("fr", "en", "overall"):
        chosen = [r for r in results if lang == "overall" or r[0].lang == lang]
        answerable = [r for r in chosen if r[0].answerable]
        unanswerable = [r for r in chosen if not r[0].answerable]
        summary[lang] = {
            "best_sentence_holds_answer": round(float(np.mean([c for _, c, _, _ in answerable])), 3),
            "answered_correctly": round(float(np.mean([c and not a for _, c, a, _ in answerable])), 3),
            "false_abstain": round(float(np.mean([a for _, _, a, _ in answerable])), 3),
            "abstain_unanswerable": (round(float(np.mean([a for _, _, a, _ in unanswerable])), 3)
                                     if unanswerable else None),
        }
    # What a reader can rely on: the answers given at a confidence of at least t, and how many are right.
    scored = [(p, bool(item.answerable and correct)) for item, correct, abstained, p in results if not abstained]
    answerable = sum(r[0].answerable for r in results)
    summary["well_supported"] = well_supported_threshold(scored, answerable)
    summary["precision_by_coverage"] = precision_by_coverage(scored, answerable)
    return summary


def well_supported_threshold(scored: list[tuple[float, bool]], answerable: int,
                             precision: float = WELL_SUPPORTED_PRECISION) -> dict[str, float | None]:
    """The lowest confidence at which the answers at or above it are right at least `precision` of the time
    (cross-validated probabilities, so no question judges the rule fitted on it), with its coverage of the
    answerable questions; None when no threshold reaches it."""
    steps = by_confidence(scored)
    # A threshold keeps every answer given with that confidence: only the last step of a tie is one.
    thresholds = [s for s, after in zip(steps, [*steps[1:], None]) if after is None or after.threshold != s.threshold]
    for step in reversed(thresholds):
        if step.right / step.kept >= precision:
            return {"threshold": round(step.threshold, 4), "precision": round(step.right / step.kept, 3),
                    "coverage": round(step.right / max(answerable, 1), 3)}
    return {"threshold": None, "precision": None, "coverage": 0.0}


def precision_by_coverage(scored: list[tuple[float, bool]], answerable: int,
                          coverages: tuple[float, ...] = (0.1, 0.2, 0.3, 0.5, 0.7)) -> dict[str, float | None]:
    """How often the most confident answers are right, keeping as many as `coverage` of the answerable
    questions (None where fewer answers were given)."""
    steps = by_confidence(scored)
    out: dict[str, float | None] = {}
    for coverage in coverages:
        kept = round(coverage * answerable)
        out[f"{coverage:.0%}"] = round(steps[kept - 1].right / kept, 3) if 0 < kept <= len(steps) else None
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--qa", type=Path, default=Path("eval/qa.jsonl"))
    parser.add_argument("--mode", default="hybrid")
    parser.add_argument("--write", action="store_true", help=f"save the fitted parameters to {PARAMS_FILE}")
    parser.add_argument("--generated", action="store_true",
                        help="also train on questions generated from the corpus (python -m eval.generate)")
    parser.add_argument("--fit-sentences", action="store_true",
                        help="also fit the sentence weights (default: keep the hand-set ones, which did as well)")
    parser.add_argument("--folds-by", choices=("question", "evidence"), default="question",
                        help="keep each question apart (default), or the questions one sentence answers together")
    args = parser.parse_args(argv)
    config = load_config()
    assistant = open_assistant(config, build=True)
    # Fitted and cross-validated on the tune part only: the test part is reported, never fitted on.
    items = with_split(load_items(args.qa), "tune", bundled=True)
    rows = collect(assistant, items, args.mode)
    extra = []
    if args.generated:
        generated = generate(assistant.stored.documents, assistant.stored.sentences)
        extra = collect(assistant, [QAItem.from_dict(asdict(q)) for q in generated], args.mode)
    current = AnswerParams.load()
    fixed = None if args.fit_sentences else current.sentence_vector()
    cv = cross_validate(rows, current.type_tie_margin, fixed_weights=fixed, extra_rows=extra,
                        folds_by=args.folds_by)
    print(f"cross-validated (5 folds by {args.folds_by}):")
    print(json.dumps(cv, indent=2))
    weights = fixed if fixed is not None else fit_sentence_weights(rows + extra)
    bias, coef, threshold = fit_abstention(rows + extra, weights, current.type_tie_margin)
    confidence_bias, confidence_coef = fit_confidence(rows + extra, weights, current.type_tie_margin)
    well_supported = cv["well_supported"]["threshold"]
    params = AnswerParams(
        sentence_weights={n: round(float(w), 4) for n, w in zip(SENTENCE_FEATURES, weights)},
        abstain_bias=round(bias, 4),
        abstain_weights={n: round(float(w), 4) for n, w in zip(ABSTAIN_FEATURES, coef)},
        abstain_threshold=round(threshold, 4),
        second_sentence_margin=current.second_sentence_margin,
        type_tie_margin=current.type_tie_margin,
        candidate_passages=current.candidate_passages,
        confidence_bias=round(confidence_bias, 4),
        confidence_weights={n: round(float(w), 4) for n, w in zip(ABSTAIN_FEATURES, confidence_coef)},
        well_supported_threshold=round(well_supported, 4) if well_supported is not None else 1.01,
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
