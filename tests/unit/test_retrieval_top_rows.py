"""top_rows: the partial sort behind dense and lexical rankings must rank exactly as a full stable sort."""

from __future__ import annotations

import numpy as np
import pytest

from rag.retrieve.hybrid import top_rows


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("depth", [1, 5, 30, 500, 2000])
def test_top_rows_equals_the_head_of_a_stable_descending_sort(seed: int, depth: int) -> None:
    rng = np.random.default_rng(seed)
    # Few distinct values, so ties straddle the cut-off often (BM25 gives 0 to most passages).
    scores = rng.integers(0, 6, size=1000).astype(np.float32) * rng.choice([0.0, 0.5, 1.0])
    expected = np.argsort(-scores, kind="stable")[:depth]
    assert top_rows(scores, depth).tolist() == expected.tolist()


def test_top_rows_of_an_empty_score_array_is_empty() -> None:
    assert top_rows(np.zeros(0, dtype=np.float32), 5).tolist() == []
