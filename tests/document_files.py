"""PDF and Word releases written at test time (fpdf2, python-docx), so that no binary file is committed.

The benchmarks import them too: bench/pdf_extract.py compares extractors on them, bench/upload.py uploads them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

# A Unicode font when the machine has one (Debian's fonts-dejavu-core); else the PDF core font, which only
# writes Latin-1, so the text is folded to it.
UNICODE_FONTS = (Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
                 Path("/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf"))
_LATIN1_FOLDS = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "—": "-", "–": "-", "œ": "oe", "Œ": "OE",
                               "…": "...", "\u202f": " ", "Ș": "S", "ș": "s", "Ț": "T", "ț": "t"})


@dataclass(frozen=True)
class PdfRelease:
    """What a generated PDF release holds; a paragraph with a newline is broken there (a hyphenated line end)."""

    title: str
    date_line: str
    paragraphs: Sequence[str]
    header: str | None = "OTAN / NATO - Communiqué de presse"
    footer: str | None = "Page {page} of {pages}"
    title_size: float = 16
    body_size: float = 10.5


def unicode_font() -> Path | None:
    return next((font for font in UNICODE_FONTS if font.exists()), None)


def write_release_pdf(path: Path, release: PdfRelease, use_unicode_font: bool = True) -> Path:
    """A text-layer PDF: a large title, a date line, justified paragraphs, a running header and footer."""
    from fpdf import FPDF

    font = unicode_font() if use_unicode_font else None
    fold = (lambda text: text) if font else (lambda text: text.translate(_LATIN1_FOLDS))
    family = "release" if font else "Helvetica"

    class ReleasePdf(FPDF):  # type: ignore[misc]
        def header(self) -> None:
            if release.header:
                self.set_font(family, size=8)
                self.cell(0, 6, fold(release.header), align="C")
                self.ln(12)

        def footer(self) -> None:
            if release.footer:
                self.set_y(-15)
                self.set_font(family, size=8)
                self.cell(0, 10, fold(release.footer.format(page=self.page_no(), pages="{nb}")), align="C")

    pdf = ReleasePdf(format="A4")
    if font:
        pdf.add_font(family, fname=str(font))
    pdf.set_auto_page_break(True, margin=22)
    pdf.add_page()
    pdf.set_font(family, size=release.title_size)
    pdf.multi_cell(0, release.title_size * 0.5, fold(release.title))
    pdf.ln(3)
    pdf.set_font(family, size=release.body_size)
    pdf.multi_cell(0, 6, fold(release.date_line))
    pdf.ln(4)
    for paragraph in release.paragraphs:
        pdf.multi_cell(0, release.body_size * 0.5, fold(paragraph), align="L" if "\n" in paragraph else "J")
        pdf.ln(3.5)
    path.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(path))
    return path


def write_scanned_pdf(path: Path, pages: int = 1) -> Path:
    """An image-only PDF, as a scanner writes it: grey bars where the lines of text would be, no text layer."""
    from fpdf import FPDF
    from PIL import Image, ImageDraw

    pdf = FPDF(format="A4")
    for _ in range(pages):
        image = Image.new("L", (620, 877), 255)
        draw = ImageDraw.Draw(image)
        for row in range(60, 820, 22):
            draw.rectangle((50, row, 570 - (row * 7) % 120, row + 9), fill=60)
        pdf.add_page()
        pdf.image(image, x=0, y=0, w=210, h=297)
    path.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(path))
    return path


def write_release_docx(path: Path, title: str, date_line: str, paragraphs: Sequence[str],
                       header: str | None = "OTAN / NATO - Communiqué de presse",
                       footer: str | None = "Page 1", table: Sequence[Sequence[str]] = ()) -> Path:
    """A Word release: a Title-styled heading, a date line, paragraphs, an optional table, a page header and
    footer."""
    import docx

    document = docx.Document()
    section = document.sections[0]
    if header:
        section.header.paragraphs[0].text = header
    if footer:
        section.footer.paragraphs[0].text = footer
    document.add_heading(title, level=0)
    document.add_paragraph(date_line)
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for cells, row in zip(table, grid.rows):
            for text, cell in zip(cells, row.cells):
                cell.text = text
    path.parent.mkdir(parents=True, exist_ok=True)
    document.save(str(path))
    return path
