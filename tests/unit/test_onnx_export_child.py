"""The ONNX export runs in a child process: a child that fails or is killed becomes a ModelError."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from rag.embed import onnx_runtime as onnx_model
from rag.errors import ModelError


def _child_returning(monkeypatch: pytest.MonkeyPatch, returncode: int, stderr: str = "") -> list[list[str]]:
    calls: list[list[str]] = []

    def run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        calls.append(command)
        return subprocess.CompletedProcess(command, returncode, "", stderr)

    monkeypatch.setattr(onnx_model.subprocess, "run", run)
    return calls


def test_a_child_killed_for_memory_is_a_model_error_that_says_so(monkeypatch: pytest.MonkeyPatch,
                                                                 tmp_path: Path) -> None:
    _child_returning(monkeypatch, -9)
    with pytest.raises(ModelError, match=r"killed \(SIGKILL\).*memory.*embed_backend = \"torch\""):
        onnx_model._export_fp32_in_child(tmp_path / "model", tmp_path / "model.onnx")


def test_a_child_stopped_by_another_signal_is_not_blamed_on_memory(monkeypatch: pytest.MonkeyPatch,
                                                                     tmp_path: Path) -> None:
    _child_returning(monkeypatch, -15)
    with pytest.raises(ModelError, match=r"stopped by SIGTERM; use") as raised:
        onnx_model._export_fp32_in_child(tmp_path / "model", tmp_path / "model.onnx")
    assert "memory" not in str(raised.value)


def test_a_failing_child_passes_on_its_last_error_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _child_returning(monkeypatch, 1, "Traceback...\nerror: the ONNX export disagrees with torch (cosine 0.98).\n")
    with pytest.raises(ModelError, match=r"ONNX: the ONNX export disagrees with torch \(cosine 0\.98\); use"):
        onnx_model._export_fp32_in_child(tmp_path / "model", tmp_path / "model.onnx")


def test_a_successful_child_exports_the_folder_to_the_target(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls = _child_returning(monkeypatch, 0)
    onnx_model._export_fp32_in_child(tmp_path / "model", tmp_path / "model.onnx")
    assert calls and calls[0][1:] == ["-P", "-m", "rag.embed.onnx_runtime", str(tmp_path / "model"), str(tmp_path / "model.onnx")]


def test_the_child_entry_point_reports_an_unexportable_folder_in_one_line(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def refuse(folder: Path, target: Path) -> None:
        raise ModelError(f"the ONNX export of {folder} disagrees with torch")

    monkeypatch.setattr(onnx_model, "_export_fp32", refuse)
    assert onnx_model.main([str(tmp_path), str(tmp_path / "x.onnx")]) == 1
    assert capsys.readouterr().err.strip().startswith("error: the ONNX export of")
