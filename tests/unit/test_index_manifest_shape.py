"""A manifest that is valid JSON of the wrong shape, or an index/CURRENT that is not text, is a corrupt index
with a message, which `rag ask` and `rag index` repair by rebuilding (issue 15, item 7)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

import rag.embed.embedder
from rag.cli import main
from rag.config import RagConfig
from rag.errors import IndexCorruptError, IndexStaleError
from rag.index.build import build_index
from rag.index.store import current_generation, load_generation
from tests.fakes import HashingEmbedder

BAD_SHAPES: list[tuple[str, Any]] = [
    ("files", []), ("files", None), ("files", {"chunks.jsonl": 3}), ("files", {"../../etc/passwd": "0" * 64}),
    ("sources", None), ("sources", "seeds"), ("sources", [1, 2]), ("settings", None), ("settings", []),
    ("settings", "x"), ("excluded_doc_ids", {"a": 1}), ("source_fingerprint", 7), ("corpus_dir", []),
    ("index_params", []), ("vector_store", 1), ("format_version", "1"), ("format_version", None),
    ("format_version", 1.0), ("files", "DELETE"), ("settings", "DELETE"), ("format_version", "DELETE"),
]


@pytest.fixture
def built(fake_config: RagConfig, fake_embedder: HashingEmbedder) -> Path:
    build_index(fake_config, fake_embedder, show_progress=False)
    return current_generation(fake_config.index_dir)


def reshape(generation: Path, key: str, value: Any) -> None:
    manifest = json.loads((generation / "manifest.json").read_text(encoding="utf-8"))
    if value == "DELETE":
        del manifest[key]
    else:
        manifest[key] = value
    (generation / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


@pytest.mark.parametrize(("key", "value"), BAD_SHAPES)
def test_a_manifest_of_the_wrong_shape_is_corrupt_and_says_rag_index(fake_config: RagConfig, built: Path,
                                                                     key: str, value: Any) -> None:
    reshape(built, key, value)
    with pytest.raises(IndexCorruptError, match=f"'?{key}'?.*rebuild with `rag index`"):
        load_generation(fake_config.index_dir)


def test_another_format_version_is_named_as_such(fake_config: RagConfig, built: Path) -> None:
    reshape(built, "format_version", 2)
    with pytest.raises(IndexStaleError) as raised:
        load_generation(fake_config.index_dir)
    assert "format 2" in str(raised.value) and "reads format 1" in str(raised.value)


@pytest.mark.parametrize("pointer", [b"gen-\xff\xfe\n", b"\x00\x01\x02", b"gen-x\x00y\n", b"gen-a/../../b\n"])
def test_a_current_pointer_that_is_not_a_generation_name_is_corrupt(fake_config: RagConfig, built: Path,
                                                                    pointer: bytes) -> None:
    (fake_config.index_dir / "CURRENT").write_bytes(pointer)
    with pytest.raises(IndexCorruptError, match="rebuild with `rag index`"):
        load_generation(fake_config.index_dir)


def test_a_current_pointer_that_is_a_folder_is_corrupt(fake_config: RagConfig, built: Path) -> None:
    (fake_config.index_dir / "CURRENT").unlink()
    (fake_config.index_dir / "CURRENT").mkdir()
    with pytest.raises(IndexCorruptError, match="rebuild with `rag index`"):
        current_generation(fake_config.index_dir)


# --- the commands ------------------------------------------------------------------------------------------


DAMAGE = {
    "files is a list": lambda generation, index: reshape(generation, "files", []),
    "sources is null": lambda generation, index: reshape(generation, "sources", None),
    "settings is a string": lambda generation, index: reshape(generation, "settings", "x"),
    "CURRENT is not UTF-8": lambda generation, index: (index / "CURRENT").write_bytes(b"gen-\xff\n"),
}


@pytest.fixture
def cli(fake_config: RagConfig, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The options that point the command at the fake index, with the fake model and no RAG_* variable."""
    monkeypatch.setattr(rag.embed.embedder, "SentenceTransformerEmbedder", lambda config: HashingEmbedder())
    for name in [n for n in os.environ if n.startswith("RAG_")]:
        monkeypatch.delenv(name)
    return ["-q", "--corpus-dir", str(fake_config.corpus_dir), "--index-dir", str(fake_config.index_dir)]


@pytest.mark.parametrize("damage", DAMAGE)
def test_ask_without_building_exits_1_with_one_line_saying_rag_index(
        capsys: pytest.CaptureFixture[str], fake_config: RagConfig, built: Path, cli: list[str], damage: str) -> None:
    DAMAGE[damage](built, fake_config.index_dir)
    code = main(["ask", *cli, "--no-build", "Qui a ouvert la réunion ?"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("error: ") and "rebuild with `rag index`" in err


@pytest.mark.parametrize("command", ["ask", "index"])
@pytest.mark.parametrize("damage", DAMAGE)
def test_ask_and_index_repair_the_index_by_rebuilding_it(fake_config: RagConfig, built: Path, cli: list[str],
                                                         command: str, damage: str) -> None:
    DAMAGE[damage](built, fake_config.index_dir)
    extra = ["Qui a ouvert la réunion semestrielle avec les partenaires ?"] if command == "ask" else []
    assert main([command, *cli, *extra]) == 0
    repaired = load_generation(fake_config.index_dir)
    assert repaired.generation != built.name and len(repaired.documents) == 5
