"""Validate the evaluation question set (eval/qa.jsonl) against the press-release seeds."""

from __future__ import annotations

import argparse
import json
import re
import sys
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Any

REPO_ROOT: Path = Path(__file__).resolve().parent.parent
DEFAULT_QA_PATH: Path = REPO_ROOT / "eval" / "qa.jsonl"
DEFAULT_SEEDS_DIR: Path = REPO_ROOT / "seeds"

EXPECTED_KEYS: frozenset[str] = frozenset(
    {"id", "lang", "question", "answers", "doc_id", "alt_doc_ids", "evidence", "answerable", "kind"}
)
LANGS: frozenset[str] = frozenset({"fr", "en"})
KINDS: frozenset[str] = frozenset({"fact", "paraphrase", "number", "date", "multi", "unanswerable", "near_miss"})
# A near miss names people, meetings and dates that a release holds and asks for something it never states.
UNANSWERABLE_KINDS: frozenset[str] = frozenset({"unanswerable", "near_miss"})
MAX_ANSWERS: int = 3
ID_PATTERN: re.Pattern[str] = re.compile(r"^(fr|en)-\d{3}$")

_APOSTROPHES: dict[int, str] = {ord(c): "'" for c in "\u2019\u2018\u02bc\u00b4`"}
# \s already covers NBSP (U+00A0) and narrow NBSP (U+202F) for str patterns; listed for clarity.
_WHITESPACE_RUN: re.Pattern[str] = re.compile(r"[\s\u00a0\u202f\u2007\u2060\ufeff]+")


def normalize_for_match(text: str) -> str:
    """Casefold, unify apostrophes and collapse whitespace runs (incl. NBSP) to one space."""
    text = unicodedata.normalize("NFC", text)
    text = text.translate(_APOSTROPHES)
    text = text.casefold()
    return _WHITESPACE_RUN.sub(" ", text).strip()


def contains_answer(haystack: str, answer: str) -> bool:
    """True if normalised answer occurs in normalised haystack as whole words (not inside a longer word)."""
    needle = normalize_for_match(answer)
    if not needle:
        return False
    pattern = re.escape(needle)
    if needle[0].isalnum():
        pattern = r"(?<!\w)" + pattern
    if needle[-1].isalnum():
        pattern += r"(?!\w)"
    return re.search(pattern, normalize_for_match(haystack)) is not None


def load_documents(seeds_dir: Path) -> dict[str, str]:
    """Map each release's doc id (file stem) to its normalised text."""
    docs: dict[str, str] = {}
    for path in sorted(seeds_dir.iterdir()):
        if path.is_file() and not path.name.startswith("."):
            docs[path.stem] = normalize_for_match(path.read_text(encoding="utf-8"))
    return docs


def _is_str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _check_types(obj: dict[str, Any]) -> list[str]:
    """Type problems of the keys the record has (missing keys are reported elsewhere)."""
    problems: list[str] = []
    for key in ("id", "lang", "question"):
        if key in obj and not isinstance(obj[key], str):
            problems.append(f"{key} must be a string")
    # Optional fields may be null: an unanswerable record has no evidence, no other releases, no answers.
    for key in ("evidence", "kind"):
        if obj.get(key) is not None and not isinstance(obj[key], str):
            problems.append(f"{key} must be a string or null")
    for key in ("answers", "alt_doc_ids"):
        if obj.get(key) is not None and not _is_str_list(obj[key]):
            problems.append(f"{key} must be a list of strings or null")
    if obj.get("doc_id") is not None and not isinstance(obj["doc_id"], str):
        problems.append("doc_id must be a string or null")
    if "answerable" in obj and not isinstance(obj["answerable"], bool):
        problems.append("answerable must be a boolean")
    return problems


# What `rag eval` needs of a record to score it; evidence, kind and alt_doc_ids may be left out.
RUNNER_KEYS: frozenset[str] = frozenset({"id", "lang", "question", "answers", "doc_id", "answerable"})


def runner_problems(obj: Any) -> list[str]:
    """Why `rag eval` cannot score this record (wrong shape or types), or nothing: unlike the full validation,
    this needs no release text, so any Q&A file over any index can be run."""
    if not isinstance(obj, dict):
        return [f"expected a JSON object, got {type(obj).__name__}"]
    missing = RUNNER_KEYS - set(obj)
    problems = [f"missing keys: {', '.join(sorted(missing))}"] if missing else []
    problems += _check_types(obj)
    if problems:
        return problems
    if not obj["lang"].strip():
        problems.append("lang is empty")
    if obj["answerable"] and (not obj.get("answers") or not obj["doc_id"]):
        problems.append("an answerable question needs answers and a doc_id (it could only score zero)")
    return problems


