"""Read release files from disk into cleaned Documents, skipping what cannot be used with a logged reason."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from rag.errors import CorpusError
from rag.schema import Document
from rag.text.cleaning import clean_release, parse_date, shared_boilerplate
from rag.text.dedup import near_duplicates
from rag.text.formats import CONTAINER_SIZE_FACTOR, DOCUMENT_SUFFIXES, extract_document
from rag.text.language import detect_document_language

log = logging.getLogger(__name__)

HTML_SUFFIXES = (".html", ".htm")
SUPPORTED_SUFFIXES = (".txt", ".md", *HTML_SUFFIXES, *DOCUMENT_SUFFIXES)
# A news release is rarely over 100 kB; 1 MB of text is already about 2,000 passages to embed (minutes on
# two cores), and a bigger file is more likely a dump or a book than a release.
MAX_DOCUMENT_BYTES = 1_000_000
# A web page carries scripts and styles around its article: its file may be this many times the limit, as long
# as the extracted text is within it.
HTML_MARKUP_FACTOR = 5
_FILE_SIZE_FACTORS = {**dict.fromkeys(HTML_SUFFIXES, HTML_MARKUP_FACTOR),
                      **dict.fromkeys(DOCUMENT_SUFFIXES, CONTAINER_SIZE_FACTOR)}
_MARKDOWN_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+", re.MULTILINE)
# The target may hold one level of parentheses: [link](javascript:alert(1)), [page](https://x/a_(b)).
_MARKDOWN_LINK = re.compile(r"!?\[([^\[\]]*)\]\((?:[^()]|\([^()]*\))*\)")


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


# Longest first: the UTF-32 little-endian mark begins with the UTF-16 one.
_BYTE_ORDER_MARKS = ((b"\xff\xfe\x00\x00", "utf-32-le"), (b"\x00\x00\xfe\xff", "utf-32-be"),
                     (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))


def _decode_marked(data: bytes) -> tuple[str, str] | None:
    """Text that announces UTF-16 or UTF-32 with its byte-order mark, decoded; None without such a mark."""
    for mark, codec in _BYTE_ORDER_MARKS:
        if data.startswith(mark):
            try:
                return _not_binary(data[len(mark):].decode(codec)), codec[:6]
            except UnicodeDecodeError:
                name = codec[:6].upper()
                raise ValueError(f"starts with a {name} byte-order mark but is not {name} text") from None
    return None


def _not_binary(text: str) -> str:
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\n\r\t")
    if controls > len(text) / 100:
        raise ValueError("binary file (too many control characters)")
    return text


def decode_release(data: bytes) -> tuple[str, str]:
    """Decode bytes as UTF-8 (BOM allowed), UTF-16/32 with their BOM, else Windows-1252; raise ValueError for
    binary data."""
    marked = _decode_marked(data)
    if marked:
        return marked
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
    return _not_binary(text), "cp1252"


@dataclass(frozen=True)
class RawRelease:
    path: Path
    text: str
    title: str | None = None
    date: str | None = None


def read_release(path: Path) -> RawRelease:
    """The text of one file: plain text as is, Markdown without its markup, HTML through trafilatura, PDF and
    Word through rag.text.formats."""
    data = path.read_bytes()
    suffix = path.suffix.lower()
    if suffix in HTML_SUFFIXES:
        return _read_html(path, data)
    if suffix in DOCUMENT_SUFFIXES:
        extracted = extract_document(suffix, data)
        return RawRelease(path, extracted.text, extracted.title)
    text, encoding = decode_release(data)
    if encoding != "utf-8":
        log.warning("%s: not UTF-8, decoded as %s", path, encoding)
    if suffix == ".md":
        text = _MARKDOWN_LINK.sub(r"\1", _MARKDOWN_HEADING.sub("", text))
    return RawRelease(path, text)


def _read_html(path: Path, data: bytes) -> RawRelease:
    import trafilatura

    marked = _decode_marked(data)
    if marked is None and b"\x00" in data[:8192]:
        raise ValueError("binary file (contains NUL bytes)")
    extracted = trafilatura.bare_extraction(
        marked[0] if marked else data, with_metadata=True, include_comments=False, include_tables=False,
        favor_precision=True,
    )
    text = getattr(extracted, "text", None) if extracted is not None else None
    if not text or not text.strip():
        raise ValueError("no article text found in the HTML page")
    title = (getattr(extracted, "title", None) or "").strip() or None
    date = getattr(extracted, "date", None)
    if title and not text.lstrip().startswith(title):
        text = f"{title}\n{text}"  # the heading is part of the release a reader sees
    return RawRelease(path, text, title, parse_date(date) if date else None)


def iter_source_files(paths: Iterable[Path]) -> list[Path]:
    """Files under the given paths (folders recursively), in a stable order."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(p for p in sorted(path.rglob("*")) if p.is_file() and not p.name.startswith("."))
        elif path.exists():
            found.append(path)
        else:
            raise CorpusError(
                f"source {path} does not exist: if the releases moved, point corpus_dir at their folder "
                "(--corpus-dir or RAG_CORPUS_DIR), or name the sources again with `rag index --source FOLDER`")
    return found


