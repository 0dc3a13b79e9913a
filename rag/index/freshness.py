"""The one freshness check: does a loaded index still describe the configuration and the releases?"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.errors import IndexStaleError
from rag.index.store import IndexSettings, StoredIndex, check_settings
from rag.text.loading import source_fingerprint

if TYPE_CHECKING:
    from rag.config import RagConfig


def resolved_path(path: Path | str) -> str:
    return str(Path(path).resolve())


def corpus_moved(manifest: dict[str, Any], config: RagConfig) -> str | None:
    """The corpus folder the index was built from, when the configuration now names another folder that exists
    (`--corpus-dir`, RAG_CORPUS_DIR): the index must follow the configuration, not the past. A relative
    corpus_dir that names nothing from the current directory is no move: the index keeps its own sources."""
    previous = manifest.get("corpus_dir")
    configured = resolved_path(config.corpus_dir)
    if not previous or previous == configured or not Path(configured).is_dir():
        return None
    return str(previous)


def check_fresh(stored: StoredIndex, config: RagConfig, settings: IndexSettings) -> None:
    """Raise IndexStaleError when the settings, the configured corpus folder or the releases' files changed
    since `stored` was built."""
    check_settings(stored.manifest, settings)
    moved_from = corpus_moved(stored.manifest, config)
    if moved_from:
        raise IndexStaleError(
            f"the index {stored.generation} was built from the releases in {moved_from}, and the configuration "
            f"now names {Path(config.corpus_dir).resolve()}: rebuild with `rag index`"
        )
    sources = [Path(p) for p in stored.manifest.get("sources", [str(config.corpus_dir)])]
    if source_fingerprint(sources) != stored.manifest.get("source_fingerprint"):
        raise IndexStaleError(
            f"the releases under {', '.join(map(str, sources))} changed since the index {stored.generation} "
            "was built: rebuild with `rag index`"
        )
