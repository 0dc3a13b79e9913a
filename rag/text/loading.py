"""Read release files from disk into cleaned Documents, skipping what cannot be used with a logged reason."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import stat
import time
from collections.abc import Iterable, Mapping
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


@dataclass(frozen=True)
class DecodedText:
    text: str
    encoding: str
    # 1-based numbers of the lines whose malformed UTF-8 bytes were replaced by U+FFFD
    malformed_lines: tuple[int, ...] = ()


def _decode_marked(data: bytes) -> DecodedText | None:
    """Text that announces UTF-16 or UTF-32 with its byte-order mark, decoded; None without such a mark."""
    for mark, codec in _BYTE_ORDER_MARKS:
        if data.startswith(mark):
            try:
                return DecodedText(_not_binary(data[len(mark):].decode(codec)), codec[:6])
            except UnicodeDecodeError:
                name = codec[:6].upper()
                raise ValueError(f"starts with a {name} byte-order mark but is not {name} text") from None
    return None


def _not_binary(text: str) -> str:
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\n\r\t")
    if controls > len(text) / 100:
        raise ValueError("binary file (too many control characters)")
    return text


def _mostly_utf8(data: bytes) -> DecodedText | None:
    """Bytes that are not valid UTF-8 but mostly are, decoded with only their malformed bytes replaced; None for
    bytes that are mostly something else.

    The rule: more well-formed multi-byte UTF-8 sequences than malformed ones. A Windows-1252 file writes each
    accented letter as one byte, which is malformed UTF-8 (a well-formed sequence arises from it only by accident),
    while a UTF-8 file with a few stray bytes has far more well-formed accented letters than bad bytes.
    """
    replaced = data.decode("utf-8-sig", errors="replace")
    kept = data.decode("utf-8-sig", errors="ignore")
    malformed = len(replaced) - len(kept)  # each malformed sequence became one U+FFFD
    well_formed = sum(1 for ch in kept if ord(ch) > 0x7F)
    if well_formed <= malformed:
        return None
    lines = []
    for number, line in enumerate(data.split(b"\n"), start=1):  # no byte of a multi-byte sequence is a newline
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            lines.append(number)
    return DecodedText(_not_binary(replaced), "utf-8", tuple(lines))


def decode_release(data: bytes) -> DecodedText:
    """Decode bytes as UTF-8 (BOM allowed), UTF-16/32 with their BOM, mostly-UTF-8 with its few malformed bytes
    replaced, else Windows-1252; raise ValueError for binary data."""
    marked = _decode_marked(data)
    if marked:
        return marked
    if b"\x00" in data[:8192]:
        raise ValueError("binary file (contains NUL bytes)")
    try:
        return DecodedText(data.decode("utf-8-sig"), "utf-8")
    except UnicodeDecodeError:
        pass
    lenient = _mostly_utf8(data)
    if lenient:
        return lenient
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        raise ValueError("neither UTF-8 nor Windows-1252 text") from None
    return DecodedText(_not_binary(text), "cp1252")


def _line_numbers(lines: tuple[int, ...], shown: int = 10) -> str:
    listed = ", ".join(map(str, lines[:shown]))
    more = f" and {len(lines) - shown} more" if len(lines) > shown else ""
    return f"line{'s' if len(lines) > 1 else ''} {listed}{more}"


def _warn_decoding(path: Path, decoded: DecodedText) -> None:
    if decoded.malformed_lines:
        log.warning("%s: malformed UTF-8 on %s: read as UTF-8 with those bytes replaced by \ufffd", path,
                    _line_numbers(decoded.malformed_lines))
    elif decoded.encoding != "utf-8":
        log.warning("%s: not UTF-8, decoded as %s", path, decoded.encoding)


@dataclass(frozen=True)
class RawRelease:
    path: Path
    text: str
    title: str | None = None
    date: str | None = None


_SPECIAL_FILES = ((stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                  (stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"))


def _not_a_regular_file(mode: int) -> str | None:
    """Why a file of this mode is never opened (reading a device or a pipe may never end), or None for a regular
    file."""
    if stat.S_ISREG(mode):
        return None
    kind = next((name for is_kind, name in _SPECIAL_FILES if is_kind(mode)), "not a file")
    return f"{kind}, not a regular file: only regular files are read"


def largest_accepted_file(max_bytes: int = MAX_DOCUMENT_BYTES) -> int:
    """The size of the biggest file any supported format may have (what an upload may weigh at most)."""
    return max_bytes * max(_FILE_SIZE_FACTORS.values(), default=1)


def _size_limit(path: Path, max_bytes: int) -> int:
    return max_bytes * _FILE_SIZE_FACTORS.get(path.suffix.lower(), 1)


def _is_utf8_name(path: Path) -> bool:
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:  # bytes the file system gave that decode to no character (surrogate escapes)
        return False
    return True


def shown_path(path: Path) -> str:
    """The path as text that can be written anywhere: bytes of a non-UTF-8 name become \\xNN escapes."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def skip_reason(path: Path, info: os.stat_result, max_bytes: int = MAX_DOCUMENT_BYTES) -> str | None:
    """Why a file is not read as a release, decided from its name and its stat alone (it is not opened), or None
    when it is to be read."""
    special = _not_a_regular_file(info.st_mode)
    if special:
        return special
    if not _is_utf8_name(path):
        return "the file name is not valid UTF-8: rename it (for example with convmv -f latin1 -t utf8)"
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        return f"unsupported file type '{path.suffix or '(none)'}' (supported: {', '.join(SUPPORTED_SUFFIXES)})"
    if info.st_size == 0:
        return "empty file"
    if info.st_size > _size_limit(path, max_bytes):
        return _too_big("file", info.st_size, max_bytes)
    return None


