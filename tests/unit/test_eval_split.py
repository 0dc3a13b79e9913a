"""The frozen tune/test split: nothing is tuned on test, and no id may move between the parts."""

from __future__ import annotations

import json
from collections import Counter

from eval.items import load_items
from eval.split import Split, draw, frozen_digest, load_split, split_problems
from eval.validate import DEFAULT_QA_PATH, runner_problems, validate_file


def _ids() -> list[str]:
    return [item.id for item in load_items(DEFAULT_QA_PATH)]


def test_the_bundled_split_covers_every_question_once_and_is_the_frozen_draw() -> None:
    assert split_problems(_ids(), load_split()) == []


def test_moving_a_test_id_to_tune_is_refused() -> None:
    frozen = load_split()
    moved = sorted(frozen.test)[0]
    tampered = Split(frozen.tune | {moved}, frozen.test - {moved})
    problems = split_problems(_ids(), tampered)
    assert any("frozen draw" in p for p in problems)


def test_an_id_in_both_parts_or_in_neither_is_refused() -> None:
    frozen = load_split()
    some = sorted(frozen.tune)[0]
    both = Split(frozen.tune, frozen.test | {some})
    assert any(f"{some}: in both" in p for p in split_problems(_ids(), both, digest=""))
    neither = Split(frozen.tune - {some}, frozen.test)
    assert any(f"{some}: in neither" in p for p in split_problems(_ids(), neither, digest=""))


def test_the_draw_keeps_tuned_questions_in_tune_and_halves_each_language_and_kind() -> None:
    records = [json.loads(line) for line in DEFAULT_QA_PATH.read_text(encoding="utf-8").splitlines() if line.strip()]
    split = draw(records)
    assert frozen_digest(split.test) == frozen_digest(load_split().test)  # the draw is reproducible
    assert not {r["id"] for r in records if int(r["id"].split("-")[1]) < 201} & split.test
    unseen = Counter((r["lang"], r["kind"]) for r in records if int(r["id"].split("-")[1]) >= 201)
    in_test = Counter((r["lang"], r["kind"]) for r in records if r["id"] in split.test)
    for stratum, total in unseen.items():
        assert in_test[stratum] == (total + 1) // 2, stratum


def test_the_set_meets_the_size_the_issue_asks_for() -> None:
    items = load_items(DEFAULT_QA_PATH)
    kinds = Counter(item.kind for item in items)
    langs = Counter(item.lang for item in items)
    assert len(items) >= 240 and min(langs.values()) >= 120
    assert kinds["near_miss"] >= 50 and kinds["multi"] >= 20 and kinds["paraphrase"] >= 0.4 * len(items)
    assert validate_file(DEFAULT_QA_PATH, DEFAULT_QA_PATH.parent.parent / "seeds") == []


def test_optional_fields_may_be_null_in_an_unanswerable_record() -> None:
    record = {"id": "fr-999", "lang": "fr", "question": "Qui ?", "answers": None, "doc_id": None,
              "alt_doc_ids": None, "evidence": None, "answerable": False, "kind": "near_miss"}
    assert runner_problems(record) == []


def test_rag_eval_split_keeps_only_that_part_and_labels_each_item() -> None:
    import pytest

    from eval.run import with_split
    from rag.errors import RagError

    items = load_items(DEFAULT_QA_PATH)
    test_only = with_split(items, "test", bundled=True)
    assert {item.id for item in test_only} == set(load_split().test)
    assert {item.split for item in with_split(items, "all", bundled=True)} == {"tune", "test"}
    with pytest.raises(RagError, match="bundled"):
        with_split(items, "test", bundled=False)
