"""Corpus growth with the real model and index: what gets re-embedded, and `rag index` killed mid-run."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rag.assistant import Assistant
from rag.config import load_config
from rag.index.build import build_index
from rag.index.store import load_generation

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
NEW_RELEASE = (
    "Réunion du Comité militaire sur la logistique\n"
    "Le 3 mars 2025, le Comité militaire a examiné la logistique de l’Alliance à Bruxelles. "
    "Le général Martin Dupuis a présenté le nouveau plan logistique aux chefs d’état-major.\n"
)


class CountingEmbedder:
    """The real embedder, recording which texts it was asked to embed."""

    def __init__(self, inner) -> None:  # type: ignore[no-untyped-def]
        self.inner = inner
        self.model_id = inner.model_id
        self.dimension = inner.dimension
        self.embedded: list[str] = []

    def embed_queries(self, texts):  # type: ignore[no-untyped-def]
        return self.inner.embed_queries(texts)

    def embed_passages(self, texts, show_progress: bool = False):  # type: ignore[no-untyped-def]
        self.embedded.extend(texts)
        return self.inner.embed_passages(texts)


def test_add_change_remove_round_trip_embeds_only_what_changed(real_embedder, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    corpus = tmp_path / "seeds"
    shutil.copytree(REPO / "seeds", corpus)
    config = load_config(env={}, corpus_dir=corpus, index_dir=tmp_path / "index")
    embedder = CountingEmbedder(real_embedder)
    build_index(config, embedder, show_progress=False)
    first_build = len(embedder.embedded)

    (corpus / "logistique.txt").write_text(NEW_RELEASE, encoding="utf-8")
    embedder.embedded.clear()
    assert build_index(config, embedder, show_progress=False).added == ["logistique"]
    assert embedder.embedded and all("logistique" in text or "Dupuis" in text or "3 mars 2025" in text
                                     for text in embedder.embedded)
    assert len(embedder.embedded) < first_build / 10

    answer = Assistant(config, embedder).ask("Who presented the new logistics plan?")
    assert answer.citations[0].doc_id == "logistique" and "Martin Dupuis" in answer.citations[0].quote

    changed = corpus / "logistique.txt"
    changed.write_text(NEW_RELEASE.replace("Martin Dupuis", "Claire Moreau"), encoding="utf-8")
    embedder.embedded.clear()
    assert build_index(config, embedder, show_progress=False).updated == ["logistique"]
    assert any("Claire Moreau" in text for text in embedder.embedded)
    assert not any("Rutte" in text for text in embedder.embedded)  # the seeds were not embedded again

    embedder.embedded.clear()
    report = build_index(config, embedder, show_progress=False, remove=["logistique"])
    assert report.removed == ["logistique"] and embedder.embedded == []
    assert "logistique" not in load_generation(config.index_dir).documents


def test_rag_index_killed_at_any_moment_leaves_a_usable_index(real_assistant, real_config, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    corpus = tmp_path / "seeds"
    index_dir = tmp_path / "index"
    shutil.copytree(real_config.corpus_dir, corpus)
    shutil.copytree(real_config.index_dir, index_dir)
    (corpus / "logistique.txt").write_text(NEW_RELEASE, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "rag", "index", "-q", "--corpus-dir", str(corpus), "--index-dir", str(index_dir)]
    config = load_config(env={}, corpus_dir=corpus, index_dir=index_dir)
    for delay in (0.5, 3.0, 6.0, 9.0):
        process = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        stored = load_generation(index_dir)  # checks every file against the manifest's checksums
        assert len(stored.chunks) == len(stored.chunk_vectors) == len(stored.vector_index)
        answer = Assistant(config, real_assistant.embedder).ask("Qui a ouvert la réunion de janvier 2025 ?")
        assert answer.passages and answer.passages[0].chunk.doc_id in stored.documents


def test_a_release_named_like_a_seed_is_indexed_beside_it_and_each_answers_its_questions(real_embedder, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    corpus = tmp_path / "seeds"
    shutil.copytree(REPO / "seeds", corpus)
    config = load_config(env={}, corpus_dir=corpus, index_dir=tmp_path / "index")
    build_index(config, real_embedder, show_progress=False)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    namesake = elsewhere / "000_7420c92f95da150b.txt"
    namesake.write_text(NEW_RELEASE, encoding="utf-8")
    report = build_index(config, real_embedder, show_progress=False, add=[elsewhere])
    namesake_id = f"000_7420c92f95da150b-{hashlib.sha256(str(namesake.resolve()).encode()).hexdigest()[:6]}"
    assert report.added == [namesake_id] and not report.updated

    assistant = Assistant(config, real_embedder)
    seed_answer = assistant.ask("Combien de pays partenaires ont participé à la réunion du 20 novembre 2024 ?")
    assert "26 pays" in seed_answer.answer and seed_answer.citations[0].doc_id == "000_7420c92f95da150b"
    new_answer = assistant.ask("Qui a présenté le nouveau plan logistique ?")
    assert new_answer.citations[0].doc_id == namesake_id and "Martin Dupuis" in new_answer.citations[0].quote
    for citation in (*seed_answer.citations, *new_answer.citations):
        assert assistant.stored.documents[citation.doc_id].text[citation.start:citation.end] == citation.quote
