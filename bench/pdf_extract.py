"""PDF text extractors compared on generated press releases: speed and text quality (why rag/text/formats.py
reads PDFs with pypdfium2).

python -m bench.pdf_extract [--pages 10] [--repeat 5]

Two producers write the same release of about --pages pages: fpdf2 (justified text, a running header and a
"Page n of m" footer, as tests/document_files.py writes them) and, when Debian's Chromium is installed, Chromium's
print to PDF (how a release saved from a browser looks). Each extractor's plain text is compared with the words
the release holds: the share of them it returns in order (recall), the words it adds (headers, footers, page
numbers: "extra"), ligature glyphs it leaves (ﬁ for fi) and doubled spaces. pypdf is a test-only install
(requirements-dev.txt); the row is left out when it is missing.
"""

from __future__ import annotations

import argparse
import difflib
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tests.document_files import PdfRelease, write_release_pdf

from .data import SEEDS

CHROMIUM = Path("/usr/bin/chromium")
_WORDS = re.compile(r"\w+(?:[’'-]\w+)*")
_LIGATURES = re.compile("[\ufb00-\ufb06]")


def sample_release(pages: int) -> PdfRelease:
    """The first seed release's paragraphs, repeated (numbered) until they fill about `pages` A4 pages."""
    text = next(iter(sorted(SEEDS.glob("000_*.txt")))).read_text(encoding="utf-8")
    paragraphs = [p.strip() for p in text.split("\n") if len(p.strip()) > 200]
    body = [f"{p} ({n + 1})" for n in range(max(1, pages * 5 // len(paragraphs) + 1)) for p in paragraphs]
    return PdfRelease("Réunion semestrielle de l’État-major militaire international avec les partenaires",
                      "Bruxelles, le 20 novembre 2024", body)


def write_chromium_pdf(path: Path, release: PdfRelease) -> Path | None:
    if not CHROMIUM.exists():
        return None
    from playwright.sync_api import sync_playwright

    html_path = path.with_suffix(".html")
    paragraphs = "".join(f"<p>{_escape(p)}</p>" for p in release.paragraphs)
    html_path.write_text(
        "<html lang=fr><head><meta charset=utf-8><style>body{font:11pt 'DejaVu Serif'}"
        "p{text-align:justify;margin:0 0 .8em}</style></head><body>"
        f"<h1>{_escape(release.title)}</h1><p>{_escape(release.date_line)}</p>{paragraphs}</body></html>",
        encoding="utf-8")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--headless=new"])
        page = browser.new_page()
        page.goto(html_path.as_uri())
        page.pdf(path=str(path), format="A4", display_header_footer=True,
                 margin={"top": "25mm", "bottom": "25mm", "left": "20mm", "right": "20mm"},
                 header_template=f"<div style='font-size:8px;width:100%;text-align:center'>{release.header}</div>",
                 footer_template="<div style='font-size:8px;width:100%;text-align:center'>Page "
                                 "<span class=pageNumber></span> of <span class=totalPages></span></div>")
        browser.close()
    return path


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def pypdfium2_text(data: bytes) -> tuple[str, int]:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    try:
        pages = []
        for number in range(len(pdf)):
            textpage = pdf[number].get_textpage()
            pages.append(textpage.get_text_range())
            textpage.close()
        return "\n".join(pages), len(pdf)
    finally:
        pdf.close()


def pypdf_text(data: bytes) -> tuple[str, int]:
    import io

    import pypdf

    reader = pypdf.PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages), len(reader.pages)


def loader_text(data: bytes) -> tuple[str, int]:
    from rag.text.formats import extract_pdf

    return extract_pdf(data).text, pypdfium2_text(data)[1]


def quality(expected: str, got: str) -> dict[str, float]:
    want = _WORDS.findall(expected.replace("\ufffe", "-"))
    have = _WORDS.findall(got.replace("\ufffe", "-"))
    matched = sum(block.size for block in difflib.SequenceMatcher(None, want, have, autojunk=False)
                  .get_matching_blocks())
    return {"recall": matched / len(want), "extra": len(have) - matched,
            "ligatures": len(_LIGATURES.findall(got)), "double_spaces": got.count("  ")}


def measure(name: str, extract: Callable[[bytes], tuple[str, int]], data: bytes, expected: str,
            repeat: int) -> dict[str, object]:
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        text, pages = extract(data)
        timings.append(time.perf_counter() - started)
    return {"extractor": name, "pages": pages, "ms_per_page": 1000 * statistics.median(timings) / pages,
            **quality(expected, text)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    release = sample_release(args.pages)
    expected = "\n".join([release.title, release.date_line, *release.paragraphs])
    extractors: list[tuple[str, Callable[[bytes], tuple[str, int]]]] = [
        ("pypdfium2 get_text_range", pypdfium2_text), ("rag.text.formats.extract_pdf (pypdfium2)", loader_text)]
    try:
        import pypdf

        extractors.insert(1, (f"pypdf {pypdf.__version__} extract_text", pypdf_text))
    except ImportError:
        print("pypdf is not installed: its row is left out (pip install -r requirements-dev.txt)", file=sys.stderr)
    print("| producer | extractor | pages | ms/page | word recall | extra words | ligatures | doubled spaces |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="rag-pdf-") as folder:
        producers = {"fpdf2": write_release_pdf(Path(folder) / "fpdf2.pdf", release),
                     "chromium print": write_chromium_pdf(Path(folder) / "chromium.pdf", release)}
        for producer, path in producers.items():
            if path is None:
                print(f"{producer}: not available here, skipped", file=sys.stderr)
                continue
            data = path.read_bytes()
            for name, extract in extractors:
                row = measure(name, extract, data, expected, args.repeat)
                print(f"| {producer} | {name} | {row['pages']} | {row['ms_per_page']:.1f} | {row['recall']:.4f} | "
                      f"{row['extra']} | {row['ligatures']} | {row['double_spaces']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
