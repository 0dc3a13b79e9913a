"""Growing the corpus: incremental re-indexing, removal, bad inputs, duplicates, crash safety, one writer."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from rag.answer.extractive import AnswerParams
from rag.assistant import Assistant, open_assistant
from rag.config import RagConfig
from rag.errors import CorpusError, IndexLockedError, IndexStaleError
from rag.index.build import build_index
from rag.index.store import current_generation, load_generation, writer_lock
from rag.text.loading import load_documents
from tests.fakes import HashingEmbedder

REPO = Path(__file__).resolve().parents[2]
SEEDS = REPO / "seeds"

NEW_RELEASE = (
    "Réunion du Comité militaire sur la logistique\n"
    "Le 3 mars 2025, le Comité militaire a examiné la logistique de l’Alliance à Bruxelles. "
    "Le général Martin Dupuis a présenté le nouveau plan logistique aux chefs d’état-major.\n"
)


def test_rebuild_without_changes_embeds_nothing(fake_config: RagConfig, fake_embedder: HashingEmbedder) -> None:
    build_index(fake_config, fake_embedder, show_progress=False)
    calls_before = len(fake_embedder.passage_calls)
    report = build_index(fake_config, fake_embedder, show_progress=False)
    assert report.embedded_documents == 0
    assert len(fake_embedder.passage_calls) == calls_before
    assert len(report.unchanged) == 5 and not report.added and not report.removed


def test_added_release_is_the_only_one_embedded(fake_config: RagConfig, fake_embedder: HashingEmbedder) -> None:
    build_index(fake_config, fake_embedder, show_progress=False)
    (fake_config.corpus_dir / "logistique.txt").write_text(NEW_RELEASE, encoding="utf-8")
    report = build_index(fake_config, fake_embedder, show_progress=False)
    assert report.added == ["logistique"]
    assert report.embedded_documents == 1
    # One passage and three sentences (the heading line and two sentences): four texts, nothing else.
    assert fake_embedder.passage_calls[-1] == 4


def test_changed_release_is_embedded_again_and_reported_updated(
    fake_config: RagConfig, fake_embedder: HashingEmbedder
) -> None:
    build_index(fake_config, fake_embedder, show_progress=False)
    path = next(fake_config.corpus_dir.glob("002_*.txt"))
    path.write_text(path.read_text(encoding="utf-8") + "\nUne phrase ajoutée au communiqué.\n", encoding="utf-8")
    report = build_index(fake_config, fake_embedder, show_progress=False)
    assert report.updated == [path.stem]
    assert report.embedded_documents == 1


def test_vanished_file_is_kept_unless_pruned(fake_config: RagConfig, fake_embedder: HashingEmbedder) -> None:
    build_index(fake_config, fake_embedder, show_progress=False)
    gone = next(fake_config.corpus_dir.glob("001_*.txt"))
    gone.unlink()
    kept = build_index(fake_config, fake_embedder, show_progress=False)
    assert gone.stem in load_generation(fake_config.index_dir).documents and not kept.removed
    pruned = build_index(fake_config, fake_embedder, show_progress=False, prune=True)
    assert pruned.removed == [gone.stem]
    assert gone.stem not in load_generation(fake_config.index_dir).documents


def test_removed_document_stays_out_until_added_again(
    fake_config: RagConfig, fake_embedder: HashingEmbedder, tmp_path: Path
) -> None:
    build_index(fake_config, fake_embedder, show_progress=False)
    doc_id = "003_f6db62ec60d4efec"
    assert build_index(fake_config, fake_embedder, show_progress=False, remove=[doc_id]).removed == [doc_id]
    assert doc_id not in load_generation(fake_config.index_dir).documents
    build_index(fake_config, fake_embedder, show_progress=False)  # a plain rebuild keeps it out
    assert doc_id not in load_generation(fake_config.index_dir).documents
    build_index(fake_config, fake_embedder, show_progress=False, add=[fake_config.corpus_dir / f"{doc_id}.txt"])
    assert doc_id in load_generation(fake_config.index_dir).documents


def test_removing_an_unknown_document_is_refused(fake_config: RagConfig, fake_embedder: HashingEmbedder) -> None:
    build_index(fake_config, fake_embedder, show_progress=False)
    with pytest.raises(CorpusError, match="no document nope"):
        build_index(fake_config, fake_embedder, show_progress=False, remove=["nope"])


def test_added_folder_is_searched_recursively_and_answers(
    fake_config: RagConfig, fake_embedder: HashingEmbedder, tmp_path: Path
) -> None:
    build_index(fake_config, fake_embedder, show_progress=False)
    weekly = tmp_path / "weekly" / "march"
    weekly.mkdir(parents=True)
    (weekly / "logistique.md").write_text("# " + NEW_RELEASE, encoding="utf-8")
    report = build_index(fake_config, fake_embedder, show_progress=False, add=[tmp_path / "weekly"])
    assert report.added == ["march/logistique"]
    # The hashing embedder's cosines are not the model's: the fitted abstention rule is not what is tested here.
    never_abstain = replace(AnswerParams.load(), abstain_threshold=0.0)
    answer = Assistant(fake_config, fake_embedder, params=never_abstain).ask("Qui a présenté le nouveau plan logistique ?")
    assert answer.citations and answer.citations[0].doc_id == "march/logistique"
    assert "Martin Dupuis" in answer.answer


def _write_bad_inputs(folder: Path) -> None:
    (folder / "binary.txt").write_bytes(b"\x00\x01\x02PNG\x00" * 100)
    (folder / "empty.txt").write_bytes(b"")
    (folder / "blank.txt").write_text("   \n\n  ", encoding="utf-8")
    with (folder / "huge.txt").open("wb") as handle:
        handle.truncate(50 * 1024 * 1024)
    (folder / "bom.txt").write_bytes("\ufeffTitre du communiqué avec BOM\nLe 4 avril 2025, réunion à Bruxelles.".encode())
    (folder / "latin1.txt").write_bytes("Réunion à Bruxelles le 3 mars 2025 : les chefs se sont réunis.".encode("latin-1"))
    (folder / "page.html").write_text(
        "<html><head><title>Réunion logistique</title><script>alert('x')</script><style>p{color:red}</style>"
        "</head><body><nav>Accueil | Actualités</nav><article><h1>Réunion logistique</h1>"
        "<p>Le 3 mars 2025, le Comité militaire a examiné la logistique de l’Alliance à Bruxelles, "
        "avec les représentants des pays partenaires réunis pour la journée.</p>"
        "<p>Le général Martin Dupuis a présenté le nouveau plan logistique aux chefs d’état-major.</p>"
        "</article><footer>Cookies</footer></body></html>",
        encoding="utf-8",
    )
    (folder / "german.txt").write_text(
        "Der Militärausschuss der NATO traf sich in Brüssel, um über die Unterstützung der Ukraine "
        "und die Zusammenarbeit mit den Partnern zu beraten.", encoding="utf-8")
    (folder / "image.png").write_bytes(b"\x89PNG\r\n")
    (folder / "utf16.txt").write_bytes("Réunion à Bruxelles le 5 mai 2025 : les chefs se sont réunis.".encode("utf-16"))
    (folder / "utf32.txt").write_bytes("Réunion à Bruxelles le 6 mai 2025 : les chefs se sont réunis.".encode("utf-32"))
    (folder / "marked_nuls.txt").write_bytes(b"\xff\xfe" + b"\x01\x00" * 2000)  # UTF-16 of control characters
    (folder / "naval16.html").write_bytes(
        ("<html><head><title>Réunion navale</title></head><body><article><h1>Réunion navale</h1><p>Le 7 mai 2025, "
         "les chefs d’état-major de la marine ont examiné à Bruxelles la coopération avec les pays partenaires "
         "de l’Alliance.</p></article></body></html>").encode("utf-16"))
    (folder / "heavy.html").write_text(
        "<html><head><title>Réunion lourde</title><script>" + "var x = 1;" * 150_000 + "</script></head><body>"
        "<article><h1>Réunion lourde</h1><p>Le 8 mai 2025, le Comité militaire a examiné la logistique de "
        "l’Alliance à Bruxelles avec les représentants des pays partenaires.</p></article></body></html>",
        encoding="utf-8")
    (folder / "links.md").write_text("Voir [la page](javascript:alert(1)) et [le plan](https://x.int/a_(b)).",
                                     encoding="utf-8")


def test_each_bad_input_has_a_defined_outcome(tmp_path: Path) -> None:
    _write_bad_inputs(tmp_path)
    report = load_documents([tmp_path])
    reasons = {Path(s.source).name: s.reason for s in report.skipped}
    assert "binary" in reasons["binary.txt"]
    assert reasons["empty.txt"] == "empty file"
    assert "whitespace" in reasons["blank.txt"]
    assert "over the 1 MB limit" in reasons["huge.txt"]
    assert "unsupported file type '.png'" in reasons["image.png"]
    documents = {d.doc_id: d for d in report.documents}
    assert documents["bom"].text.startswith("Titre du communiqué") and documents["bom"].title is not None
    assert "Réunion à Bruxelles" in documents["latin1"].text
    assert documents["page"].title == "Réunion logistique"
    assert "alert" not in documents["page"].text and "color:red" not in documents["page"].text
    assert "Martin Dupuis" in documents["page"].text and documents["page"].date == "2025-03-03"
    assert documents["german"].lang == "de"
    assert "Réunion à Bruxelles le 5 mai 2025" in documents["utf16"].text
    assert documents["utf32"].text.startswith("Réunion à Bruxelles le 6 mai 2025")
    assert "binary" in reasons["marked_nuls.txt"]
    assert documents["naval16"].title == "Réunion navale" and "7 mai 2025" in documents["naval16"].text
    assert "la logistique" in documents["heavy"].text  # 1.5 MB of script around a short article
    assert documents["links"].text == "Voir la page et le plan."


def test_exact_and_near_duplicates_are_indexed_once(fake_config: RagConfig, fake_embedder: HashingEmbedder) -> None:
    seed = next(fake_config.corpus_dir.glob("002_*.txt"))
    shutil.copy(seed, fake_config.corpus_dir / "copie.txt")
    chrome = "Accueil | Actualités | Contact\n" + seed.read_text(encoding="utf-8") + "\nTous droits réservés OTAN\n"
    (fake_config.corpus_dir / "page-sauvegardee.txt").write_text(chrome, encoding="utf-8")
    report = build_index(fake_config, fake_embedder, show_progress=False)
    reasons = {Path(s.source).name: s.reason for s in report.skipped}
    assert reasons["copie.txt"].startswith(f"duplicate of {seed.stem}")
    assert reasons["page-sauvegardee.txt"].startswith(f"near-duplicate of {seed.stem}")
    assert sorted(load_generation(fake_config.index_dir).documents) == sorted(p.stem for p in SEEDS.glob("*.txt"))


def test_second_writer_is_refused_with_a_clear_message(fake_config: RagConfig, fake_embedder: HashingEmbedder) -> None:
    with writer_lock(fake_config.index_dir):
        with pytest.raises(IndexLockedError, match="being written by pid"):
            build_index(fake_config, fake_embedder, show_progress=False)


_KILLER = textwrap.dedent(
    """
    import os, signal, sys
    sys.path[:0] = [{repo!r}]
    from pathlib import Path
    from rag.index import store as index_store
    from rag.config import load_config
    from rag.index.build import build_index
    from tests.fakes import HashingEmbedder

    target, after = sys.argv[1], int(sys.argv[2])
    calls = {{"n": 0}}
    module, name = target.rsplit(".", 1)
    owner = {{"os": index_store.os, "np": index_store.np, "shutil": index_store.shutil}}[module]
    original = getattr(owner, name)

    def dying(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > after:
            os.kill(os.getpid(), signal.SIGKILL)
        return original(*args, **kwargs)

    setattr(owner, name, dying)
    config = load_config(env={{}}, corpus_dir=Path(sys.argv[3]), index_dir=Path(sys.argv[4]))
    build_index(config, HashingEmbedder(), show_progress=False)
    """
)


@pytest.mark.parametrize(
    ("target", "after"),
    [("np.save", 0), ("np.save", 1), ("os.fsync", 3), ("os.rename", 0), ("os.replace", 0)],
)
def test_killed_writer_leaves_a_loadable_consistent_index(
    fake_config: RagConfig, fake_embedder: HashingEmbedder, tmp_path: Path, target: str, after: int
) -> None:
    build_index(fake_config, fake_embedder, show_progress=False)
    before = current_generation(fake_config.index_dir).name
    (fake_config.corpus_dir / "logistique.txt").write_text(NEW_RELEASE, encoding="utf-8")
    script = tmp_path / "killer.py"
    script.write_text(_KILLER.format(repo=str(REPO)), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(script), target, str(after), str(fake_config.corpus_dir), str(fake_config.index_dir)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == -signal.SIGKILL, result.stderr
    stored = load_generation(fake_config.index_dir)  # verifies every checksum
    # Killed before the switch: the old generation; after it (pruning): the new one. Never a mix.
    assert stored.generation == before or "logistique" in stored.documents
    answer = Assistant(fake_config, fake_embedder).ask("Qui a ouvert la réunion de janvier 2025 ?")
    assert answer.passages
    # The next writer is not blocked by the dead one's lock and cleans its leftovers.
    build_index(fake_config, fake_embedder, show_progress=False)
    assert not list(fake_config.index_dir.glob(".staging-*"))
    assert "logistique" in load_generation(fake_config.index_dir).documents


def _moved_corpus(fake_config: RagConfig, tmp_path: Path) -> RagConfig:
    """The seeds copied to another folder with one more release, and a configuration naming that folder."""
    moved = tmp_path / "moved"
    shutil.copytree(fake_config.corpus_dir, moved)
    (moved / "logistique.txt").write_text(NEW_RELEASE, encoding="utf-8")
    return replace(fake_config, corpus_dir=moved)


def test_an_index_follows_the_corpus_folder_the_configuration_names(
        fake_config: RagConfig, fake_embedder: HashingEmbedder, tmp_path: Path) -> None:
    build_index(fake_config, fake_embedder, show_progress=False)
    moved = _moved_corpus(fake_config, tmp_path)
    report = build_index(moved, fake_embedder, show_progress=False)
    assert report.added == ["logistique"] and len(report.unchanged) == 5
    assert load_generation(moved.index_dir).manifest["sources"] == [str(moved.corpus_dir)]


def test_asking_after_the_corpus_folder_changed_rebuilds_or_refuses_without_build(
        fake_config: RagConfig, fake_embedder: HashingEmbedder, tmp_path: Path) -> None:
    build_index(fake_config, fake_embedder, show_progress=False)
    moved = _moved_corpus(fake_config, tmp_path)
    with pytest.raises(IndexStaleError, match=r"built from the releases in .*now names .*moved: rebuild with `rag index`"):
        open_assistant(moved, build=False, embedder=fake_embedder)
    assistant = open_assistant(moved, build=True, embedder=fake_embedder)
    assert "logistique" in assistant.stored.documents


def test_explicit_sources_are_kept_whatever_the_corpus_folder(
        fake_config: RagConfig, fake_embedder: HashingEmbedder, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(fake_config.corpus_dir, elsewhere)
    build_index(fake_config, fake_embedder, sources=[elsewhere], show_progress=False)
    other = replace(fake_config, corpus_dir=tmp_path / "unrelated")
    assert open_assistant(other, build=False, embedder=fake_embedder).stored.manifest["sources"] == [str(elsewhere)]


def test_a_vanished_source_says_how_to_point_at_the_new_folder(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match=r"does not exist: if the releases moved, point corpus_dir"):
        load_documents([tmp_path / "gone"])


def test_an_index_built_from_a_relative_corpus_folder_serves_from_any_directory(
        fake_config: RagConfig, fake_embedder: HashingEmbedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = fake_config.corpus_dir.parent
    monkeypatch.chdir(project)
    relative = replace(fake_config, corpus_dir=Path(fake_config.corpus_dir.name), index_dir=tmp_path / "index-abs")
    build_index(relative, fake_embedder, show_progress=False)
    manifest = load_generation(relative.index_dir).manifest
    assert manifest["sources"] == [str(fake_config.corpus_dir.resolve())]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # "seeds" names nothing here: the index keeps reading its own folder
    assistant = open_assistant(relative, build=False, embedder=fake_embedder)
    assert len(assistant.stored.documents) == 5


def test_an_index_of_explicit_sources_records_no_corpus_folder(
        fake_config: RagConfig, fake_embedder: HashingEmbedder, tmp_path: Path) -> None:
    elsewhere = tmp_path / "explicit"
    shutil.copytree(fake_config.corpus_dir, elsewhere)
    build_index(fake_config, fake_embedder, sources=[elsewhere], show_progress=False)
    assert load_generation(fake_config.index_dir).manifest["corpus_dir"] is None
