"""The frozen tune/test split of the Q&A set: every choice is made on `tune`; `test` is only reported.

`test` was drawn once (`python -m eval.split --draw`, seed 2026) from the questions written after the answerer
was last tuned, stratified by language and kind; the questions the answerer was fitted on before that all stay
in `tune`. The digest below freezes the draw: moving an id between parts is refused, not silently scored.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from .validate import DEFAULT_QA_PATH, REPO_ROOT

SPLIT_PATH: Path = REPO_ROOT / "eval" / "split.json"
SPLITS: tuple[str, ...] = ("tune", "test")
DRAW_SEED = 2026
# Questions fr-001..fr-108 / en-001..en-108 shaped the rules before the split existed: they can only tune.
FIRST_UNSEEN_NUMBER = 201
# sha256 of the sorted test ids joined by newlines, as drawn; see frozen_digest().
FROZEN_TEST_DIGEST = "13a4ff13382f8e1ac2ee2f71c438f822b6da26a29ff94452fec3c897ae906522"


class SplitError(ValueError):
    """The split file is missing, malformed, or disagrees with the Q&A file or the frozen draw."""


@dataclass(frozen=True)
class Split:
    tune: frozenset[str]
    test: frozenset[str]

    def part_of(self, question_id: str) -> str | None:
        if question_id in self.test:
            return "test"
        if question_id in self.tune:
            return "tune"
        return None


def frozen_digest(test_ids: frozenset[str] | set[str]) -> str:
    return hashlib.sha256("\n".join(sorted(test_ids)).encode()).hexdigest()


def load_split(path: Path = SPLIT_PATH) -> Split:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SplitError(f"cannot read the split {path}: {exc}") from exc
    if not isinstance(data, dict) or not all(isinstance(data.get(p), list) for p in SPLITS):
        raise SplitError(f"{path} must be a JSON object with lists 'tune' and 'test'")
    return Split(frozenset(data["tune"]), frozenset(data["test"]))


def split_problems(question_ids: list[str], split: Split, digest: str = FROZEN_TEST_DIGEST) -> list[str]:
    """Why this split cannot be used with these questions: an id in both parts or in none, or a test part that
    is not the frozen draw (an id moved between parts, or a test question was removed)."""
    problems = [f"{qid}: in both tune and test" for qid in sorted(split.tune & split.test)]
    problems += [f"{qid}: in neither tune nor test (add it to tune)" for qid in question_ids
                 if split.part_of(qid) is None]
    if digest and frozen_digest(split.test) != digest:
        problems.append("the test part is not the frozen draw: an id moved between tune and test (the test part "
                        "is frozen so that nothing is tuned on it; new questions go to tune)")
    return problems


def draw(records: list[dict[str, object]], seed: int = DRAW_SEED) -> Split:
    """Half of each language x kind stratum of the unseen questions goes to test (odd strata: the extra to test)."""
    strata: dict[tuple[object, object], list[str]] = defaultdict(list)
    tune: set[str] = set()
    for record in records:
        qid = str(record["id"])
        if int(qid.split("-")[1]) < FIRST_UNSEEN_NUMBER:
            tune.add(qid)
        else:
            strata[(record["lang"], record["kind"])].append(qid)
    rng = random.Random(seed)
    test: set[str] = set()
    for key in sorted(strata, key=str):
        ids = sorted(strata[key])
        rng.shuffle(ids)
        cut = (len(ids) + 1) // 2
        test.update(ids[:cut])
        tune.update(ids[cut:])
    return Split(frozenset(tune), frozenset(test))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.split", description=__doc__.splitlines()[0])
    parser.add_argument("--draw", action="store_true", help="draw the split anew and write it (done once)")
    parser.add_argument("--qa", type=Path, default=DEFAULT_QA_PATH)
    args = parser.parse_args(argv)
    records = [json.loads(line) for line in args.qa.read_text(encoding="utf-8").splitlines() if line.strip()]
    if args.draw:
        split = draw(records)
        SPLIT_PATH.write_text(json.dumps({"tune": sorted(split.tune), "test": sorted(split.test)}, indent=1) + "\n",
                              encoding="utf-8")
        print(f"wrote {SPLIT_PATH}: tune {len(split.tune)}, test {len(split.test)}; "
              f"test digest {frozen_digest(split.test)}")
        return 0
    problems = split_problems([str(r["id"]) for r in records], load_split())
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