def _open_regular(path: Path) -> int:
    """A descriptor of `path` opened for reading, when it is still a regular file once open (it may have been
    swapped for a pipe since it was checked; O_NONBLOCK keeps that open from waiting for a writer)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    special = _not_a_regular_file(os.fstat(fd).st_mode)
    if special:
        os.close(fd)
        raise ValueError(special)
    return fd


def _read_bounded(path: Path, limit: int) -> bytes:
    """At most `limit` bytes of a regular file; a file that grew past the limit since it was checked is refused."""
    with os.fdopen(_open_regular(path), "rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"file grew past the {limit / 1e6:.0f} MB limit while it was read")
    return data


def read_release(path: Path, max_bytes: int = MAX_DOCUMENT_BYTES) -> RawRelease:
    """The text of one file: plain text as is, Markdown without its markup, HTML through trafilatura, PDF and
    Word through rag.text.formats."""
    data = _read_bounded(path, _size_limit(path, max_bytes))
    suffix = path.suffix.lower()
    if suffix in HTML_SUFFIXES:
        return _read_html(path, data)
    if suffix in DOCUMENT_SUFFIXES:
        extracted = extract_document(suffix, data)
        return RawRelease(path, extracted.text, extracted.title)
    decoded = decode_release(data)
    _warn_decoding(path, decoded)
    text = decoded.text
    if suffix == ".md":
        text = _MARKDOWN_LINK.sub(r"\1", _MARKDOWN_HEADING.sub("", text))
    return RawRelease(path, text)


def _html_source(path: Path, data: bytes) -> str | bytes:
    """What trafilatura reads: text when the page is marked UTF-16/32 or is mostly UTF-8 with a few bad bytes,
    else the bytes, whose encoding trafilatura detects."""
    marked = _decode_marked(data)
    if marked:
        return marked.text
    if b"\x00" in data[:8192]:
        raise ValueError("binary file (contains NUL bytes)")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        lenient = _mostly_utf8(data)
        if lenient:
            _warn_decoding(path, lenient)
            return lenient.text
    return data


def _read_html(path: Path, data: bytes) -> RawRelease:
    import trafilatura

    extracted = trafilatura.bare_extraction(
        _html_source(path, data), with_metadata=True, include_comments=False, include_tables=False,
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
    """Files under the given paths (folders recursively), in a stable order, each file once however many paths
    reach it. Pipes, devices and sockets are listed too, to be skipped with their reason, never opened."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(p for p in sorted(path.rglob("*")) if not p.name.startswith(".") and not p.is_dir())
        elif path.exists():
            found.append(path)
        else:
            raise CorpusError(
                f"source {path} does not exist: if the releases moved, point corpus_dir at their folder "
                "(--corpus-dir or RAG_CORPUS_DIR), or name the sources again with `rag index --source FOLDER`")
    seen: set[str] = set()
    unique: list[Path] = []
    for path in found:
        if (resolved := str(path.resolve())) not in seen:
            seen.add(resolved)
            unique.append(path)
    return unique


def _base_doc_id(path: Path, roots: list[Path]) -> str:
    for root in roots:
        if root.is_dir() and path.is_relative_to(root):
            return path.relative_to(root).with_suffix("").as_posix()
    return path.stem


