"""Text out of PDF and Word (.docx) releases, for the common loading path: page furniture out, paragraphs kept.

The text returned here is raw release text, like a .txt file's: rag.text.loading cleans it, finds its title and
date, and every offset points into that cleaned text.

PDF (pypdfium2): each page's lines come with their boxes, so that
- running headers and footers (a line that recurs at the top or bottom of most pages, digits aside) and bare page
  numbers ("3", "Page 3 of 5", "- 3 -") are dropped;
- a paragraph is rebuilt from its lines (a wider gap than the page's usual line gap, a change of font size, or a
  short line closing a sentence ends one), and a paragraph cut by a page break is joined again;
- a word hyphenated across a line break is joined ("coopé-ration" -> "coopération"), a compound broken at its own
  hyphen keeps it ("État-major", "politico-militaire"): see _join_hyphenated for how the two are told apart.
A PDF without a text layer (a scan) is refused with NO_TEXT_LAYER rather than indexed empty.

DOCX (python-docx): body paragraphs and tables in document order; page headers and footers live in other parts of
the file and are never read. A first paragraph styled as a title or heading is the release's title.
"""

from __future__ import annotations

import io
import logging
import math
import re
import statistics
import threading
import zipfile
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

PDF_SUFFIX = ".pdf"
DOCX_SUFFIX = ".docx"
DOCUMENT_SUFFIXES = (PDF_SUFFIX, DOCX_SUFFIX)
# A PDF or Word file carries fonts, images and XML around its text: its file may be this many times the text
# limit, as long as the extracted text is within it.
CONTAINER_SIZE_FACTOR = 20
# Past this a file is a report or a book, not a release; refused before its pages are read.
MAX_PDF_PAGES = 200
# A .docx is a zip: what it unpacks to is bounded too, so that a small file cannot expand into gigabytes.
MAX_DOCX_UNPACKED_BYTES = 200_000_000
NO_TEXT_LAYER = "no text layer (scanned PDF?)"

# PDFium is not thread-safe: one document is read at a time, whichever thread asks.
_PDFIUM_LOCK = threading.Lock()


@dataclass(frozen=True)
class ExtractedText:
    """A release's text as its file holds it, with the title its layout names (None: left to the cleaner)."""

    text: str
    title: str | None = None


def extract_document(suffix: str, data: bytes) -> ExtractedText:
    """The text of a .pdf or .docx file; ValueError with the reason to show when it cannot be used."""
    if suffix == PDF_SUFFIX:
        return extract_pdf(data)
    if suffix == DOCX_SUFFIX:
        return extract_docx(data)
    raise ValueError(f"not a PDF or Word document: '{suffix}'")


# --- PDF -----------------------------------------------------------------------------------------------------

# PDFium writes U+FFFE where a line ended with a hyphen it took for a hyphenation, and joins the two lines.
_PDFIUM_HYPHEN = "\ufffe"
_LINE = re.compile(r"\S(?:[^\r\n]*\S)?")  # a line's text, without the spaces around it
# A line that is only a page number: "3", "- 3 -", "Page 3", "Page 3 of 5", "p. 3/5", "3 / 5".
_PAGE_NUMBER = re.compile(
    r"^[\s\-–—]*(?:(?:page|p\.|seite)\s*)?\d{1,4}(?:\s*(?:/|of|sur|de|von)\s*\d{1,4})?[\s\-–—]*$", re.IGNORECASE)
_DIGITS = re.compile(r"\d+")
_SENTENCE_CLOSE = re.compile(r"[.!?:;…»\"”)]\s*$")
_BULLET_START = re.compile(r"^\s*(?:[•·▪◦‣*]|[-–—](?=\s)|\d{1,2}[.)](?=\s))")
_HYPHENATED = re.compile(r"(\w+)" + _PDFIUM_HYPHEN + r"(\w+)")
_WORD = re.compile(r"\w+(?:-\w+)*")

