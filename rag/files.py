"""Writing a file so that a reader sees the old content or the new one, never half of it."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path


def publish(path: Path, write: Callable[[Path], object], durable: bool = False, mode: int | None = None) -> None:
    """`write` fills a temporary file beside `path` (named for this process and thread, so that two writers of
    the same file, such as the warm-up and a reader's first question building the lexicon cache, do not mix
    their bytes), which is then renamed over `path`. `durable` also flushes the file and
    the folder's entry to disk before returning (what a power cut must not undo, such as the index pointer);
    `mode` sets the file's permissions (a temporary file is created private)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}.tmp")
    try:
        write(tmp)
        if mode is not None:
            tmp.chmod(mode)
        if durable:
            fsync_file(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    if durable:
        fsync_dir(path.parent)


def write_atomically(path: Path, data: bytes, durable: bool = False) -> None:
    publish(path, lambda tmp: tmp.write_bytes(data), durable)


def fsync_file(path: Path) -> None:
    """Flush a file's bytes to disk."""
    with path.open("rb") as handle:
        os.fsync(handle.fileno())


def fsync_dir(path: Path) -> None:
    """Flush a folder's entries (a rename inside it) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
