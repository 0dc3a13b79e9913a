"""`python -m bench` (`make bench`): embedding routes, start-up, serving, approximate search and BM25 in one table.

Each part can be rerun alone (`--only ann --sizes 10000,100000`); its rows are kept in docs/bench/<part>.json
and docs/bench/README.md is rewritten from every part measured so far, with the latency plot.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from .report import PARTS, Row, format_table, load_parts, machine, plot_ann, save_part, write_markdown

log = logging.getLogger("bench")

DEFAULT_SIZES = "10000,100000,1000000"
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "docs" / "bench"


def parse_sizes(text: str) -> list[int]:
    try:
        sizes = sorted({int(s.replace("_", "")) for s in text.split(",") if s.strip()})
    except ValueError:
        raise SystemExit(f"--sizes takes comma-separated integers, got {text!r}") from None
    if not sizes or sizes[0] < 100:
        raise SystemExit("--sizes: every size must be at least 100")
    return sizes


def run_part(part: str, sizes: list[int], with_eval: bool,
             bm25_max_build_s: float) -> tuple[list[Row], list[str], dict[str, Any]]:
    extra: dict[str, Any] = {}
    if part == "embed":
        from . import embed as bench_embed

        rows, notes = bench_embed.run(with_eval=with_eval)
    elif part == "ann":
        from . import ann as bench_ann

        rows, notes, points, sweep = bench_ann.run(sizes)
        extra = {"points": points, "sweep": sweep}
    elif part == "bm25":
        from . import bm25 as bench_bm25

        rows, notes = bench_bm25.run(sizes, bm25_max_build_s)
    elif part == "startup":
        from . import startup as bench_startup

        rows, notes = bench_startup.run()
    else:
        from . import serve as bench_serve

        rows, notes = bench_serve.run()
    return rows, notes, extra


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=PARTS, help="run one part")
    parser.add_argument("--sizes", default=DEFAULT_SIZES,
                        help=f"corpus sizes for ann and bm25 (default {DEFAULT_SIZES})")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for the JSON, Markdown and plot")
    parser.add_argument("--no-eval", action="store_true", help="embed: skip the recall check of each backend")
    parser.add_argument("--bm25-max-build-s", type=float, default=120.0,
                        help="bm25: extrapolate sizes whose build is predicted to take longer (default 120)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    for noisy in ("httpx", "sentence_transformers", "transformers", "faiss", "bm25s", "rag", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    sizes = parse_sizes(args.sizes)
    parts = [args.only] if args.only else list(PARTS)
    all_rows: list[Row] = []
    all_notes: list[str] = []
    total = time.perf_counter()
    for part in parts:
        env = machine()
        started = time.perf_counter()
        log.info("part %s: starting (load average %.1f)", part, env["load_avg"][0])
        rows, notes, extra = run_part(part, sizes, not args.no_eval, args.bm25_max_build_s)
        rows = [replace(row, host=env["simd"]) for row in rows]
        elapsed = time.perf_counter() - started
        end_load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        notes = [*notes, f"This part took {elapsed:.0f} s; load average at its end {end_load}."]
        log.info("part %s: done in %.0fs", part, elapsed)
        save_part(args.out, part, rows, notes, env)
        if part == "ann":
            (args.out / "ann_sweep.md").write_text("\n".join(extra["sweep"]) + "\n", encoding="utf-8")
            plot_ann(args.out, extra["points"])
        all_rows += rows
        all_notes += [f"{part}: {n}" for n in notes]
    write_markdown(args.out, load_parts(args.out))
    print(format_table(all_rows))
    print()
    for note in all_notes:
        print(f"- {note}")
    print(f"\n{len(all_rows)} rows in {time.perf_counter() - total:.0f} s; written to {args.out}/README.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