EDGE_LINES = 3  # lines at the top and at the bottom of a page where running headers and footers are looked for
PARAGRAPH_GAP = 0.5  # of a line's height, over the document's usual gap between lines, ends a paragraph
FONT_CHANGE = 1.2  # a line this much taller or shorter than the previous one starts a new paragraph
SHORT_LINE = 0.85  # of the text width: a sentence-closing line shorter than this ends its paragraph
# Without hyphenation, only the compounds that happen to fall at a line end give one (2% of the lines of a French
# release printed by Chromium: bench/pdf_extract.py); a share of line-end hyphens over this, and at least a few,
# with no word to witness either way, marks a typesetter that hyphenates.
HYPHENATING_SHARE = 0.05
HYPHENATING_MIN = 3
HEADING_WITHIN = 3  # the release's heading is one of its first paragraphs, under a letterhead perhaps


@dataclass(frozen=True)
class _Line:
    """One line of a page as PDFium reads it, in points (y grows upwards). PDFium joins a line that ends with a
    hyphen to the next one, so `top` is its first character's and `bottom` its last character's."""

    text: str
    left: float
    bottom: float
    right: float
    top: float
    height: float  # of its characters' font boxes, whatever the lines it spans


def extract_pdf(data: bytes) -> ExtractedText:
    import pypdfium2 as pdfium

    with _PDFIUM_LOCK:
        try:
            pdf = pdfium.PdfDocument(data)
        except pdfium.PdfiumError as exc:
            if "password" in str(exc).lower():
                raise ValueError("encrypted PDF: open it and save a copy without a password") from None
            raise ValueError(f"not a readable PDF ({exc})") from None
        try:
            if len(pdf) == 0:
                raise ValueError("PDF has no pages")
            if len(pdf) > MAX_PDF_PAGES:
                raise ValueError(f"PDF has {len(pdf)} pages, over the {MAX_PDF_PAGES}-page limit for one release: "
                                 "split it into its releases")
            pages = [_page_lines(pdf, number) for number in range(len(pdf))]
        finally:
            pdf.close()
    empty = [str(n + 1) for n, lines in enumerate(pages) if not lines]
    pages = _without_furniture(pages)
    if not any(ch.isalpha() for lines in pages for line in lines for ch in line.text):
        raise ValueError(NO_TEXT_LAYER)
    if empty:
        log.warning("PDF pages %s have no text layer (scanned?): their text is missing", ", ".join(empty))
    paragraphs, heading = _paragraphs(pages)
    text = _join_hyphenated("\n\n".join(paragraphs), sum(len(lines) for lines in pages))
    return ExtractedText(text, None if heading is None else text.split("\n\n")[heading])


def _page_lines(pdf: Any, number: int) -> list[_Line]:
    page = pdf[number]
    textpage = page.get_textpage()
    try:
        lines: list[_Line] = []
        for match in _LINE.finditer(textpage.get_text_range()):
            first, last = _char_box(textpage, match.start()), _char_box(textpage, match.end() - 1)
            lines.append(_Line(match.group(0), left=first[0], bottom=last[1], right=last[2], top=first[3],
                               height=max(first[3] - first[1], last[3] - last[1])))
        return lines
    finally:
        textpage.close()
        page.close()


def _char_box(textpage: Any, text_index: int) -> tuple[float, float, float, float]:
    """(left, bottom, right, top) of the font box of the character at `text_index` of the page's text."""
    import pypdfium2.raw as pdfium_c

    left, bottom, right, top = textpage.get_charbox(
        pdfium_c.FPDFText_GetCharIndexFromTextIndex(textpage.raw, text_index), loose=True)
    return float(left), float(bottom), float(right), float(top)


def _furniture_key(text: str) -> str:
    """A line as a running header or footer repeats it: case, spacing and page numbers aside."""
    return _DIGITS.sub("#", " ".join(text.split()).casefold())


