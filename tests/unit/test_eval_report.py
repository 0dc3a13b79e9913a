"""The eval report's before/after tables and the baseline file they come from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.report import before_after_sections
from eval.run import load_baseline
from rag.errors import RagError


def _run(recall: float, abstain: float | None, kinds: dict[str, float]) -> dict:
    row = {"n": 4, "recall@1": recall, "abstain_unanswerable": abstain, "false_abstain": 0.1}
    return {"n": 8, "qa_file": "eval/qa.jsonl", "modes": {"hybrid": {
        "fr": row, "en": row, "overall": row,
        "by_kind": {kind: {"n": 2, "recall@1": value, "abstain_unanswerable": None} for kind, value in kinds.items()},
    }}}


def test_before_after_shows_each_shared_group_with_its_change() -> None:
    before = {**_run(0.5, 0.25, {"date": 0.5}), "baseline_of": {"commit": "abc1234"}}
    after = _run(0.75, 0.5, {"date": 1.0, "paraphrase": 0.5})
    text = "\n".join(before_after_sections(before, after))
    assert "run on abc1234" in text
    assert "| fr | 0.500 → 0.750 (+0.250) |" in text
    assert "| kind: date | 0.500 → 1.000 (+0.500) |" in text
    # A kind the baseline did not have has nothing to compare with.
    assert "kind: paraphrase" not in text
    assert "- → -" in text  # abstention is undefined for a kind without unanswerable questions


def test_before_after_says_when_no_mode_is_shared() -> None:
    before = {"n": 1, "modes": {"dense": {}}}
    assert any("none of this run's modes" in line for line in before_after_sections(before, _run(0.5, 0.5, {})))


def test_a_baseline_that_is_not_an_eval_output_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"results": []}), encoding="utf-8")
    with pytest.raises(RagError, match="not the output of `rag eval --json`"):
        load_baseline(bad)
    with pytest.raises(RagError, match="cannot read the baseline"):
        load_baseline(tmp_path / "missing.json")
    good = tmp_path / "good.json"
    good.write_text(json.dumps(_run(0.5, 0.5, {})), encoding="utf-8")
    assert load_baseline(good)["modes"]["hybrid"]["fr"]["recall@1"] == 0.5
