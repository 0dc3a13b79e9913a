"""The `rag` command: every sub-command is a thin call into the library."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import TextIO

from rag.config import RagConfig, load_config, page_logins
from rag.errors import QuestionError, RagError
from rag.schema import RETRIEVAL_MODES
from rag.terminal import for_terminal, json_for_terminal
from rag.wording import also_in, citation_words

log = logging.getLogger("rag")

# One field of a printed line (an id, a title, a file name): control characters shown as escapes such as \n.
field = partial(for_terminal, one_line=True)

# What a shell reports for a command killed by SIGPIPE: `rag add … | head` ends as quietly as `cat`.
EXIT_BROKEN_PIPE = 141


def _port_number(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number: ports run from 1 to 65535")
    return port


def _document_id(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("a document id cannot be empty: give the id an answer cites")
    return text


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="TOML config file (default: ./rag.toml if present)")
    parser.add_argument("--index-dir", type=Path, help="index folder (default: index/)")
    parser.add_argument("--corpus-dir", type=Path, help="folder of releases (default: seeds/)")
    parser.add_argument("--model", help="sentence-transformers model name or path (default: bundled offline model)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    parser.add_argument("-q", "--quiet", action="store_true", help="log warnings only")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rag", description="Cited question answering over news releases.")
    sub = parser.add_subparsers(dest="command", required=True)

    index = sub.add_parser("index", help="build or refresh the index")
    _common(index)
    index.add_argument("--source", type=Path, action="append",
                       help="folder or file of releases (repeatable; replaces the indexed sources)")
    index.add_argument("--prune", action="store_true", help="drop releases whose files are gone")

    add = sub.add_parser("add", help="add releases (files or folders of .txt, .md, .html, .pdf, .docx) to the index")
    _common(add)
    add.add_argument("paths", type=Path, nargs="+", help="files or folders to add")

    remove = sub.add_parser("remove", help="remove releases from the index by document id")
    _common(remove)
    remove.add_argument("doc_ids", nargs="+", type=_document_id,
                        help="document ids, as cited in answers (or a source file or folder, to drop it)")

    ask = sub.add_parser("ask", help="answer one question (or start an interactive loop without one)")
    _common(ask)
    ask.add_argument("question", nargs="?", help="the question; omit for an interactive loop")
    ask.add_argument("--json", action="store_true", help="print the answer object as JSON")
    ask.add_argument("--retrieval", choices=RETRIEVAL_MODES, help="retrieval mode")
    ask.add_argument("--top-k", type=int, help="number of passages to retrieve")
    ask.add_argument("--mode", choices=["extractive", "llm"], help="answer mode")
    ask.add_argument("--llm-base-url", help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:11434/v1")
    ask.add_argument("--llm-model", help="model name at the endpoint")
    ask.add_argument("--no-build", action="store_true", help="fail instead of building a missing or stale index")

    serve = sub.add_parser("serve", help="start the chat page")
    _common(serve)
    serve.add_argument("--host", help="address to bind (default 127.0.0.1; anything else exposes the page)")
    serve.add_argument("--port", type=_port_number, help="port, 1-65535 (default 7860)")
    serve.add_argument("--auth", metavar="USER:PASSWORD",
                       help="ask for this login on the page (other local users can read a command line: "
                            "prefer RAG_AUTH or --auth-file)")
    serve.add_argument("--auth-file", metavar="PATH", help="file of logins, one user:password a line")
    serve.add_argument("--no-build", action="store_true", help="fail instead of building a missing or stale index")

    ev = sub.add_parser("eval", help="run the Q&A evaluation set")
    _common(ev)
    ev.add_argument("--qa", type=Path, help="Q&A file (JSON Lines; default: the bundled eval/qa.jsonl)")
    ev.add_argument("--modes", default="dense,lexical,hybrid", help="comma-separated retrieval modes")
    ev.add_argument("--split", choices=["all", "tune", "test"], default="all",
                    help="part of the bundled set's frozen split to run (default all; the report shows each part)")
    ev.add_argument("--answer-mode", choices=["extractive", "llm"], help="answer mode")
    ev.add_argument("--json", action="store_true", help="print the metrics as one JSON object")
    ev.add_argument("--out", type=Path, help="folder for the Markdown report, PNG charts and results.json")
    ev.add_argument("--baseline", type=Path,
                    help="results.json (or --json output) of an earlier run: the report adds before/after tables")
    ev.add_argument("--no-build", action="store_true", help="fail instead of building a missing or stale index")
    return parser


def _config(args: argparse.Namespace) -> RagConfig:
    overrides = {
        "index_dir": args.index_dir,
        "corpus_dir": args.corpus_dir,
        "model": args.model,
        "host": getattr(args, "host", None),
        "port": getattr(args, "port", None),
        "auth": getattr(args, "auth", None),
        "auth_file": getattr(args, "auth_file", None),
        "retrieval_mode": getattr(args, "retrieval", None),
        "top_k": getattr(args, "top_k", None),
        "answer_mode": getattr(args, "mode", None) or getattr(args, "answer_mode", None),
    }
    config = load_config(args.config, **overrides)
    llm_overrides = {"base_url": getattr(args, "llm_base_url", None), "model": getattr(args, "llm_model", None)}
    if any(v is not None for v in llm_overrides.values()):
        from dataclasses import replace

        config = replace(config, llm=replace(config.llm, **{k: v for k, v in llm_overrides.items() if v is not None}))
    return config


def _print_answer(answer_dict: dict, stream: TextIO | None = None) -> None:  # type: ignore[type-arg]
    """The answer as lines of text, then a warning listing its unsupported sentences, its note, its confidence and
    one line per citation: its prose keeps its line breaks, every other line is one line whatever its parts
    hold, and nothing from a release reaches the terminal as a control sequence."""
    stream = stream or sys.stdout  # looked up when printing: sys.stdout may have been replaced since import
    print(for_terminal(answer_dict["answer"]), file=stream)
    words = citation_words(answer_dict.get("lang", "en"))
    if answer_dict.get("unsupported_sentences"):
        print(f"⚠ {words['unsupported']}", file=stream)
        for sentence in answer_dict["unsupported_sentences"]:
            print(f"  ✗ {field(sentence)}", file=stream)
    if answer_dict.get("note"):
        print(f"({field(answer_dict['note'])})", file=stream)
    if answer_dict.get("confidence") is not None:
        label = "well_supported" if answer_dict.get("well_supported") else "check"
        print(f"{words[label].format(confidence=answer_dict['confidence'])}.", file=stream)
    if answer_dict.get("context_question"):
        print(f"({words['follow_up'].format(question=field(answer_dict['context_question']))})", file=stream)
    for c in answer_dict["citations"]:
        print(f"  [{c['marker']}] {field(c['doc_id'])} — {field(c['title'] or words['untitled'])} — "
              f"{field(c['date'] or words['no_date'])} — {words['chars'].format(start=c['start'], end=c['end'])}",
              file=stream)
        if original := c.get("original"):
            print(f"    {also_in(answer_dict.get('lang', 'en'), original.get('lang') or '')} [{original['marker']}′] "
                  f"{field(original['doc_id'])} — {words['chars'].format(start=original['start'], end=original['end'])}"
                  f" — {field(original['quote'])}", file=stream)
    if alternative := answer_dict.get("alternative"):
        print(f"  {words['alternative']} [{alternative['marker']}] {field(alternative['doc_id'])} — "
              f"{field(alternative['quote'])}", file=stream)
    if answer_dict["mode"] == "abstain":
        for i, p in enumerate(answer_dict["passages"][:3], start=1):
            preview = " ".join(p["text"][:160].split())  # one line per passage, whatever its line breaks
            print(f"  ~{i} {field(p['doc_id'])}: {field(preview)}…", file=stream)


def cmd_index(args: argparse.Namespace, config: RagConfig) -> int:
    from rag.embed.embedder import SentenceTransformerEmbedder
    from rag.index.build import build_index

    started = time.perf_counter()
    embedder = SentenceTransformerEmbedder(config)
    load_s = time.perf_counter() - started
    report = build_index(
        config, embedder, sources=getattr(args, "source", None), show_progress=not args.quiet,
        add=getattr(args, "paths", None), remove=getattr(args, "doc_ids", None), prune=getattr(args, "prune", False),
    )
    print(f"index {report.generation} : {report.chunks} passages from "
          f"{len(report.added) + len(report.updated) + len(report.unchanged)} releases")
    print(f"  added {len(report.added)}, updated {len(report.updated)}, unchanged {len(report.unchanged)}, "
          f"removed {len(report.removed)}, skipped {len(report.skipped)}; "
          f"embedded {report.embedded_documents} release(s)")
    for label, ids in (("added", report.added), ("updated", report.updated), ("removed", report.removed)):
        if ids:
            print(f"  {label}: {', '.join(map(field, ids))}")
    for skipped in report.skipped:
        print(f"  skipped {field(skipped.source)}: {field(skipped.reason)}")
    if report.dropped_sources:
        print(f"  sources dropped: {', '.join(map(field, report.dropped_sources))}")
    if report.skipped_before:
        print(f"  {len(report.skipped_before)} file(s) skipped as in the last build, unchanged since")
    timings = {"model_load": load_s, **report.timings_s}
    print("  timings: " + ", ".join(f"{k} {v:.2f}s" for k, v in timings.items()))
    return 1 if report.skipped else 0


def cmd_ask(args: argparse.Namespace, config: RagConfig) -> int:
    from rag.assistant import open_assistant, validate_question

    if args.question is not None:
        validate_question(args.question, config.max_question_chars)  # fail fast, before loading the model
    assistant = open_assistant(config, build=not args.no_build)
    if args.question is not None:
        answer = assistant.ask(args.question).to_dict()
        if args.json:
            print(json_for_terminal(answer))
        else:
            _print_answer(answer)
        return 0
    history: list[str] = []
    # A line that is not UTF-8 reaches the loop as surrogates, which the question check refuses with a message,
    # rather than killing the loop with a UnicodeDecodeError.
    if hasattr(sys.stdin, "reconfigure"):
        sys.stdin.reconfigure(errors="surrogateescape")
    print("Ask a question about the releases (empty line or Ctrl-D to quit).")
    while True:
        try:
            question = input("? ").strip()
        except EOFError:
            return 0
        if not question:
            return 0
        try:
            answer = assistant.ask(question, history=history).to_dict()
        except QuestionError as exc:
            print(field(str(exc)))
            continue
        _print_answer(answer)
        history.append(question)


def cmd_serve(args: argparse.Namespace, config: RagConfig) -> int:
    from rag.assistant import open_assistant
    from ui.listen import listen_address

    # Both checked before the model loads: a wrong login line or a busy port fails in a second, not in ten.
    logins = page_logins(config)
    address = listen_address(config.host, config.port)
    assistant = open_assistant(config, build=not args.no_build)
    threading.Thread(target=assistant.warm_up, name="warm-up", daemon=True).start()
    from ui.app import serve

    serve(assistant, address, logins)
    return 0


def cmd_eval(args: argparse.Namespace, config: RagConfig) -> int:
    from eval.run import run_cli

    return run_cli(args, config)


class _TerminalFormatter(logging.Formatter):
    """Log lines name files and releases too: they reach the terminal through the same filter as the output."""

    def format(self, record: logging.LogRecord) -> str:
        return for_terminal(super().format(record))


def _silence_stdout() -> None:
    """After a reader closed the pipe, nothing more may be written to it, not even by the flush at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # a stream without a descriptor: replace it outright
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - lives until the process ends
    finally:
        os.close(devnull)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_TerminalFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler])
    for noisy in ("httpx", "sentence_transformers", "transformers", "urllib3", "faiss", "bm25s"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        config = _config(args)
        commands = {"index": cmd_index, "add": cmd_index, "remove": cmd_index, "ask": cmd_ask, "serve": cmd_serve,
                    "eval": cmd_eval}
        code = commands[args.command](args, config)
        sys.stdout.flush()  # here, where a closed pipe can still be caught, rather than at exit
        return code
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except QuestionError as exc:
        print(f"error: {field(str(exc))}", file=sys.stderr)
        return 2
    except RagError as exc:
        print(f"error: {field(str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