def _edge_rows(lines: Sequence[_Line]) -> set[int]:
    by_height = sorted(range(len(lines)), key=lambda i: -lines[i].top)
    return set(by_height[:EDGE_LINES]) | set(by_height[-EDGE_LINES:])


def _without_furniture(pages: list[list[_Line]]) -> list[list[_Line]]:
    """Drop running headers and footers (a line at the edge of most pages) and page numbers at a page's edge."""
    edges = [_edge_rows(lines) for lines in pages]
    pages_with: dict[str, set[int]] = defaultdict(set)
    heights: dict[str, list[float]] = defaultdict(list)
    for number, (lines, rows) in enumerate(zip(pages, edges)):
        for row in rows:
            key = _furniture_key(lines[row].text)
            pages_with[key].add(number)
            heights[key].append(lines[row].height)
    running = {key for key, found in pages_with.items() if len(found) >= 2 and 2 * len(found) > len(pages)}
    kept_pages = []
    for number, (lines, rows) in enumerate(zip(pages, edges)):
        kept = []
        for row, line in enumerate(lines):
            if row in rows:
                if _PAGE_NUMBER.match(line.text):
                    continue
                key = _furniture_key(line.text)
                # A release set in a big font on its first page, and repeated small as a running header, keeps its
                # heading.
                if key in running and not (number == 0 and line.height > FONT_CHANGE * statistics.median(heights[key])):
                    continue
            kept.append(line)
        kept_pages.append(kept)
    return kept_pages


def _line_gaps(pages: Sequence[Sequence[_Line]]) -> Iterator[float]:
    for lines in pages:
        for above, below in zip(lines, lines[1:]):
            if below.top <= above.bottom + below.height:  # below the previous line, not a new column or a jump
                yield above.bottom - below.top


def _paragraphs(pages: list[list[_Line]]) -> tuple[list[str], int | None]:
    """The pages' lines joined into paragraphs, and which of the first few is the heading (set larger than the
    body, perhaps under a small letterhead), if one is."""
    lines = [line for page in pages for line in page]
    if not lines:
        return [], None
    usual_gap = statistics.median(list(_line_gaps(pages)) or [0.0])
    body_height = statistics.median(line.height for line in lines)
    left = min(line.left for line in lines)
    right = _percentile([line.right for line in lines], 0.9)
    width = max(right - left, 1.0)

    paragraphs: list[list[_Line]] = []
    previous: _Line | None = None
    for number, page in enumerate(pages):
        for index, line in enumerate(page):
            page_break = index == 0 and number > 0
            if previous is None or _starts_paragraph(previous, line, page_break, usual_gap, left, width):
                paragraphs.append([line])
            else:
                paragraphs[-1].append(line)
            previous = line
    texts = [_joined_lines(paragraph) for paragraph in paragraphs]
    heading = next((n for n, paragraph in enumerate(paragraphs[:HEADING_WITHIN][:len(paragraphs) - 1])
                    if statistics.median(line.height for line in paragraph) > FONT_CHANGE * body_height
                    and len(texts[n]) <= 200), None)
    return texts, heading


def _starts_paragraph(previous: _Line, line: _Line, page_break: bool, usual_gap: float, left: float,
                      width: float) -> bool:
    taller = max(previous.height, line.height)
    if not 1 / FONT_CHANGE <= line.height / max(previous.height, 0.1) <= FONT_CHANGE:
        return True
    if _BULLET_START.match(line.text):
        return True
    closes_sentence = bool(_SENTENCE_CLOSE.search(previous.text))
    if page_break:
        # A sentence cut by the page break goes on; anything else starts afresh on the new page.
        return closes_sentence
    if line.top > previous.bottom + taller:  # above the previous line: a new column or a frame
        return True
    if previous.bottom - line.top > usual_gap + PARAGRAPH_GAP * min(previous.height, line.height):
        return True
    return closes_sentence and previous.right - left < SHORT_LINE * width


