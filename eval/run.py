"""`rag eval`: run a Q&A file through every retrieval mode over one loaded model and index, and report."""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from tqdm import tqdm

from rag.assistant import Assistant, open_assistant
from rag.config import RagConfig
from rag.errors import RagError
from rag.schema import RETRIEVAL_MODES

from .items import QAItem, check_releases_indexed, load_items
from .metrics import Outcome, summarise, summarise_by
from .report import format_table, write_report
from .split import SPLIT_PATH, SplitError, load_split, split_problems
from .validate import DEFAULT_QA_PATH

RETRIEVAL_DEPTH = 10


def _shown(path: Path) -> str:
    """A path as the report shows it: relative to the current folder when it lies inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def parse_modes(text: str) -> list[str]:
    modes = list(dict.fromkeys(m.strip() for m in text.split(",") if m.strip()))
    if not modes:
        raise RagError("no retrieval mode given: use --modes with dense, lexical and/or hybrid")
    unknown = [m for m in modes if m not in RETRIEVAL_MODES]
    if unknown:
        raise RagError(f"unknown retrieval mode(s) {unknown}: use {', '.join(RETRIEVAL_MODES)}")
    return modes


def _one_retrieval_serves_both(assistant: Assistant, answer_mode: str | None) -> bool:
    """Whether ask(top_k=RETRIEVAL_DEPTH) gives both the answer ask() gives and the ranking retrieve() gives.

    Both retrieve max(top_k, candidate_passages) passages and rerank them by best sentence, and an extractive
    answer depends on nothing else. But an LLM is prompted with the answer's top_k passages, and a configured
    top_k above RETRIEVAL_DEPTH retrieves deeper: then the ranking is retrieved on its own, as before."""
    extractive = (answer_mode or assistant.config.answer_mode) != "llm"
    return extractive and assistant.config.top_k <= RETRIEVAL_DEPTH


def evaluate_item(assistant: Assistant, item: QAItem, mode: str, answer_mode: str | None) -> Outcome:
    one_retrieval = _one_retrieval_serves_both(assistant, answer_mode)
    started = time.perf_counter()
    answer = assistant.ask(item.question, mode=mode, top_k=RETRIEVAL_DEPTH if one_retrieval else None,
                           answer_mode=answer_mode)
    latency = (time.perf_counter() - started) * 1000
    ranked = answer.passages if one_retrieval else assistant.retrieve(item.question, mode=mode, top_k=RETRIEVAL_DEPTH)
    documents = assistant.stored.documents
    chunk_text = {c.chunk_id: c.text for c in assistant.stored.chunks}
    # A citation counts with the other-language version cited beside it (see Outcome.original_quotes).
    citations = [c for cited_pair in answer.citations for c in cited_pair.spans]
    cited = tuple((c.doc_id, chunk_text.get(c.chunk_id, c.quote)) for c in citations)
    verbatim = tuple(
        c.doc_id in documents and documents[c.doc_id].text[c.start:c.end] == c.quote for c in citations
    )
    return Outcome(
        item=item,
        ranked=tuple((p.chunk.doc_id, p.chunk.text) for p in ranked),
        answer_text=answer.answer,
        abstained=answer.mode == "abstain",
        cited=cited,
        quotes_verbatim=verbatim,
        latency_ms=latency,
        original_quotes=tuple(c.original.quote for c in answer.citations if c.original is not None),
        extra={
            "quoted_chars": (sum(len(c.quote) for c in answer.citations) if answer.mode == "extractive"
                             else len(answer.answer)),
            "answer_mode": answer.mode,
            "abstain_reason": answer.abstain_reason,
            "top_docs": [p.chunk.doc_id for p in ranked[:3]],
            "note": answer.note,
            "confidence": answer.confidence,
            "well_supported": answer.well_supported,
        },
    )


def run_eval(assistant: Assistant, items: list[QAItem], modes: list[str], answer_mode: str | None = None,
             progress: bool = True) -> tuple[dict[str, Any], dict[str, list[Outcome]]]:
    report: dict[str, Any] = {"modes": {}, "n": len(items)}
    outcomes_by_mode: dict[str, list[Outcome]] = {}
    assistant.warm_up()  # what a first question loads is not timed
    for mode in modes:
        outcomes = [
            evaluate_item(assistant, item, mode, answer_mode)
            for item in tqdm(items, desc=f"eval {mode}", disable=not progress, file=sys.stderr)
        ]
        outcomes_by_mode[mode] = outcomes
        report["modes"][mode] = {"overall": summarise(outcomes), **summarise_by(outcomes, "lang"),
                                 "by_kind": summarise_by(outcomes, "kind")}
        splits = sorted({o.item.split for o in outcomes if o.item.split})
        if len(splits) > 1:
            report["modes"][mode]["by_split"] = {
                split: {"overall": summarise(part), **summarise_by(part, "lang")}
                for split in splits for part in [[o for o in outcomes if o.item.split == split]]
            }
    return report, outcomes_by_mode


def with_split(items: list[QAItem], split: str, bundled: bool) -> list[QAItem]:
    """The bundled set's items labelled with their part of the frozen split, keeping only `split` (or all)."""
    if not bundled:
        if split != "all":
            raise RagError("--split needs the bundled question set (eval/qa.jsonl with eval/split.json)")
        return items
    try:
        frozen = load_split()
    except SplitError as exc:
        raise RagError(str(exc)) from exc
    problems = split_problems([item.id for item in items], frozen)
    if problems:
        raise RagError(f"{SPLIT_PATH}: " + "; ".join(problems[:5]) + ("…" if len(problems) > 5 else ""))
    labelled = [replace(item, split=frozen.part_of(item.id) or "") for item in items]
    return [item for item in labelled if split == "all" or item.split == split]


