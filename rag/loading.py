"""Read release files from disk into cleaned Documents, skipping what cannot be used with a logged reason."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .cleaning import clean_release, shared_boilerplate
from .errors import CorpusError
from .language import detect_document_language
from .schema import Document

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (".txt", ".md")
MAX_DOCUMENT_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class SkippedSource:
    source: str
    reason: str


@dataclass(frozen=True)
class LoadReport:
    documents: tuple[Document, ...]
    skipped: tuple[SkippedSource, ...]


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def decode_release(data: bytes) -> tuple[str, str]:
    """Decode bytes as UTF-8 (BOM allowed), else Windows-1252; raise ValueError for binary data."""
    if b"\x00" in data[:8192]:
        raise ValueError("binary file (contains NUL bytes)")
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        raise ValueError("neither UTF-8 nor Windows-1252 text") from None
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\n\r\t")
    if controls > len(text) / 100:
        raise ValueError("binary file (too many control characters)")
    return text, "cp1252"


def iter_source_files(paths: Iterable[Path]) -> list[Path]:
    """Files under the given paths (folders recursively), in a stable order."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(p for p in sorted(path.rglob("*")) if p.is_file() and not p.name.startswith("."))
        elif path.exists():
            found.append(path)
        else:
            raise CorpusError(f"source {path} does not exist")
    return found


def _doc_id(path: Path, roots: list[Path]) -> str:
    for root in roots:
        if root.is_dir() and path.is_relative_to(root):
            return path.relative_to(root).with_suffix("").as_posix()
    return path.stem


def load_documents(paths: Iterable[Path], max_bytes: int = MAX_DOCUMENT_BYTES) -> LoadReport:
    """Load, decode, clean and de-duplicate every release found under `paths`."""
    roots = [Path(p) for p in paths]
    raw_texts: list[tuple[Path, str]] = []
    skipped: list[SkippedSource] = []
    for path in iter_source_files(roots):
        reason = None
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            reason = f"unsupported file type '{path.suffix or '(none)'}' (supported: {', '.join(SUPPORTED_SUFFIXES)})"
        elif path.stat().st_size == 0:
            reason = "empty file"
        elif path.stat().st_size > max_bytes:
            reason = f"file is {path.stat().st_size / 1e6:.1f} MB, over the {max_bytes / 1e6:.0f} MB limit"
        if reason is None:
            try:
                text, encoding = decode_release(path.read_bytes())
                if encoding != "utf-8":
                    log.warning("%s: not UTF-8, decoded as %s", path, encoding)
                if not text.strip():
                    reason = "file holds only whitespace"
                else:
                    raw_texts.append((path, text))
            except OSError as exc:
                reason = f"unreadable: {exc.strerror or exc}"
            except ValueError as exc:
                reason = str(exc)
        if reason is not None:
            log.warning("skipped %s: %s", path, reason)
            skipped.append(SkippedSource(str(path), reason))

    boilerplate = shared_boilerplate([text for _, text in raw_texts])
    documents: list[Document] = []
    by_hash: dict[str, str] = {}
    for path, raw in raw_texts:
        cleaned = clean_release(raw, boilerplate)
        doc_id = _doc_id(path, roots)
        if not cleaned.text:
            skipped.append(SkippedSource(str(path), "nothing left after removing boilerplate"))
            log.warning("skipped %s: nothing left after removing boilerplate", path)
            continue
        digest = content_hash(cleaned.text)
        if digest in by_hash:
            reason = f"duplicate of {by_hash[digest]} (same text)"
            skipped.append(SkippedSource(str(path), reason))
            log.warning("skipped %s: %s", path, reason)
            continue
        by_hash[digest] = doc_id
        log.info(
            "%s: removed %d boilerplate line(s) %s; title=%s date=%s",
            doc_id, cleaned.removed_lines, cleaned.removed_reasons or "", cleaned.title is not None, cleaned.date,
        )
        documents.append(
            Document(
                doc_id=doc_id,
                source=str(path),
                title=cleaned.title,
                date=cleaned.date,
                lang=detect_document_language(cleaned.text),
                text=cleaned.text,
                content_hash=digest,
                removed_lines=cleaned.removed_lines,
            )
        )
    return LoadReport(tuple(documents), tuple(skipped))


def source_fingerprint(paths: Iterable[Path]) -> str:
    """A hash of every file's path and bytes under the sources: it changes when any release does."""
    digest = hashlib.sha256()
    for path in iter_source_files([Path(p) for p in paths if Path(p).exists()]):
        digest.update(str(path).encode("utf-8", "surrogateescape") + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()
