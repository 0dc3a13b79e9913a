"""Tests for eval.validate: the shipped question set is valid and broken lines are reported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from eval.validate import normalize_for_match, validate_file  # noqa: E402

QA_PATH = REPO_ROOT / "eval" / "qa.jsonl"
SEED_CANDIDATES = (
    REPO_ROOT / "seeds",
    REPO_ROOT.parent / "shared" / "seeds",
    Path("/work/shared/seeds"),
)

DOC_ID = "900_test"
DOC_TEXT = (
    "Réunion de test\n"
    "Le 20 novembre 2024, la Division Sécurité coopérative de l’EMI a tenu sa réunion.\n"
    "Les participants de 26 pays partenaires y ont pris part depuis 1\u00a0001\u00a0jours.\n"
)
GOOD_EVIDENCE = "Le 20 novembre 2024, la Division Sécurité coopérative de l’EMI a tenu sa réunion."


def real_seeds_dir() -> Path:
    for candidate in SEED_CANDIDATES:
        if candidate.is_dir() and any(candidate.glob("*.txt")):
            return candidate
    pytest.fail(f"no seeds directory found among {[str(c) for c in SEED_CANDIDATES]}")


@pytest.fixture()
def seeds(tmp_path: Path) -> Path:
    directory = tmp_path / "seeds"
    directory.mkdir()
    (directory / f"{DOC_ID}.txt").write_text(DOC_TEXT, encoding="utf-8")
    return directory


def record(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "fr-001",
        "lang": "fr",
        "question": "Quand la réunion a-t-elle eu lieu ?",
        "answers": ["20 novembre 2024"],
        "doc_id": DOC_ID,
        "alt_doc_ids": [],
        "evidence": GOOD_EVIDENCE,
        "answerable": True,
        "kind": "date",
    }
    base.update(overrides)
    return base


def unanswerable(**overrides: Any) -> dict[str, Any]:
    base = record(id="en-001", lang="en", question="What is the weather?", answers=[], doc_id=None,
                  evidence="", answerable=False, kind="unanswerable")
    base.update(overrides)
    return base


def write_lines(tmp_path: Path, lines: list[str | dict[str, Any]]) -> Path:
    path = tmp_path / "qa.jsonl"
    text = "".join((line if isinstance(line, str) else json.dumps(line, ensure_ascii=False)) + "\n" for line in lines)
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_qa_file_is_valid() -> None:
    assert validate_file(QA_PATH, real_seeds_dir()) == []


def test_shipped_qa_file_is_balanced() -> None:
    records = [json.loads(line) for line in QA_PATH.read_text(encoding="utf-8").splitlines()]
    langs = [r["lang"] for r in records]
    assert len(records) >= 104
    assert langs.count("fr") == langs.count("en")
    for lang in ("fr", "en"):
        assert sum(1 for r in records if r["lang"] == lang and not r["answerable"]) >= 11


def test_cli_exit_codes(tmp_path: Path, seeds: Path) -> None:
    ok = subprocess.run([sys.executable, "-m", "eval.validate", str(QA_PATH), "--seeds", str(real_seeds_dir())],
                        cwd=REPO_ROOT, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.startswith("OK ")
    bad = write_lines(tmp_path, ["{not json"])
    ko = subprocess.run([sys.executable, "-m", "eval.validate", str(bad), "--seeds", str(seeds)],
                        cwd=REPO_ROOT, capture_output=True, text=True)
    assert ko.returncode == 1
    assert "LINE 1 (?): invalid JSON" in ko.stdout


def test_normalize_for_match() -> None:
    assert normalize_for_match("L’OTAN\u00a0«\u202fX »\n a") == "l'otan « x » a"
    assert normalize_for_match("ʼ ‘ ´ `") == "' ' ' '"


def test_minimal_valid_file(tmp_path: Path, seeds: Path) -> None:
    path = write_lines(tmp_path, [record(), record(id="fr-002", answers=["1 001 jours"], kind="number",
                                                   evidence="Les participants de 26 pays partenaires y ont pris "
                                                            "part depuis 1 001 jours."), unanswerable()])
    assert validate_file(path, seeds) == []


def test_duplicate_id(tmp_path: Path, seeds: Path) -> None:
    path = write_lines(tmp_path, [record(), record()])
    assert validate_file(path, seeds) == ["LINE 2 (fr-001): duplicate id (first seen on line 1)"]


def test_answer_absent_from_doc(tmp_path: Path, seeds: Path) -> None:
    path = write_lines(tmp_path, [record(answers=["20 novembre 2024", "Bruxelles"])])
    assert validate_file(path, seeds) == ["LINE 1 (fr-001): answer 'Bruxelles' not found in 900_test"]


def test_answer_inside_longer_word_is_not_found(tmp_path: Path, seeds: Path) -> None:
    path = write_lines(tmp_path, [record(answers=["20 novembre 202"])])
    problems = validate_file(path, seeds)
    assert "LINE 1 (fr-001): answer '20 novembre 202' not found in 900_test" in problems


def test_evidence_not_verbatim(tmp_path: Path, seeds: Path) -> None:
    path = write_lines(tmp_path, [record(evidence="Le 20 novembre 2024, la Division a tenu sa réunion.")])
    assert validate_file(path, seeds) == ["LINE 1 (fr-001): evidence not found verbatim in 900_test"]


def test_evidence_without_answer(tmp_path: Path, seeds: Path) -> None:
    path = write_lines(tmp_path, [record(answers=["26"])])
    assert validate_file(path, seeds) == ["LINE 1 (fr-001): no answer appears in the evidence"]


def test_unknown_doc_id(tmp_path: Path, seeds: Path) -> None:
    path = write_lines(tmp_path, [record(doc_id="999_missing"), record(id="fr-002", alt_doc_ids=["998_missing"])])
    assert validate_file(path, seeds) == [
        "LINE 1 (fr-001): unknown doc_id '999_missing'",
        "LINE 2 (fr-002): unknown alt_doc_id '998_missing'",
    ]


def test_bad_json(tmp_path: Path, seeds: Path) -> None:
    path = write_lines(tmp_path, [record(), '{"id": "fr-002", "lang": "fr",'])
    problems = validate_file(path, seeds)
    assert len(problems) == 1
    assert problems[0].startswith("LINE 2 (?): invalid JSON")


def test_unanswerable_with_answers(tmp_path: Path, seeds: Path) -> None:
    path = write_lines(tmp_path, [unanswerable(answers=["26"])])
    assert validate_file(path, seeds) == ["LINE 1 (en-001): unanswerable question must have no answers"]


def test_unanswerable_kind_mismatch(tmp_path: Path, seeds: Path) -> None:
    path = write_lines(tmp_path, [record(kind="unanswerable")])
    assert validate_file(path, seeds) == ["LINE 1 (fr-001): kind 'unanswerable' requires answerable false"]


def test_key_set_types_and_enums(tmp_path: Path, seeds: Path) -> None:
    extra = record(id="fr-002", note="x")
    missing = record(id="fr-003")
    del missing["evidence"]
    path = write_lines(tmp_path, [extra, missing, record(id="fr-004", answerable="yes"),
                                  record(id="de-005", lang="de", kind="opinion")])
    problems = validate_file(path, seeds)
    assert "LINE 1 (fr-002): unexpected keys: note" in problems
    assert "LINE 2 (fr-003): missing keys: evidence" in problems
    assert "LINE 3 (fr-004): answerable must be a boolean" in problems
    assert "LINE 4 (de-005): lang 'de' not in ['en', 'fr']" in problems
    assert any(p.startswith("LINE 4 (de-005): kind 'opinion' not in") for p in problems)
