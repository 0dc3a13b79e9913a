"""Compare index and retrieval settings on a Q&A file: one model load, one index per variant.

python -m eval.tune "chunk_size=800,chunk_overlap=120" "chunk_size=500,chunk_overlap=75" --modes dense,hybrid
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from rag.assistant import Assistant
from rag.config import load_config
from rag.embed.embedder import SentenceTransformerEmbedder
from rag.index.build import build_index

from .items import load_items
from .run import run_eval

SHOWN = ["recall@1", "recall@5", "mrr@10", "answer_accuracy", "citation_accuracy", "abstain_unanswerable",
         "false_abstain", "mean_answer_chars"]


def parse_variant(text: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in text.split(",") if part.strip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("variants", nargs="+", help="comma-separated key=value config overrides")
    parser.add_argument("--qa", type=Path, default=Path("eval/qa.jsonl"))
    parser.add_argument("--modes", default="dense,lexical,hybrid")
    args = parser.parse_args(argv)
    items = load_items(args.qa)
    embedder = SentenceTransformerEmbedder(load_config())
    print("| variant | mode | lang | chunks | " + " | ".join(SHOWN) + " |")
    print("|" + "---|" * (len(SHOWN) + 4))
    for variant in args.variants:
        workdir = Path(tempfile.mkdtemp(prefix="rag-tune-"))
        try:
            config = load_config().with_overrides(index_dir=workdir / "index", **parse_variant(variant))
            build_index(config, embedder, show_progress=False)
            assistant = Assistant(config, embedder)
            report, _ = run_eval(assistant, items, args.modes.split(","), progress=False)
            for mode, groups in report["modes"].items():
                for lang in ("fr", "en"):
                    row = groups[lang]
                    cells = " | ".join("-" if row[k] is None else f"{row[k]:.3f}" for k in SHOWN)
                    print(f"| {variant} | {mode} | {lang} | {len(assistant.stored.chunks)} | {cells} |", flush=True)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
