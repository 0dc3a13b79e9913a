"""What `rag eval` accepts: a malformed Q&A line, an unindexed release or no mode is refused up front with a
message naming the problem, instead of turning into misleading figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.items import QAItem, check_releases_indexed, load_items
from eval.metrics import summarise, summarise_by
from eval.report import _failure_line, format_table
from eval.run import parse_modes
from rag.errors import RagError
from tests.unit.test_metrics import FILLER, GOLD, OTHER, answered, item

GOOD = {"id": "fr-001", "lang": "fr", "question": "Combien de pays ?", "answers": ["26 pays"], "doc_id": GOLD,
        "answerable": True}


def _qa_file(tmp_path: Path, *records: object) -> Path:
    path = tmp_path / "qa.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n", encoding="utf-8")
    return path


def test_a_minimal_record_is_enough_to_run(tmp_path: Path) -> None:
    [loaded] = load_items(_qa_file(tmp_path, GOOD))
    assert loaded.answers == ("26 pays",) and loaded.answerable is True and loaded.alt_doc_ids == ()


@pytest.mark.parametrize(("change", "message"), [
    ({"answerable": "false"}, "answerable must be a boolean"),
    ({"answers": "26 pays"}, "answers must be a list of strings"),
    ({"doc_id": 3}, "doc_id must be a string or null"),
    ({"answers": []}, "an answerable question needs answers and a doc_id"),
    ({"doc_id": None}, "an answerable question needs answers and a doc_id"),
    ({"lang": " "}, "lang is empty"),
])
def test_a_field_of_the_wrong_type_is_refused_with_its_line(tmp_path: Path, change: dict, message: str) -> None:
    path = _qa_file(tmp_path, GOOD, {**GOOD, "id": "fr-002", **change})
    with pytest.raises(RagError, match=rf"qa.jsonl:2: not a Q&A record: {message}"):
        load_items(path)


def test_a_record_without_its_question_is_refused(tmp_path: Path) -> None:
    record = {k: v for k, v in GOOD.items() if k != "question"}
    with pytest.raises(RagError, match=r"qa.jsonl:1: not a Q&A record: missing keys: question"):
        load_items(_qa_file(tmp_path, record))


def test_a_repeated_id_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RagError, match=r"qa.jsonl:2: id 'fr-001' was already used on line 1"):
        load_items(_qa_file(tmp_path, GOOD, GOOD))


def test_a_line_that_is_not_json_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "qa.jsonl"
    path.write_text(json.dumps(GOOD) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(RagError, match=r"qa.jsonl:2: not JSON"):
        load_items(path)


def test_releases_missing_from_the_index_are_named_with_the_questions_that_need_them() -> None:
    items = [item("fr-001", doc_id="999_gone"), item("fr-002", doc_id=GOLD, alt_doc_ids=("998_gone",))]
    with pytest.raises(RagError, match=r"2 release\(s\).*998_gone \(asked by fr-002\); 999_gone \(asked by fr-001\)"):
        check_releases_indexed(items, {GOLD})
    check_releases_indexed([item("fr-001"), item("fr-900", doc_id=None, answers=(), answerable=False)], {GOLD})


@pytest.mark.parametrize(("text", "expected"), [("hybrid", ["hybrid"]), ("dense, hybrid,dense", ["dense", "hybrid"])])
def test_modes_are_read_once_each_in_the_order_given(text: str, expected: list[str]) -> None:
    assert parse_modes(text) == expected


@pytest.mark.parametrize(("text", "message"), [(",", "no retrieval mode given"), ("dense,bm25", r"\['bm25'\]")])
def test_no_mode_or_an_unknown_one_is_refused(text: str, message: str) -> None:
    with pytest.raises(RagError, match=message):
        parse_modes(text)


def test_a_language_code_in_capitals_is_the_same_language() -> None:
    assert QAItem.from_dict({**GOOD, "lang": "EN"}).lang == "en"


def test_the_table_shows_every_language_of_the_file() -> None:
    outcomes = [answered(item("fr-001")), answered(item("en-001", lang="en")), answered(item("de-001", lang="de"))]
    report = {"modes": {"hybrid": {"overall": summarise(outcomes), **summarise_by(outcomes, "lang")}}}
    rows = [line.split(" | ")[1] for line in format_table(report).splitlines()[2:]]
    assert rows == ["fr", "en", "de", "overall"]


def test_a_right_answer_citing_an_irrelevant_passage_is_listed_as_a_failure() -> None:
    line = _failure_line(answered(item(), cited=((OTHER, FILLER),)))
    assert line is not None and "no cited passage is relevant" in line
    assert f"first passage {GOLD}:" in line
    assert _failure_line(answered(item())) is None
