"""The one freshness check: does a loaded index still describe the configuration and the releases?"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.errors import IndexStaleError
from rag.index.store import IndexSettings, StoredIndex, check_settings
from rag.text.loading import (
    STAMPED_FINGERPRINT,
    FileStamp,
    legacy_source_fingerprint,
    stamp_sources,
    stamps_fingerprint,
)

if TYPE_CHECKING:
    from rag.config import RagConfig

log = logging.getLogger(__name__)


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


def recorded_stamps(manifest: Mapping[str, Any]) -> dict[str, FileStamp]:
    """The file stamps a manifest records, as {path: [size, mtime_ns, sha256 or null]}; an entry of another shape
    is left out (its file is hashed again)."""
    recorded = manifest.get("source_files")
    if not isinstance(recorded, dict):
        return {}
    stamps: dict[str, FileStamp] = {}
    for path, entry in recorded.items():
        if (isinstance(entry, list) and len(entry) == 3 and all(type(v) is int for v in entry[:2])
                and (entry[2] is None or isinstance(entry[2], str))):
            stamps[path] = FileStamp(entry[0], entry[1], entry[2])
    return stamps


def stamps_record(stamps: Mapping[str, FileStamp]) -> dict[str, list[int | str | None]]:
    """The stamps as the manifest records them (read back by recorded_stamps)."""
    return {path: [stamp.size, stamp.mtime_ns, stamp.sha256] for path, stamp in stamps.items()}


def releases_changed(manifest: Mapping[str, Any], sources: list[Path]) -> bool:
    """True when the files under `sources` are not those the index recorded.

    Files are compared by size and modification time, and only those whose size or time changed are hashed
    (see stamp_sources). An index written before file stamps existed records only a hash of every file's bytes:
    it is checked that way, reading every file, until the next build (`rag index`, `rag add`, or the rebuild a
    new text pipeline version asks for) records the stamps.
    """
    fingerprint = manifest.get("source_fingerprint")
    if isinstance(fingerprint, str) and fingerprint.startswith(STAMPED_FINGERPRINT):
        return stamps_fingerprint(stamp_sources(sources, recorded_stamps(manifest))) != fingerprint
    log.info("the index records no file stamps: its releases are compared by content; the next build records them")
    return legacy_source_fingerprint(sources) != fingerprint


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
    if releases_changed(stored.manifest, sources):
        raise IndexStaleError(
            f"the releases under {', '.join(map(str, sources))} changed since the index {stored.generation} "
            "was built: rebuild with `rag index`"
        )