def load_baseline(path: Path) -> dict[str, Any]:
    """An earlier run's metrics (`--out`'s results.json or `--json`'s output), checked before the run starts."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RagError(f"cannot read the baseline {path}: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("modes"), dict):
        raise RagError(f"{path} is not the output of `rag eval --json` (no \"modes\" object)")
    return data


def run_cli(args: argparse.Namespace, config: RagConfig) -> int:
    modes = parse_modes(args.modes)
    qa_path = args.qa or DEFAULT_QA_PATH
    items = with_split(load_items(qa_path), getattr(args, "split", "all"), bundled=args.qa is None)
    baseline = load_baseline(args.baseline) if getattr(args, "baseline", None) else None
    assistant = open_assistant(config, build=not args.no_build)
    check_releases_indexed(items, set(assistant.stored.documents))
    report, outcomes = run_eval(assistant, items, modes, args.answer_mode)
    status = assistant.status()
    report["model"] = status.model_id
    report["index"] = {"generation": status.generation, "documents": status.documents, "chunks": status.chunks,
                       "chunk_size": config.chunk_size, "chunk_overlap": config.chunk_overlap, "top_k": config.top_k}
    report["qa_file"] = _shown(qa_path)
    report["split"] = getattr(args, "split", "all")
    report["command"] = " ".join(["rag eval", f"--qa {_shown(qa_path)}", f"--split {report['split']}",
                                  f"--modes {','.join(modes)}",
                                  *([f"--answer-mode {args.answer_mode}"] if args.answer_mode else []),
                                  *([f"--baseline {args.baseline}"] if getattr(args, "baseline", None) else []),
                                  *([f"--out {args.out}"] if args.out else [])])
    report["answer_mode"] = args.answer_mode or config.answer_mode
    if args.out:
        write_report(args.out, report, outcomes, baseline)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        print(format_table(report))
        if args.out:
            charts = "modes.png, confidence.png" + (" and before_after.png" if baseline is not None else "")
            print(f"report written to {args.out}/report.md, {args.out}/results.json and {args.out}/{charts}")
    return 0