def path_tag(path: Path | str, length: int = 6) -> str:
    """The first `length` hex digits of the SHA-256 of the file's resolved path: what tells apart releases whose
    files have the same name."""
    resolved = str(Path(path).resolve()).encode("utf-8", "surrogateescape")
    return hashlib.sha256(resolved).hexdigest()[:length]


def is_tagged_id(doc_id: str, stem: str, source: str) -> bool:
    """True when `doc_id` is `stem` told apart by the tag of its file's path (see assign_doc_ids)."""
    tag = doc_id[len(stem) + 1:]
    return doc_id.startswith(f"{stem}-") and len(tag) >= 6 and tag == path_tag(source, len(tag))


def assign_doc_ids(paths: list[Path], roots: list[Path], known: Mapping[str, str]) -> dict[Path, str]:
    """A unique id for each file, stable while its file stays indexed.

    A release's id is its file's path under the source folder that holds it, without the extension (the stem
    of a file added by name): `seeds/000_7420c92f95da150b.txt` is `000_7420c92f95da150b`. A file the index
    already holds keeps its id (`known` maps resolved paths to ids). Another file whose id would be taken, by an
    indexed release or by a file met earlier in this run, gets that id followed by "-" and the first 6 hex digits
    of the SHA-256 of its resolved path (more digits in the unlikely case those are taken too), e.g.
    `release-3f2a9c`: derived from the path, it is the same at every rebuild, and a file can never take over
    the id of another one.
    """
    resolved = {path: str(path.resolve()) for path in paths}
    listed = set(resolved.values())
    taken = {doc_id: source for source, doc_id in known.items() if source in listed}
    ids: dict[Path, str] = {}
    for path in paths:
        if resolved[path] in known and taken.get(known[resolved[path]]) == resolved[path]:
            ids[path] = known[resolved[path]]
            continue
        base = doc_id = _base_doc_id(path, roots)
        length = 6
        while doc_id in taken and length <= 64:
            doc_id = f"{base}-{path_tag(resolved[path], length)}"
            length += 2
        taken[doc_id] = resolved[path]
        ids[path] = doc_id
    return ids


def _too_big(what: str, size: int, max_bytes: int) -> str:
    return (f"{what} is {size / 1e6:.1f} MB, over the {max_bytes / 1e6:.0f} MB limit for one release: "
            "split it into its releases")


def load_documents(paths: Iterable[Path], max_bytes: int = MAX_DOCUMENT_BYTES,
                   known_ids: Mapping[str, str] | None = None,
                   expected_skips: Mapping[str, str] | None = None) -> LoadReport:
    """Load, decode, clean and de-duplicate every release found under `paths`.

    `known_ids` maps the resolved paths of files an index already holds to their ids, which they keep (see
    assign_doc_ids). `expected_skips` maps paths to the reason an earlier build skipped them for: skipped again
    for that reason, they are logged at INFO level, not warned about again."""
    roots = [Path(p) for p in paths]
    raw_texts: list[RawRelease] = []
    skipped: list[SkippedSource] = []
    expected = expected_skips or {}

    def skip(source: str, reason: str) -> None:
        log.log(logging.INFO if expected.get(source) == reason else logging.WARNING, "skipped %s: %s", source, reason)
        skipped.append(SkippedSource(source, reason))

    for path in iter_source_files(roots):
        try:
            reason = skip_reason(path, path.stat(), max_bytes)
            if reason is None:
                release = read_release(path, max_bytes)
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
            skip(shown_path(path), reason)

    doc_ids = assign_doc_ids([r.path for r in raw_texts], roots, known_ids or {})
    boilerplate = shared_boilerplate([r.text for r in raw_texts])
    documents: list[Document] = []
    by_hash: dict[str, str] = {}
    for release in raw_texts:
        path = release.path
        cleaned = clean_release(release.text, boilerplate)
        doc_id = doc_ids[path]
        if not cleaned.text:
            skip(str(path), "nothing left after removing boilerplate")
            continue
        digest = content_hash(cleaned.text)
        if digest in by_hash:
            skip(str(path), f"duplicate of {by_hash[digest]} (same text)")
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
                # The date the release writes wins over the one trafilatura guesses for a page (which may be
                # the 1st of January of a year it found, when it cannot read "1er avril 2025").
                date=cleaned.date or release.date,
                lang=lang,
                text=cleaned.text,
                content_hash=digest,
                removed_lines=cleaned.removed_lines,
            )
        )
    duplicates = near_duplicates([d.text for d in documents])
    for index, original in sorted(duplicates.items()):
        skip(documents[index].source,
             f"near-duplicate of {documents[original].doc_id} (same release, other page chrome)")
    kept = tuple(d for i, d in enumerate(documents) if i not in duplicates)
    return LoadReport(kept, tuple(skipped))


