"""A cold `rag ask`: its peak memory and time to the answer, and what each stage of the start adds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from .data import REPO, SEEDS, questions
from .report import Row, command, versus_target

RUNS = 5
MIB = 2**20
# Targets of issue 17, checked in the rows.
ASK_PEAK_MIB, ASK_SECONDS = 450, 3.0
# The stages of a start, run in a child process that reports its resident memory and clock after each.
_STAGES = r"""
import json, sys, time
started = time.perf_counter()
def status():
    fields = dict(line.split(":", 1) for line in open("/proc/self/status"))
    return {k: int(fields[k].split()[0]) * 1024 for k in ("VmRSS", "VmHWM", "RssAnon", "RssFile")}
import numpy
stages = [("python and numpy", status(), time.perf_counter() - started)]
from rag.config import load_config
from rag.assistant import open_assistant
stages.append(("import rag.assistant (retrieval, answering, index code)", status(), time.perf_counter() - started))
from rag.embed.embedder import SentenceTransformerEmbedder
config = load_config(env={}, index_dir=sys.argv[1], corpus_dir=sys.argv[2])
embedder = SentenceTransformerEmbedder(config)
stages.append(("query embedder (" + embedder.routes["query"].label + ")", status(), time.perf_counter() - started))
assistant = open_assistant(config, build=False, embedder=embedder)
stages.append(("index opened and checked, answerer ready", status(), time.perf_counter() - started))
assistant.ask(sys.argv[3])
stages.append(("first answer", status(), time.perf_counter() - started))
heavy = [m for m in ("torch", "transformers", "sentence_transformers", "gradio") if m in sys.modules]
print(json.dumps({"stages": stages, "heavy": heavy}))
"""


def peak_and_seconds(args: list[str], env: dict[str, str]) -> tuple[int, float]:
    """Peak resident bytes (the kernel's ru_maxrss, the figure `/usr/bin/time -v` prints) and wall seconds."""
    with tempfile.TemporaryFile() as errors:  # a file, not a pipe: nobody reads while the child runs
        started = time.perf_counter()
        process = subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=errors)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode:
            errors.seek(0)
            stderr = errors.read().decode(errors="replace")
            raise RuntimeError(f"{' '.join(args[:4])}… exited with {process.returncode}: {stderr[-2000:]}")
    return usage.ru_maxrss * 1024, seconds


def run() -> tuple[list[Row], list[str]]:
    cmd = command("startup")
    question = questions()[0]
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}  # the default configuration
    env["HF_HUB_OFFLINE"] = "1"
    with tempfile.TemporaryDirectory(prefix="rag-bench-startup-") as tmp:
        index_dir = Path(tmp) / "index"
        where = ["--index-dir", str(index_dir), "--corpus-dir", str(SEEDS)]
        subprocess.run([sys.executable, "-m", "rag", "index", *where, "-q"], cwd=REPO, env=env, check=True,
                       capture_output=True)
        ask = [sys.executable, "-m", "rag", "ask", question, *where, "--no-build", "-q"]
        peak_and_seconds(ask, env)  # warm the page cache and the compact tokenizer copy, as a second start finds them
        runs = [peak_and_seconds(ask, env) for _ in range(RUNS)]
        stages_out = subprocess.run([sys.executable, "-c", _STAGES, str(index_dir), str(SEEDS), question], cwd=REPO,
                                    env=env, check=True, capture_output=True, text=True).stdout
    peaks = sorted(p / MIB for p, _ in runs)
    seconds = sorted(s for _, s in runs)
    peak, wall = float(np.median(peaks)), float(np.median(seconds))
    how = f"`/usr/bin/time -v python -m rag ask \"{question[:40]}…\" --no-build` (index built)"
    rows = [
        Row("startup", f"`rag ask` peak resident memory, cold process, index already built (median of {RUNS})",
            f"**{peak:.0f} MiB** (runs: {', '.join(f'{p:.0f}' for p in peaks)}); "
            + versus_target(peak, ASK_PEAK_MIB, "MiB"),
            how, {"peak_mib": peaks}),
        Row("startup", f"`rag ask` cold start: process start to answer printed (median of {RUNS})",
            f"**{wall:.2f} s** (runs: {', '.join(f'{s:.2f}' for s in seconds)}); "
            + versus_target(wall, ASK_SECONDS, "s"),
            how, {"seconds": seconds}),
    ]
    report: dict[str, Any] = json.loads(stages_out.strip().splitlines()[-1])
    previous_rss, previous_s = 0, 0.0
    parts = []
    for name, memory, at in report["stages"]:
        parts.append(f"{name} +{(memory['VmRSS'] - previous_rss) / MIB:.0f} MiB, +{at - previous_s:.2f} s")
        previous_rss, previous_s = memory["VmRSS"], at
    last = report["stages"][-1][1]
    rows.append(Row(
        "startup", "where a cold `rag ask` spends memory and time, stage by stage (one run)",
        "; ".join(parts) + f". Resident after the answer {last['VmRSS'] / MIB:.0f} MiB (anonymous "
        f"{last['RssAnon'] / MIB:.0f}, file-backed {last['RssFile'] / MIB:.0f}); modules not imported: "
        + ", ".join(m for m in ("torch", "transformers", "sentence_transformers", "gradio") if m not in report["heavy"])
        + (f"; imported: {', '.join(report['heavy'])}" if report["heavy"] else ""),
        cmd, report))
    notes = [f"Each `rag ask` runs in a fresh process after one unmeasured run (which leaves the model files in the "
             f"page cache, as any second start finds them); peak memory is the child's ru_maxrss from wait4(), the "
             f"figure `/usr/bin/time -v` prints as \"Maximum resident set size\". Question: {question!r}."]
    return rows, notes
