"""The eval report on disk: a Markdown table per mode and language, the failures, and a PNG chart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .metrics import Outcome


def write_report(out_dir: Path, report: dict[str, Any], outcomes: dict[str, list[Outcome]]) -> None:
    from .run import KEYS, format_table

    out_dir.mkdir(parents=True, exist_ok=True)
    lines = [
        "# Evaluation report", "",
        f"Q&A file `{report.get('qa_file')}`, {report['n']} questions; model `{report.get('model')}`; "
        f"index {report.get('index')}; answer mode `{report.get('answer_mode')}`.", "",
        "## By mode and language", "", format_table(report), "",
    ]
    for mode, groups in report["modes"].items():
        lines += [f"## {mode}: by question kind", "", "| kind | n | " + " | ".join(KEYS) + " |",
                  "|" + "---|" * (len(KEYS) + 2)]
        for kind, row in groups["by_kind"].items():
            cells = ["-" if row[k] is None else f"{row[k]:.3f}" if isinstance(row[k], float) else str(row[k]) for k in KEYS]
            lines.append(f"| {kind} | {row['n']} | " + " | ".join(cells) + " |")
        lines += ["", f"### {mode}: failed questions", ""]
        for o in outcomes[mode]:
            problems = []
            if o.item.answerable:
                if o.abstained:
                    problems.append(f"abstained ({o.extra.get('abstain_reason')})")
                elif not o.answer_correct:
                    problems.append("answer lacks the expected string")
                if o.first_relevant_rank != 1:
                    problems.append(f"first relevant passage at rank {o.first_relevant_rank}")
            elif not o.abstained:
                problems.append("answered an unanswerable question")
            if problems:
                answer = o.answer_text.replace("\n", " ").replace("|", "\\|")[:220]
                lines.append(f"- **{o.item.id}** ({o.item.kind}) {o.item.question} — expected {list(o.item.answers)} "
                             f"in {sorted(o.item.gold_docs)}; {'; '.join(problems)}; top releases "
                             f"{o.extra.get('top_docs')}; answer: {answer}")
        lines.append("")
    (out_dir / "report.md").write_text("\n".join(lines), encoding="utf-8")
    _chart(out_dir / "modes.png", report)


def _chart(path: Path, report: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = ["recall@1", "recall@5", "answer_accuracy", "citation_accuracy", "abstain_unanswerable", "false_abstain"]
    modes = list(report["modes"])
    fig, axes = plt.subplots(1, 2, figsize=(12, 4), sharey=True)
    for ax, lang in zip(axes, ("fr", "en")):
        width = 0.8 / max(1, len(modes))
        for i, mode in enumerate(modes):
            row = report["modes"][mode].get(lang, {})
            values = [row.get(m) or 0 for m in metrics]
            ax.bar([x + i * width for x in range(len(metrics))], values, width, label=mode)
        ax.set_xticks([x + width * (len(modes) - 1) / 2 for x in range(len(metrics))])
        ax.set_xticklabels(metrics, rotation=30, ha="right", fontsize=8)
        ax.set_title(f"{lang} questions")
        ax.set_ylim(0, 1)
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
