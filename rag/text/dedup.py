"""Find near-duplicate releases (the same text saved twice with different page chrome) with MinHash."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

_WORD = re.compile(r"\w+", re.UNICODE)
_PERMUTATIONS = 64
_BANDS = 16  # 16 bands of 4 rows: pairs above ~0.6 Jaccard become candidates, then are checked exactly
_PRIME = (1 << 61) - 1
_rng = np.random.default_rng(20241120)
_A = _rng.integers(1, _PRIME, _PERMUTATIONS, dtype=np.uint64)
_B = _rng.integers(0, _PRIME, _PERMUTATIONS, dtype=np.uint64)


def _hash64(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


def shingles(text: str, size: int = 5) -> set[int]:
    words = _WORD.findall(text.casefold())
    if len(words) < size:
        return {_hash64(" ".join(words))} if words else set()
    return {_hash64(" ".join(words[i:i + size])) for i in range(len(words) - size + 1)}


def _signature(shingle_set: set[int]) -> np.ndarray:
    values = np.fromiter(shingle_set, dtype=np.uint64) % np.uint64(_PRIME)
    # (a*x + b) mod p, computed in Python ints per permutation would be slow; uint64 wrap-around is a fine
    # hash family for bucketing, and candidates are verified with the exact Jaccard afterwards.
    return (np.outer(_A, values) + _B[:, None]).min(axis=1)


def jaccard(a: set[int], b: set[int]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def near_duplicates(texts: Sequence[str], threshold: float = 0.85) -> dict[int, int]:
    """Map index -> index of the earlier text it nearly duplicates (Jaccard of 5-word shingles >= threshold)."""
    sets = [shingles(t) for t in texts]
    buckets: dict[tuple[int, bytes], list[int]] = {}
    duplicate_of: dict[int, int] = {}
    rows = _PERMUTATIONS // _BANDS
    for i, shingle_set in enumerate(sets):
        if not shingle_set:
            continue
        signature = _signature(shingle_set)
        candidates: set[int] = set()
        keys = [(band, signature[band * rows:(band + 1) * rows].tobytes()) for band in range(_BANDS)]
        for key in keys:
            candidates.update(buckets.get(key, ()))
        match = next((j for j in sorted(candidates) if jaccard(shingle_set, sets[j]) >= threshold), None)
        if match is not None:
            duplicate_of[i] = duplicate_of.get(match, match)
            continue
        for key in keys:
            buckets.setdefault(key, []).append(i)
    return duplicate_of
