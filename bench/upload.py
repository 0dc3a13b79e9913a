"""Time to upload and index PDF releases from the page's Releases tab, with a question asked while they index.

python -m bench.upload [--releases 20] [--paragraphs 6]

The seed releases are indexed first (not timed), in a temporary folder. Then --releases PDF releases, each a
title, a date line and --paragraphs paragraphs of three seed sentences recombined (about a page and a half, with a
running header and a "Page n of m" footer), are set on the upload box of the page, served on a free local port
and driven in Debian's headless Chromium (Playwright), all at once as a person would drop them. Timed: from the
files being set to the per-file report being shown (the browser's upload, reading the PDFs, embedding, writing
the index generation, the list refreshed), and, in a second tab during that build, a question from the chat
(sent to answer shown). Nothing is written outside the temporary folder.
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path

from rag.assistant import Assistant
from rag.config import load_config
from rag.embed.embedder import SentenceTransformerEmbedder
from rag.index.build import build_index
from tests.document_files import PdfRelease, write_release_pdf

from .data import SEEDS, seed_sentences
from .report import machine

CHROMIUM = "/usr/bin/chromium"
QUESTION = "Qui a ouvert la réunion du Comité militaire de janvier 2025 ?"
MONTHS = ["janvier", "mars", "juin", "septembre", "novembre"]


def write_pdf_releases(folder: Path, count: int, paragraphs: int, seed: int = 7) -> list[Path]:
    sentences = [s for s in seed_sentences() if len(s) > 60]
    rng = random.Random(seed)
    paths = []
    for n in range(count):
        day, month, year = rng.randint(1, 28), rng.choice(MONTHS), rng.randint(2019, 2025)
        body = [" ".join(rng.sample(sentences, 3)) for _ in range(paragraphs)]
        release = PdfRelease(f"Communiqué de synthèse n° {n + 1} sur la coopération militaire",
                             f"Bruxelles, le {day} {month} {year}", body)
        paths.append(write_release_pdf(folder / f"communique-{n + 1:02d}.pdf", release))
    return paths


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--releases", type=int, default=20)
    parser.add_argument("--paragraphs", type=int, default=6)
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    from ui.app import build_app, launch

    workdir = Path(tempfile.mkdtemp(prefix="rag-upload-"))
    try:
        shutil.copytree(SEEDS, workdir / "seeds")
        config = load_config(env={}, corpus_dir=workdir / "seeds", index_dir=workdir / "index")
        embedder = SentenceTransformerEmbedder(config)
        build_index(config, embedder, show_progress=False)
        pdfs = write_pdf_releases(workdir / "to-upload", args.releases, args.paragraphs)
        megabytes = sum(p.stat().st_size for p in pdfs) / 1e6
        app = build_app(Assistant(config, embedder))
        url = launch(app, "127.0.0.1", free_port(), block=False)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--headless=new"])
                releases_page, chat_page = browser.new_page(), browser.new_page()
                for page in (releases_page, chat_page):
                    page.goto(url)
                    page.wait_for_selector("#rag-question textarea", timeout=30_000)
                releases_page.get_by_role("tab", name="Releases").first.click()
                started = time.perf_counter()
                releases_page.locator("#rag-upload input[type=file]").set_input_files([str(p) for p in pdfs])
                # A question while the releases are embedded.
                time.sleep(2.0)
                asked = time.perf_counter()
                chat_page.fill("#rag-question textarea", QUESTION)
                chat_page.press("#rag-question textarea", "Enter")
                chat_page.wait_for_selector("#rag-chat .rag-answer:not(.rag-pending)", timeout=600_000)
                answered = time.perf_counter()
                releases_page.wait_for_selector("#rag-upload-report .rag-change-summary", timeout=1_800_000)
                done = time.perf_counter()
                report = releases_page.locator("#rag-upload-report").inner_text()
                browser.close()
        finally:
            app.close()
        added = report.count("\tadded")
        built = re.search(r"built in ([\d.]+ s(?: \([^)]*\))?)", report)
        stored = Assistant(config, embedder).stored
        passages = sum(1 for c in stored.chunks if c.doc_id.startswith("communique-"))
        sentences = sum(1 for s in stored.sentences if s.doc_id.startswith("communique-"))
        env = machine()
        total = done - started
        print(f"{args.releases} PDF releases ({megabytes:.2f} MB; {passages} passages and {sentences} sentences "
              f"embedded) uploaded and indexed from "
              f"the page in {total:.1f} s ({total / args.releases:.2f} s a release); {added} reported added; "
              f"server-side add: {built.group(1) if built else '?'}")
        print(f"a question asked {asked - started:.1f} s into the build was answered in {answered - asked:.1f} s "
              f"({'before' if answered < done else 'after'} the build finished)")
        print(f"machine: {env.get('cpu')}, {env['cores']} cores, SIMD {env.get('simd')}, "
              f"load average {env['load_avg'][0]:.1f}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
