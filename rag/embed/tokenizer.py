"""The folder's Unigram tokenizer.json, run without the 270 MB trie the tokenizers library builds for 250k pieces.

The tokenizers library stays in charge of what is cheap and intricate (the normaliser, the pre-tokenizer); the
Unigram model itself, a Viterbi search over the pieces' scores, runs here over a plain dict (about 50 MB) and
gives the library's ids exactly: same candidates in the same order, same float64 sums, same ties, same fused
unknown runs. The vocabulary is read once from tokenizer.json and kept beside it in a compact form, so that a
later start reads 6 MB instead of parsing 17 MB of JSON.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import ModelError
from rag.files import write_atomically

COMPACT_FORMAT = "rag.unigram/1"
_PIECES_FILE = "tokenizer.pieces"  # the pieces, NUL-separated, in id order
_SCORES_FILE = "tokenizer.scores"  # float64, little-endian, in id order
_PIPELINE_FILE = "tokenizer.pipeline.json"  # tokenizer.json without its vocabulary, and where it came from
_UNK_PENALTY = 10.0  # the score of an unknown character is the lowest piece score minus this (as sentencepiece)
_WORD_CACHE = 50_000
# Rust's char::is_whitespace (Unicode White_Space), which the library uses to lstrip an added token; str.isspace
# differs (it also takes U+001C..U+001F).
_WHITESPACE = frozenset("\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
                        "\u2009\u200a\u2028\u2029\u202f\u205f\u3000")


@dataclass(frozen=True)
class _AddedToken:
    content: str
    id: int
    lstrip: bool


class UnigramTokenizer:
    """encode_batch(texts) -> (ids, attention_mask), padded to the longest text, as the folder's tokenizer.json."""

    def __init__(self, pipeline: dict[str, Any], pieces: list[str], scores: list[float]) -> None:
        from tokenizers import Tokenizer

        model = pipeline["model"]
        _check_model(model)
        self._ids = dict(zip(pieces, range(len(pieces))))
        self._scores = scores
        self._unk_id = int(model["unk_id"])
        self._unk_score = min(scores) - _UNK_PENALTY
        self._longest = max(map(len, pieces))
        # A one-piece Tokenizer gives the library's own normaliser and pre-tokenizer for this configuration.
        shell = {**pipeline, "model": {**model, "unk_id": 0, "vocab": [[pieces[self._unk_id], 0.0]]},
                 "added_tokens": [], "truncation": None, "padding": None}
        tokenizer = Tokenizer.from_str(json.dumps(shell))
        self._normalizer = tokenizer.normalizer
        self._pre_tokenizer = tokenizer.pre_tokenizer
        self._added = self._added_tokens(pipeline.get("added_tokens") or [])
        self._added_pattern = (re.compile("|".join(re.escape(t) for t in sorted(self._added, key=len, reverse=True)))
                               if self._added else None)
        self._bos, self._eos = self._template(pipeline.get("post_processor") or {})
        self.pad_id = next((t.id for t in self._added.values() if t.content == "<pad>"), self._ids.get("<pad>", 1))
        self._cache: dict[str, list[int]] = {}

    @staticmethod
    def _added_tokens(entries: list[dict[str, Any]]) -> dict[str, _AddedToken]:
        if any(e.get("normalized") or e.get("single_word") or e.get("rstrip") for e in entries):
            raise ModelError("tokenizer.json has added tokens matched after normalisation, as single words or with "
                             "rstrip, which the ONNX route does not read; use embed_backend = \"torch\"")
        return {e["content"]: _AddedToken(e["content"], int(e["id"]), bool(e.get("lstrip"))) for e in entries}

    @staticmethod
    def _template(post: dict[str, Any]) -> tuple[list[int], list[int]]:
        """The ids the post-processor puts before and after one sequence (<s> ... </s>)."""
        if not post:
            return [], []
        if post.get("type") != "TemplateProcessing":
            raise ModelError(f"tokenizer.json post-processor {post.get('type')} is not read by the ONNX route; "
                             "use embed_backend = \"torch\"")
        special = post.get("special_tokens", {})
        items = post["single"]
        where = next(i for i, item in enumerate(items) if "Sequence" in item)
        before, after = items[:where], items[where + 1:]
        return ([i for item in before for i in special[item["SpecialToken"]["id"]]["ids"]],
                [i for item in after for i in special[item["SpecialToken"]["id"]]["ids"]])

    @classmethod
    def from_folder(cls, folder: Path, cache_dir: Path | None = None) -> UnigramTokenizer:
        """The tokenizer of `folder`, from its compact copy in `cache_dir` (written on first use)."""
        source = folder / "tokenizer.json"
        cache_dir = cache_dir or folder
        stamp = _stamp(source)
        try:
            pipeline = json.loads((cache_dir / _PIPELINE_FILE).read_text(encoding="utf-8"))
            if pipeline.pop("_source") == stamp:
                pieces = (cache_dir / _PIECES_FILE).read_text(encoding="utf-8").split("\0")
                scores = np.frombuffer((cache_dir / _SCORES_FILE).read_bytes(), "<f8").tolist()
                if len(pieces) == len(scores) == pipeline.pop("_pieces"):
                    return cls(pipeline, pieces, scores)
        except (OSError, ValueError, KeyError):
            pass  # no compact copy yet, or one of another tokenizer.json: made again below
        try:
            full = json.loads(source.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ModelError(f"cannot read {source} ({exc}): is the model folder complete?") from exc
        _check_model(full.get("model") or {})
        vocab = full["model"].pop("vocab")
        pieces = [piece for piece, _ in vocab]
        scores = [float(score) for _, score in vocab]
        tokenizer = cls(full, pieces, scores)
        if not any("\0" in piece for piece in pieces):
            _write_compact(cache_dir, {**full, "_source": stamp, "_pieces": len(pieces)}, pieces, scores)
        return tokenizer

    def _split_added(self, text: str) -> list[tuple[str, int | None]]:
        """Segments of raw text and the added tokens between them (leftmost-longest, lstrip as declared)."""
        if self._added_pattern is None:
            return [(text, None)] if text else []
        parts: list[tuple[str, int | None]] = []
        done = 0
        for match in self._added_pattern.finditer(text):
            start, stop = match.span()
            if self._added[match.group()].lstrip:
                while start > done and text[start - 1] in _WHITESPACE:
                    start -= 1
            if done < start:
                parts.append((text[done:start], None))
            parts.append(("", self._added[match.group()].id))
            done = stop
        if done < len(text):
            parts.append((text[done:], None))
        return parts

    def _word_ids(self, word: str) -> list[int]:
        """Viterbi over the pieces, as tokenizers' Unigram.encode_optimized (fuse_unk on, no byte fallback)."""
        cached = self._cache.get(word)
        if cached is not None:
            return cached
        ids, scores, unk_id, unk_score = self._ids, self._scores, self._unk_id, self._unk_score
        size = len(word)
        best = [0.0] * (size + 1)
        start_of = [-1] * (size + 1)
        id_of = [unk_id] * (size + 1)
        for start in range(size):
            so_far = best[start]
            single = False
            for stop in range(start + 1, min(size, start + self._longest) + 1):
                piece_id = ids.get(word[start:stop])
                if piece_id is None:
                    continue
                score = scores[piece_id] + so_far
                if start_of[stop] < 0 or score > best[stop]:
                    best[stop], start_of[stop], id_of[stop] = score, start, piece_id
                single = single or stop == start + 1
            if not single:
                score = unk_score + so_far
                if start_of[start + 1] < 0 or score > best[start + 1]:
                    best[start + 1], start_of[start + 1], id_of[start + 1] = score, start, unk_id
        pieces: list[str] = []
        unknown: list[str] = []
        stop = size
        while stop > 0:
            start = start_of[stop]
            if id_of[stop] == unk_id:
                unknown.append(word[start:stop])
            else:
                if unknown:
                    pieces.append("".join(reversed(unknown)))
                    unknown = []
                pieces.append(word[start:stop])
            stop = start
        if unknown:
            pieces.append("".join(reversed(unknown)))
        result = [ids.get(piece, unk_id) for piece in reversed(pieces)]
        if len(self._cache) < _WORD_CACHE:
            self._cache[word] = result
        return result

    def encode(self, text: str, max_length: int = 512) -> list[int]:
        """The ids of one text, truncated on the right so that with <s> and </s> it fits max_length."""
        ids: list[int] = []
        for segment, added_id in self._split_added(text):
            if added_id is not None:
                ids.append(added_id)
                continue
            normalized = self._normalizer.normalize_str(segment) if self._normalizer else segment
            words = self._pre_tokenizer.pre_tokenize_str(normalized) if self._pre_tokenizer else [(normalized, None)]
            for word, _ in words:
                ids.extend(self._word_ids(word))
        room = max(0, max_length - len(self._bos) - len(self._eos))
        return self._bos + ids[:room] + self._eos

    def encode_batch(self, texts: Sequence[str], max_length: int = 512) -> tuple[np.ndarray, np.ndarray]:
        rows = [self.encode(text, max_length) for text in texts]
        width = max(map(len, rows), default=0)
        ids = np.full((len(rows), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for i, row in enumerate(rows):
            ids[i, :len(row)] = row
            mask[i, :len(row)] = 1
        return ids, mask


def _check_model(model: dict[str, Any]) -> None:
    if model.get("type") != "Unigram" or model.get("byte_fallback"):
        raise ModelError("the ONNX route reads Unigram tokenizers without byte fallback only; "
                         "use embed_backend = \"torch\"")


def _stamp(path: Path) -> dict[str, int | str]:
    try:
        stat = path.stat()
    except OSError as exc:
        raise ModelError(f"cannot read {path} ({exc}): is the model folder complete?") from exc
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "format": COMPACT_FORMAT}


def _write_compact(folder: Path, pipeline: dict[str, Any], pieces: list[str], scores: list[float]) -> None:
    """Pieces, scores, then the pipeline that names its source last: a reader never pairs new files with old."""
    contents = {_PIECES_FILE: "\0".join(pieces).encode("utf-8"),
                _SCORES_FILE: np.asarray(scores, dtype="<f8").tobytes(),
                _PIPELINE_FILE: json.dumps(pipeline).encode("utf-8")}
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in contents.items():
            write_atomically(folder / name, data)
    except OSError:
        pass  # a read-only model folder: the tokenizer still works, the next start parses tokenizer.json again
