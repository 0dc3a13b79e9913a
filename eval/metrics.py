"""Evaluation metrics over per-question outcomes: retrieval, answers, citations, abstention, latency."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .items import QAItem


@dataclass(frozen=True)
class Metric:
    """One figure of the eval report: how it is printed, which way is better, and where it is shown."""

    key: str
    decimals: int = 3
    higher_is_better: bool = True
    in_chart: bool = False  # the charts' y axis runs from 0 to 1: only rates belong there
    in_before_after: bool = True

    def format(self, value: Any) -> str:
        """The figure as the tables print it; "-" where the group had nothing to measure."""
        if value is None:
            return "-"
        if not isinstance(value, float):
            return str(value)
        return f"{value:.{self.decimals}f}"


# Every metric `summarise` computes that a table shows, in the order of the tables' columns.
METRICS: tuple[Metric, ...] = (
    Metric("recall@1", in_chart=True),
    Metric("recall@5", in_chart=True),
    Metric("mrr@10"),
    Metric("answer_accuracy", in_chart=True),
    Metric("citation_accuracy", in_chart=True),
    Metric("quote_faithfulness"),
    Metric("abstain_unanswerable", in_chart=True),
    Metric("false_abstain", higher_is_better=False, in_chart=True),
    Metric("well_supported_precision"),
    Metric("well_supported_coverage"),
    Metric("mean_answer_chars", decimals=1, higher_is_better=False),
    Metric("latency_p50_ms", decimals=1, higher_is_better=False),
    Metric("latency_p95_ms", decimals=1, higher_is_better=False, in_before_after=False),
)
KEYS: tuple[str, ...] = tuple(m.key for m in METRICS)


@dataclass(frozen=True)
class Outcome:
    """What the system did for one question."""

    item: QAItem
    ranked: tuple[tuple[str, str], ...]  # (doc_id, passage text) best first, at least 10 deep
    answer_text: str
    abstained: bool
    cited: tuple[tuple[str, str], ...]  # (doc_id, passage text) of each citation
    quotes_verbatim: tuple[bool, ...]
    latency_ms: float
    extra: dict[str, Any] = field(default_factory=dict)
    # Quotes cited beside the answer's own, from the other-language version of a release (bilingual twins): an
    # English quote of the English twin is the translation of the French sentence that holds the French answer.
    original_quotes: tuple[str, ...] = ()

    @property
    def first_relevant_rank(self) -> int | None:
        for rank, (doc_id, text) in enumerate(self.ranked, start=1):
            if self.item.is_relevant(doc_id, text):
                return rank
        return None

    @property
    def answer_correct(self) -> bool:
        return not self.abstained and self.item.answered_by(self.answer_text, *self.original_quotes)

    @property
    def citation_correct(self) -> bool:
        return not self.abstained and any(self.item.is_relevant(d, t) for d, t in self.cited)


@dataclass(frozen=True)
class ConfidenceStep:
    """Answering only the `kept` most confident answers (down to `threshold`): how many of them are right."""

    threshold: float
    kept: int
    right: int


def by_confidence(scored: Iterable[tuple[float, bool]]) -> list[ConfidenceStep]:
    """(confidence, right) answers, most confident first, with the running count of right ones: what the
    precision/coverage curve of the report, the well-supported threshold and precision by coverage read."""
    steps, right = [], 0
    for kept, (confidence, correct) in enumerate(sorted(scored, key=lambda t: -t[0]), start=1):
        right += bool(correct)
        steps.append(ConfidenceStep(confidence, kept, right))
    return steps


def _mean(values: Iterable[float]) -> float | None:
    values = list(values)
    return round(sum(values) / len(values), 4) if values else None


def _percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 2)
    return round(statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1], 2)


def summarise(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """The metric keys of the eval report, for one group of outcomes."""
    answerable = [o for o in outcomes if o.item.answerable]
    unanswerable = [o for o in outcomes if not o.item.answerable]
    ranks = [o.first_relevant_rank for o in answerable]
    quotes = [ok for o in outcomes for ok in o.quotes_verbatim]
    answered = [o for o in outcomes if not o.abstained]
    latencies = [o.latency_ms for o in outcomes]
    return {
        "n": len(outcomes),
        "n_answerable": len(answerable),
        "n_unanswerable": len(unanswerable),
        "recall@1": _mean(1.0 if r is not None and r <= 1 else 0.0 for r in ranks),
        "recall@5": _mean(1.0 if r is not None and r <= 5 else 0.0 for r in ranks),
        "mrr@10": _mean(1.0 / r if r is not None and r <= 10 else 0.0 for r in ranks),
        "answer_accuracy": _mean(1.0 if o.answer_correct else 0.0 for o in answerable),
        "citation_accuracy": _mean(1.0 if o.citation_correct else 0.0 for o in answerable),
        "quote_faithfulness": _mean(1.0 if ok else 0.0 for ok in quotes),
        "abstain_unanswerable": _mean(1.0 if o.abstained else 0.0 for o in unanswerable),
        "false_abstain": _mean(1.0 if o.abstained else 0.0 for o in answerable),
        # Answers labelled "well supported": how often they are right, and what share of the answerable they cover.
        "well_supported_precision": _mean(1.0 if o.item.answerable and o.answer_correct else 0.0
                                          for o in answered if o.extra.get("well_supported")),
        "well_supported_coverage": _mean(1.0 if o.extra.get("well_supported") and not o.abstained else 0.0
                                         for o in answerable),
        "mean_answer_chars": _mean(float(o.extra.get("quoted_chars", len(o.answer_text))) for o in answered),
        "latency_p50_ms": _percentile(latencies, 50),
        "latency_p95_ms": _percentile(latencies, 95),
    }


def summarise_by(outcomes: Sequence[Outcome], key: str) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[Outcome]] = {}
    for o in outcomes:
        groups.setdefault(getattr(o.item, key), []).append(o)
    return {name: summarise(group) for name, group in sorted(groups.items())}
