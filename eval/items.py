"""The Q&A items of an eval file: their record, loading them with the line of any fault, and checking their releases."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.errors import RagError

from .validate import contains_answer, runner_problems


@dataclass(frozen=True)
class QAItem:
    id: str
    lang: str
    question: str
    answers: tuple[str, ...]
    doc_id: str | None
    alt_doc_ids: tuple[str, ...]
    evidence: str
    answerable: bool
    kind: str
    split: str = ""  # "tune" or "test" for the bundled set (eval/split.json); empty for other files

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QAItem:
        return cls(
            id=data["id"], lang=data["lang"].lower(), question=data["question"],
            answers=tuple(data.get("answers") or ()),
            doc_id=data.get("doc_id"), alt_doc_ids=tuple(data.get("alt_doc_ids") or ()),
            evidence=data.get("evidence") or "", answerable=bool(data["answerable"]), kind=data.get("kind") or "fact",
        )

    @property
    def gold_docs(self) -> set[str]:
        return {d for d in (self.doc_id, *self.alt_doc_ids) if d}

    def is_relevant(self, doc_id: str, text: str) -> bool:
        """A passage is relevant when it comes from a gold release and contains one of the answers."""
        return doc_id in self.gold_docs and self.answered_by(text)

    def answered_by(self, *texts: str) -> bool:
        """Whether one of the texts contains one of the answers."""
        return any(contains_answer(text, a) for a in self.answers for text in texts)


def load_items(path: Path) -> list[QAItem]:
    items = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise RagError(f"cannot read the Q&A file {path}: {exc.strerror or exc}") from exc
    seen: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise RagError(f"{path}:{number}: not JSON ({exc.msg}, column {exc.colno})") from exc
        problems = runner_problems(record)
        if problems:
            raise RagError(f"{path}:{number}: not a Q&A record: {'; '.join(problems)}; "
                           "check the file with `python -m eval.validate`")
        if record["id"] in seen:
            raise RagError(f"{path}:{number}: id {record['id']!r} was already used on line {seen[record['id']]}")
        seen[record["id"]] = number
        items.append(QAItem.from_dict(record))
    if not items:
        raise RagError(f"{path} holds no questions")
    return items


def check_releases_indexed(items: list[QAItem], indexed: set[str]) -> None:
    """A question whose release is not in the index would score zero and look like a retrieval failure."""
    missing: dict[str, list[str]] = {}
    for item in items:
        for doc_id in sorted(item.gold_docs - indexed):
            missing.setdefault(doc_id, []).append(item.id)
    if missing:
        listed = "; ".join(f"{doc_id} (asked by {', '.join(ids[:3])}{'…' if len(ids) > 3 else ''})"
                           for doc_id, ids in sorted(missing.items()))
        raise RagError(f"{len(missing)} release(s) named by the Q&A file are not in the index: {listed}. "
                       "Index them (rag index --add FILE) or point --corpus-dir at the corpus they come from.")
