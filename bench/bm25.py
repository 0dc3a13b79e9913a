"""BM25 (rag/retrieve/bm25.py over bm25s) at 10k-1M passages: build time, memory, and query latency."""

from __future__ import annotations

import gc
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from rag.retrieve.bm25 import BM25Index
from rag.retrieve.hybrid import top_rows
from rag.text.language import detect_language

from .data import questions, recombined_passages
from .report import Row, command

log = logging.getLogger(__name__)

DEPTH = 30  # rag.config candidate_pool: how many lexical candidates hybrid fusion takes
# A size whose build is predicted (linearly from the largest size measured) to take longer than this is
# extrapolated, not measured, so that `make bench` stays within its time budget.
MAX_BUILD_SECONDS = 120.0


def _rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _peak_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def _reset_peak() -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS (Linux >= 4.0)
    except OSError:
        pass


def _latencies(index: BM25Index, asked: list[tuple[str, str]], partial: bool) -> list[float]:
    times = []
    for question, lang in asked:
        started = time.perf_counter()
        scores = index.scores(question, lang)
        if partial:  # what rag/retrieve/hybrid.py's lexical_ranking does: only the top DEPTH are ordered
            top_rows(scores, DEPTH)
        else:  # the full sort it did before
            np.argsort(-scores, kind="stable")[:DEPTH]
        times.append((time.perf_counter() - started) * 1000)
    return times


def measure(n: int, asked: list[tuple[str, str]]) -> dict[str, Any]:
    texts = recombined_passages(n, seed=3)
    gc.collect()
    before = _rss_bytes()
    _reset_peak()
    started = time.perf_counter()
    index = BM25Index(texts, ["fr"] * n)
    build_s = time.perf_counter() - started
    gc.collect()
    held = _rss_bytes() - before
    peak = _peak_bytes() - before
    full = _latencies(index, asked, partial=False)
    partial = _latencies(index, asked, partial=True)
    del index, texts
    gc.collect()
    return {"n": n, "build_s": build_s, "held_bytes": held, "peak_bytes": peak,
            "p50_ms": float(np.percentile(full, 50)), "p95_ms": float(np.percentile(full, 95)),
            "p50_ms_topk": float(np.percentile(partial, 50)), "p95_ms_topk": float(np.percentile(partial, 95))}


def run(sizes: list[int], max_build_s: float = MAX_BUILD_SECONDS) -> tuple[list[Row], list[str]]:
    asked = [(q, detect_language(q)) for q in questions()]
    rows: list[Row] = []
    measured: list[dict[str, Any]] = []
    extrapolated = []
    for n in sorted(sizes):
        cmd = command("bm25", str(n))
        if measured and measured[-1]["build_s"] * n / measured[-1]["n"] > max_build_s:
            last = measured[-1]
            ratio = n / last["n"]
            rows.append(Row(
                "bm25", f"{n:,} passages — **extrapolated** linearly from {last['n']:,} (build predicted over "
                f"{max_build_s:.0f} s; measure it with --bm25-max-build-s 1000)",
                f"build ~{last['build_s'] * ratio:.0f} s, held ~{last['held_bytes'] * ratio / 2**20:,.0f} MiB "
                f"(peak ~{last['peak_bytes'] * ratio / 2**20:,.0f} MiB), "
                f"query p50 ~{last['p50_ms_topk'] * ratio:.0f} ms, "
                f"p95 ~{last['p95_ms_topk'] * ratio:.0f} ms with `top_rows` (a full argsort: p95 ~"
                f"{last['p95_ms'] * ratio:.0f} ms)",
                cmd, {"n": n, "extrapolated_from": last["n"]}))
            extrapolated.append(n)
            continue
        started = time.perf_counter()
        figures = measure(n, asked)
        measured.append(figures)
        log.info("bm25 at %d passages done in %.0fs", n, time.perf_counter() - started)
        rows.append(Row(
            "bm25", f"{n:,} passages (`BM25Index`, French stemming)",
            f"build {figures['build_s']:.1f} s, held {figures['held_bytes'] / 2**20:,.0f} MiB (peak "
            f"{figures['peak_bytes'] / 2**20:,.0f} MiB during build), query p50 {figures['p50_ms_topk']:.1f} ms, "
            f"**p95 {figures['p95_ms_topk']:.1f} ms** ranking the top {DEPTH} with `top_rows` (a partition) as "
            f"rag/retrieve/hybrid.py does; with a full argsort: p50 {figures['p50_ms']:.1f} ms, "
            f"p95 {figures['p95_ms']:.1f} ms",
            cmd, figures))
    notes = [
        f"Passages: recombined seed sentences (about 60 words each); queries: the {len(asked)} questions of "
        "eval/qa.jsonl with their detected language. The seed vocabulary is small (a few thousand stems), so "
        "posting lists are far denser than in a real archive of the same size: these latencies are an upper bound.",
        "Memory is the growth of the process's resident set while the index is held (the passages' text "
        "excluded); peak is the high-water mark during the build.",
    ]
    if extrapolated:
        notes.append(f"Sizes {', '.join(f'{n:,}' for n in extrapolated)} were extrapolated, not measured: "
                     "bm25s build time and memory grow linearly with the number of tokens, and a query scores "
                     "every passage.")
    return rows, notes
