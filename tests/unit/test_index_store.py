"""The index folder: a missing, corrupt or stale index is detected and named, never silently used."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from rag.assistant import Assistant, ensure_index, open_assistant
from rag.config import RagConfig
from rag.errors import IndexCorruptError, IndexMissingError, IndexStaleError
from rag.index.build import build_index, index_settings
from rag.index.store import KEEP_GENERATIONS, check_settings, current_generation, load_generation
from rag.index.vectors.faiss_index import FAISS_FILE
from tests.fakes import HashingEmbedder


@pytest.fixture
def built(fake_config: RagConfig, fake_embedder: HashingEmbedder) -> Path:
    """The index built from the seeds; returns its current generation folder."""
    build_index(fake_config, fake_embedder, show_progress=False)
    return current_generation(fake_config.index_dir)


def flip_byte(path: Path, at: float = 0.5) -> None:
    data = bytearray(path.read_bytes())
    data[int(len(data) * at)] ^= 0x01
    path.write_bytes(bytes(data))


def generations(index_dir: Path) -> list[str]:
    return sorted(p.name for p in index_dir.glob("gen-*") if p.is_dir())


# --- missing -------------------------------------------------------------------------------------------


def test_loading_a_folder_without_an_index_says_to_run_rag_index(tmp_path: Path) -> None:
    with pytest.raises(IndexMissingError, match="`rag index`"):
        load_generation(tmp_path / "nothing-here")


def test_assistant_over_a_missing_index_refuses_with_the_same_message(
    fake_config: RagConfig, fake_embedder: HashingEmbedder
) -> None:
    with pytest.raises(IndexMissingError, match="rag index"):
        Assistant(fake_config, fake_embedder)


# --- corrupt -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["chunks.jsonl", "sentences.jsonl", "documents.jsonl", "chunk_vectors.npy",
                                  "sentence_vectors.npy", FAISS_FILE])
def test_a_flipped_byte_fails_the_checksum(fake_config: RagConfig, built: Path, name: str) -> None:
    flip_byte(built / name)
    with pytest.raises(IndexCorruptError, match="checksum") as raised:
        load_generation(fake_config.index_dir)
    assert name in str(raised.value) and "rag index" in str(raised.value)


def test_a_deleted_file_is_reported_corrupt(fake_config: RagConfig, built: Path) -> None:
    (built / "sentences.jsonl").unlink()
    with pytest.raises(IndexCorruptError, match="rag index"):
        load_generation(fake_config.index_dir)


@pytest.mark.parametrize("content", ["{not json", "[]", "\"text\""])
def test_an_unreadable_manifest_is_reported_corrupt(fake_config: RagConfig, built: Path, content: str) -> None:
    (built / "manifest.json").write_text(content, encoding="utf-8")
    with pytest.raises(IndexCorruptError, match="manifest.json.*rag index"):
        load_generation(fake_config.index_dir)


@pytest.mark.parametrize("pointer", ["gen-20990101T000000000000Z\n", "../elsewhere\n", "\n"])
def test_current_pointing_nowhere_is_reported_corrupt(fake_config: RagConfig, built: Path, pointer: str) -> None:
    (fake_config.index_dir / "CURRENT").write_text(pointer, encoding="utf-8")
    with pytest.raises(IndexCorruptError, match="CURRENT"):
        load_generation(fake_config.index_dir)


def test_a_corrupt_index_is_not_used_by_the_assistant(fake_config: RagConfig, fake_embedder: HashingEmbedder,
                                                      built: Path) -> None:
    flip_byte(built / "chunks.jsonl")
    with pytest.raises(IndexCorruptError):
        Assistant(fake_config, fake_embedder)


def test_without_checksum_verification_a_readable_file_loads(fake_config: RagConfig, built: Path) -> None:
    # Proves the checksum (not a parse error) is what rejects a silently altered but well-formed file.
    path = built / "documents.jsonl"
    path.write_text(path.read_text(encoding="utf-8").replace("Réunion", "Reunion", 1), encoding="utf-8")
    assert load_generation(fake_config.index_dir, verify_checksums=False).documents
    with pytest.raises(IndexCorruptError, match="checksum"):
        load_generation(fake_config.index_dir)


def test_parts_of_unequal_length_are_reported_corrupt(fake_config: RagConfig, built: Path) -> None:
    lines = (built / "chunks.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    (built / "chunks.jsonl").write_text("".join(lines[:-1]), encoding="utf-8")
    with pytest.raises(IndexCorruptError, match="mismatched"):
        load_generation(fake_config.index_dir, verify_checksums=False)


# --- stale ---------------------------------------------------------------------------------------------


def test_another_chunk_size_makes_the_index_stale_and_names_it(
    fake_config: RagConfig, fake_embedder: HashingEmbedder, built: Path
) -> None:
    with pytest.raises(IndexStaleError, match="chunk_size") as raised:
        Assistant(replace(fake_config, chunk_size=500), fake_embedder)
    assert "800" in str(raised.value) and "500" in str(raised.value) and "rag index" in str(raised.value)


def test_another_chunk_overlap_makes_the_index_stale_and_names_it(
    fake_config: RagConfig, fake_embedder: HashingEmbedder, built: Path
) -> None:
    with pytest.raises(IndexStaleError, match="chunk_overlap"):
        Assistant(replace(fake_config, chunk_overlap=50), fake_embedder)


def test_another_model_makes_the_index_stale_and_names_it(fake_config: RagConfig, built: Path) -> None:
    other = HashingEmbedder()
    other.model_id = "test:another-model"
    with pytest.raises(IndexStaleError, match="model_id") as raised:
        Assistant(fake_config, other)
    assert "test:another-model" in str(raised.value)


def test_another_dimension_makes_the_index_stale_and_names_it(fake_config: RagConfig, built: Path) -> None:
    with pytest.raises(IndexStaleError, match="dimension"):
        Assistant(fake_config, HashingEmbedder(dimension=128))


def test_matching_settings_pass_the_check(fake_config: RagConfig, fake_embedder: HashingEmbedder,
                                          built: Path) -> None:
    check_settings(load_generation(fake_config.index_dir).manifest, index_settings(fake_config, fake_embedder))


def test_an_index_of_another_format_version_is_stale(fake_config: RagConfig, built: Path) -> None:
    manifest = json.loads((built / "manifest.json").read_text(encoding="utf-8"))
    manifest["format_version"] = 999
    (built / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(IndexStaleError, match="rag index"):
        load_generation(fake_config.index_dir)


# --- ensure_index --------------------------------------------------------------------------------------


def test_ensure_index_builds_a_missing_index(fake_config: RagConfig, fake_embedder: HashingEmbedder) -> None:
    report = ensure_index(fake_config, fake_embedder)
    assert report is not None and len(report.added) == 5
    assert current_generation(fake_config.index_dir) == report.generation


def test_ensure_index_leaves_a_fresh_index_alone(fake_config: RagConfig, fake_embedder: HashingEmbedder,
                                                 built: Path) -> None:
    calls = len(fake_embedder.passage_calls)
    assert ensure_index(fake_config, fake_embedder) is None
    assert current_generation(fake_config.index_dir) == built
    assert len(fake_embedder.passage_calls) == calls


def test_ensure_index_rebuilds_when_a_release_was_edited(fake_config: RagConfig, fake_embedder: HashingEmbedder,
                                                         built: Path) -> None:
    path = next(fake_config.corpus_dir.glob("001_*.txt"))
    path.write_text(path.read_text(encoding="utf-8") + "\nUne phrase ajoutée après la publication.\n",
                    encoding="utf-8")
    report = ensure_index(fake_config, fake_embedder)
    assert report is not None and report.updated == [path.stem]
    assert current_generation(fake_config.index_dir) != built
    stored = load_generation(fake_config.index_dir)
    assert "Une phrase ajoutée après la publication." in stored.documents[path.stem].text
    assert ensure_index(fake_config, fake_embedder) is None


def test_ensure_index_rebuilds_when_the_settings_changed(fake_config: RagConfig, fake_embedder: HashingEmbedder,
                                                         built: Path) -> None:
    smaller = replace(fake_config, chunk_size=400, chunk_overlap=60)
    assert ensure_index(smaller, fake_embedder) is not None
    Assistant(smaller, fake_embedder)  # loads without IndexStaleError


def test_ensure_index_rebuilds_a_corrupt_index(fake_config: RagConfig, fake_embedder: HashingEmbedder,
                                               built: Path) -> None:
    flip_byte(built / "chunk_vectors.npy")
    assert ensure_index(fake_config, fake_embedder) is not None
    load_generation(fake_config.index_dir)


def test_ensure_index_refuses_a_stale_index_when_rebuilding_is_not_allowed(
    fake_config: RagConfig, fake_embedder: HashingEmbedder, built: Path
) -> None:
    path = next(fake_config.corpus_dir.glob("001_*.txt"))
    path.write_text(path.read_text(encoding="utf-8") + "\nAjout.\n", encoding="utf-8")
    with pytest.raises(IndexStaleError, match="rag index"):
        ensure_index(fake_config, fake_embedder, rebuild_if_stale=False)
    assert current_generation(fake_config.index_dir) == built


# --- generations ---------------------------------------------------------------------------------------


def test_writing_keeps_at_most_two_generations(fake_config: RagConfig, fake_embedder: HashingEmbedder) -> None:
    assert KEEP_GENERATIONS == 2
    written = [build_index(fake_config, fake_embedder, show_progress=False).generation for _ in range(4)]
    written_names = [g.name for g in written if g is not None]
    assert len(written_names) == 4
    assert generations(fake_config.index_dir) == sorted(written_names[-2:])
    assert current_generation(fake_config.index_dir).name == written_names[-1]


def test_writing_removes_leftover_staging_folders(fake_config: RagConfig, fake_embedder: HashingEmbedder,
                                                  built: Path) -> None:
    leftover = fake_config.index_dir / ".staging-abandoned"
    leftover.mkdir()
    (leftover / "chunks.jsonl").write_text("half written", encoding="utf-8")
    build_index(fake_config, fake_embedder, show_progress=False)
    assert not list(fake_config.index_dir.glob(".staging-*"))


def test_current_names_a_complete_generation_after_writing(fake_config: RagConfig, built: Path) -> None:
    pointer = (fake_config.index_dir / "CURRENT").read_text(encoding="utf-8").strip()
    assert pointer == built.name
    manifest = json.loads((built / "manifest.json").read_text(encoding="utf-8"))
    assert set(manifest["files"]) <= {p.name for p in built.iterdir()}
    assert manifest["documents"] == 5


def test_a_new_text_pipeline_version_rebuilds_and_reembeds_every_release(
    fake_config: RagConfig, fake_embedder: HashingEmbedder, built: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import rag.index.build

    monkeypatch.setattr(rag.index.build, "TEXT_PIPELINE_VERSION", rag.index.build.TEXT_PIPELINE_VERSION + 1)
    with pytest.raises(IndexStaleError, match="text_pipeline"):
        Assistant(fake_config, fake_embedder)
    report = ensure_index(fake_config, fake_embedder)
    assert report is not None and report.embedded_documents == 5
    Assistant(fake_config, fake_embedder)  # loads without IndexStaleError


def test_opening_the_assistant_on_a_fresh_index_loads_it_once(
    fake_config: RagConfig, fake_embedder: HashingEmbedder, built: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import rag.assistant

    loads: list[Path] = []

    def counting_load(index_dir: Path, *args, **kwargs):  # type: ignore[no-untyped-def]
        loads.append(index_dir)
        return load_generation(index_dir, *args, **kwargs)

    monkeypatch.setattr(rag.assistant, "load_generation", counting_load)
    assistant = open_assistant(fake_config, embedder=fake_embedder)
    assert loads == [fake_config.index_dir]
    assert assistant.stored.path == built
