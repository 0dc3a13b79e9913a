"""The start-up bench: a child's peak memory as `/usr/bin/time -v` reports it, and figures set against targets."""

from __future__ import annotations

import os
import sys

import pytest

from bench.report import versus_target
from bench.startup import peak_and_seconds


def test_the_peak_of_a_child_counts_the_memory_it_touched() -> None:
    peak, seconds = peak_and_seconds([sys.executable, "-c", "x = bytearray(80 * 2**20)"], dict(os.environ))
    assert peak >= 80 * 2**20 and seconds > 0


def test_a_child_that_fails_is_an_error_with_its_output() -> None:
    with pytest.raises(RuntimeError, match="boom"):
        peak_and_seconds([sys.executable, "-c", "raise SystemExit('boom')"], dict(os.environ))


def test_a_figure_under_its_target_says_by_how_much_it_is_met() -> None:
    assert versus_target(387.0, 450, "MiB") == "target ≤ 450 MiB met by 63.0 MiB"


def test_a_figure_over_its_target_says_by_how_much_it_is_missed() -> None:
    assert versus_target(6.7, 4.0, "s") == "target ≤ 4 s **missed by 2.7 s**"
