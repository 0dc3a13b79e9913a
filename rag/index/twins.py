"""Bilingual twins: two releases that are the same release in two languages, found from their sentence vectors.

The rule, measured with the bundled model on seeds/ plus English translations of 000 and 003
(tests/fixtures/twins); `python -m rag.index.twins INDEX_DIR` prints these values for every pair of an index:

    pair (languages differ)                           mean best cosine   mutual best share
    000 FR / 000 EN (twins)                                0.922              0.95
    003 FR / 003 EN (twins)                                0.931              0.90
    003 EN / 004 FR (same meeting, same day)               0.882              0.36
    000 EN / 001 FR (same kind of meeting, 2022)           0.877              0.21
    highest of all 8 non-twin pairs, any date              0.890 (002/000EN)  0.43 (002/003EN)

"Mean best cosine" is, over the shorter release's sentences, the mean of each one's best cosine to a sentence
of the other; it separates by 0.03 only, because a sentence is embedded with its release's title and date and
all these releases share a vocabulary. "Mutual best share" is the share of the shorter release's sentences
whose best match picks them back as its own best match: a translation keeps sentence order and content one to
one, so nearly all pairs are mutual, while releases on the same meeting share a few sentences at most. The
threshold of the mutual share sits midway between 0.43 and 0.90; the mean cosine only guards against a pair of
short releases whose few sentences happen to pick each other.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from rag.schema import Document, Sentence

MIN_MUTUAL_SHARE = 0.65
MIN_MEAN_BEST_COSINE = 0.85
# A release and its translation are published together; a day apart covers a time zone or a late version.
MAX_DATE_GAP_DAYS = 1


@dataclass(frozen=True)
class Alignment:
    """How the sentences of two releases align across languages."""

    mean_best_cosine: float
    mutual_share: float

    @property
    def twins(self) -> bool:
        return self.mutual_share >= MIN_MUTUAL_SHARE and self.mean_best_cosine >= MIN_MEAN_BEST_COSINE


def align(vectors_a: np.ndarray, vectors_b: np.ndarray) -> Alignment:
    """The alignment of two releases given their sentence vectors (L2-normalised rows)."""
    shorter, longer = (vectors_a, vectors_b) if len(vectors_a) <= len(vectors_b) else (vectors_b, vectors_a)
    if not len(shorter):
        return Alignment(0.0, 0.0)
    similarity = shorter @ longer.T
    best_in_longer = similarity.argmax(axis=1)
    best_in_shorter = similarity.argmax(axis=0)
    mutual = best_in_shorter[best_in_longer] == np.arange(len(shorter))
    return Alignment(float(similarity.max(axis=1).mean()), float(mutual.mean()))


def _close_dates(a: str | None, b: str | None) -> bool:
    if not a or not b:
        return False
    try:
        return abs((date.fromisoformat(a) - date.fromisoformat(b)).days) <= MAX_DATE_GAP_DAYS
    except ValueError:
        return False


def candidate_pairs(documents: Sequence[Document]) -> list[tuple[str, str]]:
    """Pairs of releases in different languages dated within MAX_DATE_GAP_DAYS of each other."""
    ordered = sorted(documents, key=lambda d: d.doc_id)
    return [(a.doc_id, b.doc_id) for i, a in enumerate(ordered) for b in ordered[i + 1:]
            if a.lang != b.lang and _close_dates(a.date, b.date)]


def find_twins(documents: Sequence[Document], sentences: Sequence[Sentence],
               sentence_vectors: np.ndarray) -> dict[str, str]:
    """{doc_id: twin doc_id}, both ways; a release has at most one twin, the best aligned one."""
    rows: dict[str, list[int]] = {}
    for row, sentence in enumerate(sentences):
        rows.setdefault(sentence.doc_id, []).append(row)
    scored = []
    for a, b in candidate_pairs(documents):
        alignment = align(sentence_vectors[rows.get(a, [])], sentence_vectors[rows.get(b, [])])
        if alignment.twins:
            scored.append((alignment.mutual_share, alignment.mean_best_cosine, a, b))
    twins: dict[str, str] = {}
    for _, _, a, b in sorted(scored, reverse=True):
        if a not in twins and b not in twins:
            twins[a], twins[b] = b, a
    return dict(sorted(twins.items()))


def twins_from_manifest(manifest: Mapping[str, object]) -> dict[str, str]:
    recorded = manifest.get("twins")
    if not isinstance(recorded, dict):
        return {}
    return {str(a): str(b) for a, b in recorded.items()}


def _print_alignments(index_dir: Path) -> None:
    """Every cross-language pair of an index with its alignment values (how the thresholds were measured)."""
    from rag.index.store import load_generation

    stored = load_generation(index_dir)
    rows: dict[str, list[int]] = {}
    for row, sentence in enumerate(stored.sentences):
        rows.setdefault(sentence.doc_id, []).append(row)
    docs = sorted(stored.documents.values(), key=lambda d: d.doc_id)
    for i, a in enumerate(docs):
        for b in docs[i + 1:]:
            if a.lang == b.lang:
                continue
            found = align(stored.sentence_vectors[rows[a.doc_id]], stored.sentence_vectors[rows[b.doc_id]])
            print(f"{a.doc_id} {a.date}  {b.doc_id} {b.date}  mean_best_cosine={found.mean_best_cosine:.3f} "
                  f"mutual_share={found.mutual_share:.2f} twins={found.twins and _close_dates(a.date, b.date)}")


if __name__ == "__main__":
    _print_alignments(Path(sys.argv[1] if len(sys.argv) > 1 else "index"))