def _check_record(obj: dict[str, Any], docs: dict[str, str]) -> list[str]:
    """Content checks for one record whose keys and types are already known to be right."""
    problems: list[str] = []
    qid: str = obj["id"]
    lang: str = obj["lang"]
    kind: str = obj["kind"] or ""
    answers: list[str] = obj["answers"] or []
    doc_id: str | None = obj["doc_id"]
    alt_doc_ids: list[str] = obj["alt_doc_ids"] or []
    evidence: str = obj["evidence"] or ""

    if lang not in LANGS:
        problems.append(f"lang {lang!r} not in {sorted(LANGS)}")
    if kind not in KINDS:
        problems.append(f"kind {kind!r} not in {sorted(KINDS)}")
    if not ID_PATTERN.match(qid):
        problems.append(f"id {qid!r} does not look like 'fr-001' / 'en-001'")
    elif lang in LANGS and not qid.startswith(lang + "-"):
        problems.append(f"id {qid!r} does not match lang {lang!r}")
    if not obj["question"].strip():
        problems.append("question is empty")

    if not obj["answerable"]:
        if answers:
            problems.append("unanswerable question must have no answers")
        if doc_id is not None:
            problems.append("unanswerable question must have doc_id null")
        if alt_doc_ids:
            problems.append("unanswerable question must have no alt_doc_ids")
        if evidence:
            problems.append("unanswerable question must have empty evidence")
        if kind in KINDS and kind not in UNANSWERABLE_KINDS:
            problems.append(f"unanswerable question must have kind 'unanswerable' or 'near_miss', not {kind!r}")
        return problems

    if kind in UNANSWERABLE_KINDS:
        problems.append(f"kind {kind!r} requires answerable false")
    if not 1 <= len(answers) <= MAX_ANSWERS:
        problems.append(f"answerable question needs 1-{MAX_ANSWERS} answers, got {len(answers)}")
    if any(not normalize_for_match(a) for a in answers):
        problems.append("answers must not be empty strings")
    if not evidence.strip():
        problems.append("answerable question needs evidence")
    if doc_id is None:
        problems.append("answerable question needs a doc_id")
        return problems
    if doc_id not in docs:
        problems.append(f"unknown doc_id {doc_id!r}")
        return problems

    real_answers = [a for a in answers if normalize_for_match(a)]
    for alt in alt_doc_ids:
        if alt not in docs:
            problems.append(f"unknown alt_doc_id {alt!r}")
        elif alt == doc_id:
            problems.append(f"alt_doc_ids repeats doc_id {alt!r}")
        elif not any(contains_answer(docs[alt], a) for a in real_answers):
            problems.append(f"alt_doc_id {alt!r} contains none of the answers")
    if len(set(alt_doc_ids)) != len(alt_doc_ids):
        problems.append("alt_doc_ids has duplicates")

    text = docs[doc_id]
    for answer in real_answers:
        if not contains_answer(text, answer):
            problems.append(f"answer {answer!r} not found in {doc_id}")
    norm_evidence = normalize_for_match(evidence)
    if norm_evidence:
        if norm_evidence not in text:
            problems.append(f"evidence not found verbatim in {doc_id}")
        if real_answers and not any(contains_answer(norm_evidence, a) for a in real_answers):
            problems.append("no answer appears in the evidence")
    return problems


def validate_file(qa_path: Path | str, seeds_dir: Path | str) -> list[str]:
    """Return the list of problems found in qa_path (empty if the file is valid)."""
    qa_path, seeds_dir = Path(qa_path), Path(seeds_dir)
    if not seeds_dir.is_dir():
        return [f"FILE {seeds_dir}: seeds directory not found"]
    if not qa_path.is_file():
        return [f"FILE {qa_path}: question file not found"]
    docs = load_documents(seeds_dir)
    if not docs:
        return [f"FILE {seeds_dir}: no release files found"]

    problems: list[str] = []
    seen_ids: dict[str, int] = {}
    n_records = 0
    lines = qa_path.read_text(encoding="utf-8").splitlines()
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            problems.append(f"LINE {lineno} (?): empty line")
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"LINE {lineno} (?): invalid JSON: {exc.msg} (column {exc.colno})")
            continue
        if not isinstance(obj, dict):
            problems.append(f"LINE {lineno} (?): expected a JSON object, got {type(obj).__name__}")
            continue
        n_records += 1
        raw_id = obj.get("id")
        label = raw_id if isinstance(raw_id, str) else "?"
        record_problems: list[str] = []
        keys = set(obj)
        missing, extra = EXPECTED_KEYS - keys, keys - EXPECTED_KEYS
        if missing:
            record_problems.append(f"missing keys: {', '.join(sorted(missing))}")
        if extra:
            record_problems.append(f"unexpected keys: {', '.join(sorted(extra))}")
        if not missing:
            record_problems.extend(_check_types(obj))
        if isinstance(raw_id, str):
            if raw_id in seen_ids:
                record_problems.append(f"duplicate id (first seen on line {seen_ids[raw_id]})")
            else:
                seen_ids[raw_id] = lineno
        if not record_problems:
            record_problems.extend(_check_record(obj, docs))
        problems.extend(f"LINE {lineno} ({label}): {msg}" for msg in record_problems)
    if n_records == 0 and not problems:
        problems.append(f"FILE {qa_path}: no questions")
    return problems


def summarize(qa_path: Path | str) -> str:
    """One-line summary of a (valid) question file: counts by language, kind and answerable."""
    records = [json.loads(line) for line in Path(qa_path).read_text(encoding="utf-8").splitlines() if line.strip()]
    langs = Counter(r["lang"] for r in records)
    kinds = Counter(r["kind"] for r in records)
    answerable = Counter("answerable" if r["answerable"] else "unanswerable" for r in records)

    def fmt(counter: Counter[str]) -> str:
        return " ".join(f"{k}={v}" for k, v in sorted(counter.items()))

    return f"OK {len(records)} questions | lang: {fmt(langs)} | kind: {fmt(kinds)} | {fmt(answerable)}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.validate", description=__doc__)
    parser.add_argument("file", nargs="?", type=Path, default=DEFAULT_QA_PATH, help="question file (JSONL)")
    parser.add_argument("--seeds", type=Path, default=DEFAULT_SEEDS_DIR, help="directory of release files")
    args = parser.parse_args(argv)
    problems = validate_file(args.file, args.seeds)
    if problems:
        for problem in problems:
            print(problem)
        print(f"{len(problems)} problem(s) in {args.file}", file=sys.stderr)
        return 1
    print(summarize(args.file))
    return 0


if __name__ == "__main__":
    sys.exit(main())
