"""The benchmark's inputs and arithmetic: passages, noisy vectors, recall, FLOP count, sizes, the table."""

from __future__ import annotations

import numpy as np
import pytest

from bench.ann import recall_at_k
from bench.data import noisy_vectors, recombined_passages, seed_sentences
from bench.embed import flops_per_passage, paired_speedup
from bench.report import Row, format_table
from bench.run import parse_sizes
from rag.embed.embedder import OnnxEncoder


def test_recombined_passages_are_reproducible_windows_of_seed_words() -> None:
    passages = recombined_passages(50, seed=3)
    assert passages == recombined_passages(50, seed=3)
    words = {w for s in seed_sentences() for w in s.split()}
    assert all(45 <= len(p.split()) <= 65 and set(p.split()) <= words for p in passages)
    assert len(set(passages)) == 50


def test_noisy_vectors_keep_the_originals_first_and_are_unit_length() -> None:
    base = np.eye(4, 8, dtype=np.float32)
    grown = noisy_vectors(base, 20, sigma=0.01)
    assert np.array_equal(grown[:4], base)
    assert np.allclose(np.linalg.norm(grown, axis=1), 1, atol=1e-5)
    assert (grown[4:] @ base.T).max(axis=1).min() > 0.9  # each copy stays near one original


def test_recall_counts_the_share_of_true_neighbours_found() -> None:
    truth = np.array([[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]])
    found = np.array([[1, 2, 3, 4, 5, 6, 7, 8, 11, 12]])
    assert recall_at_k(found, truth) == pytest.approx(0.8)


def test_flops_of_a_100_token_passage_through_e5_small() -> None:
    # 12 layers x 100 tokens x 2 x (4*384^2 + 2*384*1536 + 2*100*384)
    assert flops_per_passage(100) == pytest.approx(12 * 100 * 2 * (589_824 + 1_179_648 + 76_800))


def test_sizes_are_parsed_sorted_and_checked() -> None:
    assert parse_sizes("100000,10_000") == [10_000, 100_000]
    with pytest.raises(SystemExit):
        parse_sizes("10k")


def test_the_table_has_one_row_per_measure_with_its_command() -> None:
    table = format_table([Row("ann", "10,000 vectors", "p95 1 ms", "`python -m bench --only ann`")])
    assert table.splitlines()[2] == "| ann | 10,000 vectors | p95 1 ms | `python -m bench --only ann` | ? |"


def test_onnx_pooling_averages_real_tokens_only_and_normalises() -> None:
    hidden = np.array([[[1.0, 0.0], [0.0, 1.0], [100.0, 100.0]]], dtype=np.float32)
    mask = np.array([[1, 1, 0]])
    pooled = OnnxEncoder.pool(hidden, mask)
    assert np.allclose(pooled, [[2 ** -0.5, 2 ** -0.5]])


def test_the_speedup_is_the_median_of_same_round_ratios_so_a_loaded_round_cancels_out() -> None:
    baseline = [10.0, 40.0, 20.0]  # the second round ran on an idle machine
    bf16 = [30.0, 120.0, 60.0]
    assert paired_speedup(bf16, baseline) == 3.0
    assert paired_speedup([60.0], baseline) == 3.0  # one round: against the baseline's median