def _joined_lines(lines: Sequence[_Line]) -> str:
    text = ""
    for line in lines:
        piece = line.text.replace("\u00ad", "")
        if not text:
            text = piece
        elif re.search(r"\w-$", text) and piece[:1].isalpha():
            text = text[:-1] + _PDFIUM_HYPHEN + piece  # a hyphen PDFium did not take for a hyphenation
        else:
            text = f"{text} {piece}"
    return text


def _join_hyphenated(text: str, lines: int) -> str:
    """Resolve each line-end hyphen: a word cut by hyphenation is joined, a compound keeps its hyphen.

    The document itself is the first witness: the word written whole elsewhere ("coopération") is joined, written
    with its hyphen elsewhere ("État-major") keeps it, and so does a capital or a digit after the break
    ("Euro-Atlantic", "COVID-19"). For the rest the document's typesetting decides: one that hyphenates (its other
    breaks were hyphenations, or many of its lines end with a hyphen) cut the word; one that does not (a Word or
    browser default) only breaks lines at a compound's own hyphen ("politico-militaire")."""
    plain = _HYPHENATED.sub(" ", text)
    words = {w.casefold() for w in _WORD.findall(plain)}
    breaks = _HYPHENATED.findall(text)

    def witnessed(head: str, tail: str) -> str | None:
        if (head + tail).casefold() in words:
            return head + tail
        if f"{head}-{tail}".casefold() in words or tail[0].isupper() or tail[0].isdigit() or head[-1].isdigit():
            return f"{head}-{tail}"
        return None

    verdicts = [witnessed(head, tail) for head, tail in breaks]
    cut = sum(1 for (head, tail), verdict in zip(breaks, verdicts) if verdict == head + tail)
    kept = sum(1 for verdict in verdicts if verdict is not None) - cut
    hyphenates = cut > kept or (cut == kept and len(breaks) >= max(HYPHENATING_MIN, HYPHENATING_SHARE * lines))

    def resolve(match: re.Match[str]) -> str:
        head, tail = match.group(1), match.group(2)
        return witnessed(head, tail) or (head + tail if hyphenates else f"{head}-{tail}")

    return _HYPHENATED.sub(resolve, text).replace(_PDFIUM_HYPHEN, "-")


def _percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))]


# --- DOCX ----------------------------------------------------------------------------------------------------

_TITLE_STYLES = re.compile(r"^(?:title|titre|heading\s*1|titre\s*1|überschrift\s*1)$", re.IGNORECASE)


def extract_docx(data: bytes) -> ExtractedText:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile:
        raise ValueError("not a readable Word document (.docx): the file is not a zip archive") from None
    if unpacked > MAX_DOCX_UNPACKED_BYTES:
        raise ValueError(f"Word document unpacks to {unpacked / 1e6:.0f} MB, over the "
                         f"{MAX_DOCX_UNPACKED_BYTES / 1e6:.0f} MB limit")
    import docx
    from docx.table import Table

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises KeyError, ValueError or lxml errors for a damaged package
        raise ValueError(f"not a readable Word document (.docx): {type(exc).__name__}") from None
    blocks: list[str] = []
    title: str | None = None
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            blocks.extend(_table_rows(item))
            continue
        text = item.text.strip()
        if not text:
            continue
        style = item.style.name if item.style is not None else ""
        if not blocks and _TITLE_STYLES.match(style or "") and len(text) <= 200:
            title = " ".join(text.split())
        blocks.append(text)
    if not blocks:
        raise ValueError("no text in the Word document")
    return ExtractedText("\n\n".join(blocks), title)


def _table_rows(table: Any) -> list[str]:
    rows = []
    for row in table.rows:
        cells = list(dict.fromkeys(" ".join(cell.text.split()) for cell in row.cells))  # merged cells repeat
        line = " | ".join(cell for cell in cells if cell)
        if line:
            rows.append(line)
    return rows