def _doc_id(path: Path, roots: list[Path]) -> str:
    for root in roots:
        if root.is_dir() and path.is_relative_to(root):
            return path.relative_to(root).with_suffix("").as_posix()
    return path.stem


def _too_big(what: str, size: int, max_bytes: int) -> str:
    return (f"{what} is {size / 1e6:.1f} MB, over the {max_bytes / 1e6:.0f} MB limit for one release: "
            "split it into its releases")


def load_documents(paths: Iterable[Path], max_bytes: int = MAX_DOCUMENT_BYTES) -> LoadReport:
    """Load, decode, clean and de-duplicate every release found under `paths`."""
    roots = [Path(p) for p in paths]
    raw_texts: list[RawRelease] = []
    skipped: list[SkippedSource] = []
    for path in iter_source_files(roots):
        reason = None
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            reason = f"unsupported file type '{path.suffix or '(none)'}' (supported: {', '.join(SUPPORTED_SUFFIXES)})"
        elif (size := path.stat().st_size) == 0:
            reason = "empty file"
        elif size > max_bytes * _FILE_SIZE_FACTORS.get(path.suffix.lower(), 1):
            reason = _too_big("file", size, max_bytes)
        if reason is None:
            try:
                release = read_release(path)
                text_bytes = len(release.text.encode("utf-8"))
                if not release.text.strip():
                    reason = "file holds only whitespace"
                elif text_bytes > max_bytes:
                    reason = _too_big("its text", text_bytes, max_bytes)
                else:
                    raw_texts.append(release)
            except OSError as exc:
                reason = f"unreadable: {exc.strerror or exc}"
            except ValueError as exc:
                reason = str(exc)
        if reason is not None:
            log.warning("skipped %s: %s", path, reason)
            skipped.append(SkippedSource(str(path), reason))

    boilerplate = shared_boilerplate([r.text for r in raw_texts])
    documents: list[Document] = []
    by_hash: dict[str, str] = {}
    for release in raw_texts:
        path = release.path
        cleaned = clean_release(release.text, boilerplate)
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
        lang = detect_document_language(cleaned.text)
        if lang not in ("fr", "en"):
            log.warning("%s: written in '%s'; it is indexed, but questions are understood in French and English",
                        doc_id, lang)
        documents.append(
            Document(
                doc_id=doc_id,
                source=str(path),
                title=release.title or cleaned.title,
                date=release.date or cleaned.date,
                lang=lang,
                text=cleaned.text,
                content_hash=digest,
                removed_lines=cleaned.removed_lines,
            )
        )
    duplicates = near_duplicates([d.text for d in documents])
    for index, original in sorted(duplicates.items()):
        reason = f"near-duplicate of {documents[original].doc_id} (same release, other page chrome)"
        log.warning("skipped %s: %s", documents[index].source, reason)
        skipped.append(SkippedSource(documents[index].source, reason))
    kept = tuple(d for i, d in enumerate(documents) if i not in duplicates)
    return LoadReport(kept, tuple(skipped))


def source_fingerprint(paths: Iterable[Path]) -> str:
    """A hash of every file's path and bytes under the sources: it changes when any release does."""
    digest = hashlib.sha256()
    for path in iter_source_files([Path(p) for p in paths if Path(p).exists()]):
        digest.update(str(path).encode("utf-8", "surrogateescape") + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()
