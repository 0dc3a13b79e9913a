"""Atomic writes: the file holds the old content or the new, and no temporary file is left behind."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from rag.files import publish, write_atomically


def test_a_file_is_written_whole_and_replaces_the_old_one(tmp_path: Path) -> None:
    target = tmp_path / "cache.json"
    target.write_bytes(b"old")
    write_atomically(target, b"new content")
    assert target.read_bytes() == b"new content"
    assert [p.name for p in tmp_path.iterdir()] == ["cache.json"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "cache.json"
    target.write_bytes(b"old")
    with pytest.raises(TypeError):
        write_atomically(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["cache.json"]


def test_a_durable_write_flushes_the_file_and_its_folder_before_returning(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    flushed: list[str] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        flushed.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    write_atomically(tmp_path / "CURRENT", b"gen-2\n", durable=True)
    assert (tmp_path / "CURRENT").read_bytes() == b"gen-2\n"
    assert len(flushed) == 2 and flushed[-1] == str(tmp_path)  # the renamed entry reaches the disk too
    flushed.clear()
    write_atomically(tmp_path / "cache.json", b"{}")
    assert flushed == []


def test_publish_lets_a_writer_fill_the_file_and_sets_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "model.onnx"
    publish(target, lambda tmp: tmp.write_text("weights"), mode=0o644)
    assert target.read_text() == "weights" and stat.S_IMODE(target.stat().st_mode) == 0o644

    def half_written(tmp: Path) -> None:
        tmp.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        publish(target, half_written)
    assert target.read_text() == "weights"
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"]


def test_two_threads_writing_one_file_never_leave_it_mixed(tmp_path: Path) -> None:
    import threading

    target = tmp_path / "lexicon.json"
    contents = [bytes([65 + n]) * 200_000 for n in range(4)]
    errors: list[BaseException] = []

    def write(data: bytes) -> None:
        try:
            for _ in range(20):
                write_atomically(target, data)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(c,)) for c in contents]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert target.read_bytes() in contents  # one writer's bytes whole, never two interleaved
    assert [p.name for p in tmp_path.iterdir()] == ["lexicon.json"]