@dataclass(frozen=True)
class FileStamp:
    """What the freshness check knows of one file under the sources: its size and modification time, and the
    SHA-256 of its bytes when it is a file the loader reads (None for one skipped by kind, type or size, which
    is never opened). An mtime_ns of -1 means "not trusted": the file was modified so close to the scan that it
    may change again within the same clock tick, so the next check hashes it again."""

    size: int
    mtime_ns: int
    sha256: str | None = None

    def same_file(self, other: FileStamp | None) -> bool:
        """True when `other` describes the same bytes (by hash when both have one, else by size and time)."""
        if other is None:
            return False
        if self.sha256 and other.sha256:
            return self.sha256 == other.sha256
        return (self.size, self.mtime_ns) == (other.size, other.mtime_ns)


# How recently modified a file may be for its size and time to be trusted the next time (see FileStamp).
_SETTLE_NS = 2_000_000_000
STAMPED_FINGERPRINT = "stamps:"


def _sha256_of(path: Path, limit: int) -> str | None:
    """The SHA-256 of a regular file's first `limit` + 1 bytes (a release is never longer), or None when it
    cannot be read."""
    digest = hashlib.sha256()
    try:
        with os.fdopen(_open_regular(path), "rb") as handle:
            remaining = limit + 1
            while remaining > 0 and (block := handle.read(min(1 << 20, remaining))):
                digest.update(block)
                remaining -= len(block)
    except (OSError, ValueError):
        return None
    return digest.hexdigest()


def stamp_sources(paths: Iterable[Path], recorded: Mapping[str, FileStamp] | None = None,
                  max_bytes: int = MAX_DOCUMENT_BYTES) -> dict[str, FileStamp]:
    """The stamp of every file under the sources that exist, by path.

    Size and modification time come from stat. Only a file the loader would read is hashed, and only when its
    size or time differ from its `recorded` stamp: a change of content without a change of either is not seen
    (writing a file sets its modification time). Pipes, devices, sockets, files of another type and files over
    the size limit are never opened.
    """
    recorded = recorded or {}
    started = time.time_ns()
    stamps: dict[str, FileStamp] = {}
    for path in iter_source_files([Path(p) for p in paths if Path(p).exists()]):
        key = shown_path(path)  # written into the manifest, so a name that is not UTF-8 is escaped
        try:
            info = path.stat()
        except OSError:
            stamps[key] = FileStamp(0, -1)  # a dangling link, which the loader skips as unreadable
            continue
        if not stat.S_ISREG(info.st_mode):
            stamps[key] = FileStamp(0, 0)
            continue
        if skip_reason(path, info, max_bytes) is not None:
            stamps[key] = FileStamp(info.st_size, info.st_mtime_ns)
            continue
        known = recorded.get(key)
        if known is not None and known.sha256 and (known.size, known.mtime_ns) == (info.st_size, info.st_mtime_ns):
            stamps[key] = known
            continue
        settled = info.st_mtime_ns < started - _SETTLE_NS
        stamps[key] = FileStamp(info.st_size, info.st_mtime_ns if settled else -1,
                                _sha256_of(path, _size_limit(path, max_bytes)))
    return stamps


def stamps_fingerprint(stamps: Mapping[str, FileStamp]) -> str:
    """One hash of the stamps: it changes when a release's bytes do, or when a skipped file's size or time does."""
    digest = hashlib.sha256()
    for key in sorted(stamps):
        stamp = stamps[key]
        digest.update(key.encode("utf-8", "surrogateescape") + b"\0")
        digest.update((stamp.sha256 or f"{stamp.size}:{stamp.mtime_ns}").encode() + b"\n")
    return STAMPED_FINGERPRINT + digest.hexdigest()


def legacy_source_fingerprint(paths: Iterable[Path]) -> str:
    """The fingerprint indexes written before file stamps record: a hash of every file's path and bytes under the
    sources. It reads every file, so it serves only to check such an index until the next build stamps it."""
    digest = hashlib.sha256()
    for path in iter_source_files([Path(p) for p in paths if Path(p).exists()]):
        try:
            if not stat.S_ISREG(path.stat().st_mode):
                continue  # never opened (such an index did not read one in a folder either)
        except OSError:
            continue  # a dangling link, which such an index did not list
        digest.update(str(path).encode("utf-8", "surrogateescape") + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()
