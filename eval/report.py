"""The eval report on disk: a Markdown table per mode and language, the failures, and a PNG chart."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .metrics import METRICS, Metric, Outcome, by_confidence

COMPARED: tuple[Metric, ...] = tuple(m for m in METRICS if m.in_before_after)
CHARTED: tuple[Metric, ...] = tuple(m for m in METRICS if m.in_chart)


def write_report(out_dir: Path, report: dict[str, Any], outcomes: dict[str, list[Outcome]],
                 baseline: dict[str, Any] | None = None) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    lines = [
        "# Evaluation report", "",
        f"Q&A file `{report.get('qa_file')}`, {report['n']} questions; model `{report.get('model')}`; "
        f"index {report.get('index')}; answer mode `{report.get('answer_mode')}`.", "",
        f"Produced by `{report.get('command', 'rag eval')}`. `mean_answer_chars` counts the quoted characters of "
        "an answer (its framing line and citation markers aside).", "",
        "## By mode and language", "", format_table(report), "",
    ]
    if baseline is not None:
        lines += before_after_sections(baseline, report)
    for mode, groups in report["modes"].items():
        lines += [f"## {mode}: by question kind", "", "| kind | n | " + _header(METRICS),
                  "|" + "---|" * (len(METRICS) + 2)]
        for kind, row in groups["by_kind"].items():
            lines.append(f"| {kind} | {row['n']} | " + _cells(METRICS, row))
        lines += ["", f"### {mode}: failed questions", ""]
        failures = [_failure_line(o) for o in outcomes[mode]]
        lines += [line for line in failures if line] or ["None."]
        lines.append("")
    (out_dir / "report.md").write_text("\n".join(lines), encoding="utf-8")
    _chart(out_dir / "modes.png", report)
    _confidence_chart(out_dir / "confidence.png", outcomes)
    if baseline is not None:
        _before_after_chart(out_dir / "before_after.png", baseline, report)


def _header(metrics: tuple[Metric, ...]) -> str:
    return " | ".join(m.key for m in metrics) + " |"


def _cells(metrics: tuple[Metric, ...], row: dict[str, Any]) -> str:
    return " | ".join(m.format(row[m.key]) for m in metrics) + " |"


def format_table(report: dict[str, Any]) -> str:
    """The Markdown table of every metric by mode and language, as `rag eval` prints it."""
    lines = ["| mode | lang | n | " + _header(METRICS), "|" + "---|" * (len(METRICS) + 3)]
    for mode, groups in report["modes"].items():
        # The frozen test part first (nothing was tuned on it), then tune, then the whole run.
        for split in ("test", "tune"):
            if split in groups.get("by_split", {}):
                lines += _language_rows(mode, groups["by_split"][split], f"{split} ")
        lines += _language_rows(mode, groups, "")
    return "\n".join(lines)


def _language_rows(mode: str, groups: dict[str, Any], prefix: str) -> list[str]:
    """French and English first, then any other language of the file, then the overall row."""
    others = sorted(g for g in groups if g not in ("fr", "en", "overall", "by_kind", "by_split"))
    return [f"| {mode} | {prefix}{group} | {groups[group]['n']} | " + _cells(METRICS, groups[group])
            for group in [g for g in ("fr", "en") if g in groups] + others + ["overall"]]


def _one_line(text: str, limit: int) -> str:
    return " ".join(text.split()).replace("|", "\\|")[:limit]


def _failure_line(o: Outcome) -> str | None:
    """One Markdown line on what went wrong with a question, and what was retrieved; None when nothing did."""
    problems = []
    if o.item.answerable:
        if o.abstained:
            problems.append(f"abstained ({o.extra.get('abstain_reason')})")
        elif not o.answer_correct:
            problems.append("answer lacks the expected string")
        if not o.abstained and not o.citation_correct:
            problems.append("no cited passage is relevant")
        if o.first_relevant_rank != 1:
            problems.append(f"first relevant passage at rank {o.first_relevant_rank}")
    elif not o.abstained:
        problems.append("answered an unanswerable question")
    if not problems:
        return None
    first = f"{o.ranked[0][0]}: “{_one_line(o.ranked[0][1], 160)}…”" if o.ranked else "nothing"
    return (f"- **{o.item.id}** ({o.item.kind}) {o.item.question} — expected {list(o.item.answers)} "
            f"in {sorted(o.item.gold_docs)}; {'; '.join(problems)}; top releases {o.extra.get('top_docs')}; "
            f"first passage {first}; answer: {_one_line(o.answer_text, 220)}")


def _change(metric: Metric, before: Any, after: Any) -> str:
    if before is None or after is None:
        return f"{metric.format(before)} → {metric.format(after)}"
    sign = "+" if after >= before else ""
    return f"{metric.format(before)} → {metric.format(after)} ({sign}{metric.format(after - before)})"


def before_after_sections(baseline: dict[str, Any], report: dict[str, Any]) -> list[str]:
    """Markdown tables "before → after (change)" for every mode both runs measured, by language and by kind."""
    described = baseline.get("baseline_of", {}).get("commit") or baseline.get("index", {}).get("generation", "?")
    how = baseline.get("baseline_of", {}).get("command") or baseline.get("command")
    lines = ["## Before → after", "",
             f"Before: `{baseline.get('qa_file', '?')}` run on {described} ({baseline.get('n', '?')} questions"
             f"{f', by `{how}`' if how else ''}); after: this run. "
             f"Lower is better for {', '.join(sorted(m.key for m in METRICS if not m.higher_is_better))}.", ""]
    shared = [m for m in report["modes"] if m in baseline["modes"]]
    if not shared:
        return lines + ["The baseline measured none of this run's modes.", ""]
    for mode in shared:
        old, new = baseline["modes"][mode], report["modes"][mode]
        rows = [(f"{split} {g}", old.get("by_split", {}).get(split, {}).get(g), row.get(g))
                for split, row in sorted(new.get("by_split", {}).items(), reverse=True) for g in ("fr", "en")]
        rows += [(g, old.get(g), new.get(g)) for g in ("fr", "en", "overall")]
        rows += [(f"kind: {k}", old.get("by_kind", {}).get(k), row) for k, row in new.get("by_kind", {}).items()]
        lines += [f"### {mode}", "", "| group | " + _header(COMPARED), "|" + "---|" * (len(COMPARED) + 1)]
        for group, before, after in rows:
            if before is None or after is None:
                continue
            lines.append(f"| {group} | " + " | ".join(_change(m, before.get(m.key), after.get(m.key)) for m in COMPARED)
                         + " |")
        lines.append("")
    return lines


def _before_after_chart(path: Path, baseline: dict[str, Any], report: dict[str, Any]) -> None:
    shared = [m for m in report["modes"] if m in baseline["modes"]]
    if shared:
        mode = "hybrid" if "hybrid" in shared else shared[0]
        _grouped_bars(path, [("before", baseline["modes"][mode]), ("after", report["modes"][mode])], f"{mode}, ")


def confidence_curve(outcomes: list[Outcome]) -> list[tuple[float, float, float]]:
    """(threshold, precision, coverage) for each confidence the answers were given with: answering only at or
    above it, how often the answer is right, and what share of the answerable questions is answered right."""
    answered = [(float(o.extra["confidence"]), o.item.answerable and o.answer_correct)
                for o in outcomes if not o.abstained and o.extra.get("confidence") is not None]
    answerable = sum(o.item.answerable for o in outcomes) or 1
    return [(s.threshold, s.right / s.kept, s.right / answerable) for s in by_confidence(answered)]


def _confidence_chart(path: Path, outcomes: dict[str, list[Outcome]]) -> None:
    """Precision against coverage per language, on the test part when the run has one."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for mode, mode_outcomes in outcomes.items():
        part = [o for o in mode_outcomes if o.item.split == "test"] or mode_outcomes
        for lang in ("fr", "en"):
            curve = confidence_curve([o for o in part if o.item.lang == lang])
            if curve:
                ax.plot([c for _, _, c in curve], [p for _, p, _ in curve], label=f"{mode} {lang}")
    ax.axhline(0.95, color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel("coverage (answerable questions answered right)")
    ax.set_ylabel("precision of the answers kept")
    ax.set_title("Answering only above a confidence (test part)")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _chart(path: Path, report: dict[str, Any]) -> None:
    _grouped_bars(path, list(report["modes"].items()), "")


def _grouped_bars(path: Path, series: list[tuple[str, dict[str, Any]]], title_prefix: str) -> None:
    """One panel per language; in each, one bar per series (a mode, or before/after) for every metric."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4), sharey=True)
    width = 0.8 / max(1, len(series))
    for ax, lang in zip(axes, ("fr", "en")):
        for i, (label, groups) in enumerate(series):
            row = groups.get(lang, {})
            values = [row.get(m.key) or 0 for m in CHARTED]
            ax.bar([x + i * width for x in range(len(CHARTED))], values, width, label=label)
        ax.set_xticks([x + width * (len(series) - 1) / 2 for x in range(len(CHARTED))])
        ax.set_xticklabels([m.key for m in CHARTED], rotation=30, ha="right", fontsize=8)
        ax.set_title(f"{title_prefix}{lang} questions")
        ax.set_ylim(0, 1)
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
