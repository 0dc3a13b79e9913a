"""A corpus of the seed releases plus English translations of two of them (tests/fixtures/twins), made for tests."""

from __future__ import annotations

import shutil
from pathlib import Path

TRANSLATIONS = Path(__file__).resolve().parent / "fixtures" / "twins"
SEEDS = Path(__file__).resolve().parent.parent / "seeds"
# Each translation's first line says it is one; it is not part of the release, so that its title and date
# are found as in the French original.
TRANSLATION_MARK = "[Translation made for tests of this project; not an official NATO text]"


def write_twin_corpus(target: Path) -> Path:
    """Copy the seeds and the translations (without their marking line) into `target`."""
    target.mkdir(parents=True, exist_ok=True)
    for seed in SEEDS.glob("*.txt"):
        shutil.copy(seed, target / seed.name)
    for translation in sorted(TRANSLATIONS.glob("*.en.txt")):
        first, _, rest = translation.read_text(encoding="utf-8").partition("\n")
        if first != TRANSLATION_MARK:
            raise AssertionError(f"{translation} does not start with its translation mark")
        (target / translation.name).write_text(rest, encoding="utf-8")
    return target
