"""Benchmark rows, the one Markdown table they make, their JSON record and the latency plot."""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rag.embed.route import cpu_flags

from .cpu import relevant_flags

PARTS = ("embed", "startup", "serve", "ann", "bm25")


@dataclass(frozen=True)
class Row:
    """One line of the table: what was measured, the figures, and the command that measures it again."""

    part: str
    setting: str
    result: str
    command: str
    data: dict[str, Any] = field(default_factory=dict)
    host: str = ""  # the CPU flags the figures depend on (bench.cpu.relevant_flags), set by bench.run


def command(part: str, sizes: str | None = None) -> str:
    return f"`python -m bench --only {part}" + (f" --sizes {sizes}`" if sizes else "`")


def versus_target(value: float, target: float, unit: str) -> str:
    """'target ≤ 450 MiB met by 63.0 MiB', or missed by how much, in bold."""
    if value <= target:
        return f"target ≤ {target:g} {unit} met by {target - value:.1f} {unit}"
    return f"target ≤ {target:g} {unit} **missed by {value - target:.1f} {unit}**"


def machine() -> dict[str, Any]:
    """What the figures depend on: CPU model and flags, cores, clock, load from other processes."""
    info: dict[str, Any] = {"python": platform.python_version(), "cores": len(os.sched_getaffinity(0))}
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        cpuinfo = ""
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if key == "model name":
            info.setdefault("cpu", value)
        elif key == "cpu MHz":
            info.setdefault("mhz", float(value))
    info["simd"] = relevant_flags(cpu_flags())
    info["load_avg"] = os.getloadavg()
    info["when"] = time.strftime("%Y-%m-%d %H:%M")
    return info


def format_table(rows: list[Row]) -> str:
    lines = ["| part | setting | result | reproduce | host CPU flags |", "|---|---|---|---|---|"]
    lines += [f"| {r.part} | {r.setting} | {r.result} | {r.command} | {r.host or '?'} |" for r in rows]
    return "\n".join(lines)


def save_part(out_dir: Path, part: str, rows: list[Row], notes: list[str], env: dict[str, Any]) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    record = {"part": part, "machine": env, "rows": [asdict(r) for r in rows], "notes": notes}
    tmp = out_dir / f".{part}.json.tmp"
    tmp.write_text(json.dumps(record, indent=1, ensure_ascii=False), encoding="utf-8")
    tmp.replace(out_dir / f"{part}.json")


def load_parts(out_dir: Path) -> list[dict[str, Any]]:
    parts = []
    for part in PARTS:
        path = out_dir / f"{part}.json"
        if path.exists():
            parts.append(json.loads(path.read_text(encoding="utf-8")))
    return parts


def write_markdown(out_dir: Path, parts: list[dict[str, Any]]) -> Path:
    """docs/bench/README.md: the table of every part measured so far, with the machine and notes of each run."""
    # Rows saved before rows carried their host take it from their part's machine record.
    rows = [Row(**{**r, "host": r.get("host") or p["machine"].get("simd", "")}) for p in parts for r in p["rows"]]
    lines = ["# Benchmark", "",
             "Written by `python -m bench` (`make bench`); each part is rerun alone with its command.", "",
             format_table(rows), ""]
    for p in parts:
        env = p["machine"]
        load = ", ".join(f"{x:.1f}" for x in env.get("load_avg", ()))
        lines.append(f"- **{p['part']}** measured {env.get('when')} on {env.get('cpu')} ({env.get('cores')} cores, "
                     f"{env.get('simd')}, {env.get('mhz', 0):.0f} MHz), load average at start {load}.")
        lines += [f"  - {note}" for note in p.get("notes", [])]
    if (out_dir / "ann_latency.png").exists():
        lines += ["", "![p95 search latency against corpus size](ann_latency.png)"]
    if (out_dir / "ann_sweep.md").exists():
        lines += ["", "The full efSearch / nprobe sweep is in [ann_sweep.md](ann_sweep.md)."]
    path = out_dir / "README.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def plot_ann(out_dir: Path, points: list[dict[str, Any]]) -> Path | None:
    """Log-log plot of p50 and p95 batch-1 search latency against corpus size, one line per index kind."""
    if not points:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    for kind in ("flat", "hnsw", "ivf", "ivfpq"):
        series = sorted((p["n"], p["p50_ms"], p["p95_ms"], p["recall@10"]) for p in points if p["kind"] == kind)
        if not series:
            continue
        sizes = [s[0] for s in series]
        line, = ax.plot(sizes, [s[2] for s in series], marker="o", label=f"{kind} p95")
        ax.plot(sizes, [s[1] for s in series], marker=".", linestyle=":", color=line.get_color(), label=f"{kind} p50")
        for n, _, p95, recall in series:
            ax.annotate(f"R@10 {recall:.2f}", (n, p95), textcoords="offset points", xytext=(4, 4), fontsize=7,
                        color=line.get_color())
    ax.axhline(20, color="grey", linewidth=0.8, linestyle="--")
    ax.text(ax.get_xlim()[0], 21, " 20 ms target", fontsize=7, color="grey")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("passage vectors in the index")
    ax.set_ylabel("search latency, batch 1 (ms)")
    ax.set_title("FAISS search latency against corpus size (1 search thread)")
    ax.grid(True, which="both", linewidth=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    path = out_dir / "ann_latency.png"
    fig.savefig(path)
    plt.close(fig)
    return path
