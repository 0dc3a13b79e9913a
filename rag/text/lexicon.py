"""A French-English word lexicon for questions asked in one language over releases in the other.

The words come from the FreeDict dictionaries that Debian ships (packages dict-freedict-eng-fra and
dict-freedict-fra-eng: /usr/share/dictd/freedict-eng-fra.{index,dict.dz}, GPL, about 8,800 headwords a
direction). Both directions are read and merged, and every word is reduced to its stem, so that "workshops"
finds "atelier" and "ateliers". Without the files the lexicon is empty and English questions over French
releases rely on the embedding and on cognates alone, as before.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from rag.files import write_atomically
from rag.text.stems import tokenize_many

log = logging.getLogger(__name__)

# The language pairs the lexicon reads, each as the FreeDict file stem and its (from, to) languages.
_FILES = {("en", "fr"): "freedict-eng-fra", ("fr", "en"): "freedict-fra-eng"}
_BASE64 = {c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")}
_SENSE_NUMBER = re.compile(r"^\s*\d+\.\s*")
_BRACKETS = re.compile(r"\([^)]*\)|\[[^\]]*\]|<[^>]*>")
# A translation of more than this many words is a definition ("recevoir solennellement" is kept, a sentence is not).
_MAX_TRANSLATION_WORDS = 3
# Glue words of translations that would match everything ("to", "de", "être").
_GLUE = {
    "en": {"to", "a", "an", "the", "of", "be", "one", "oneself", "someth", "somebodi", "sb", "sth", "in", "on", "at",
           "for", "with", "by", "up", "out", "off", "from"},
    "fr": {"le", "la", "les", "un", "une", "de", "du", "des", "se", "s", "quelqu", "chos", "etre", "avoir", "a", "en",
           "au", "aux", "sur", "pour", "par", "avec", "dan", "son", "sa", "ses", "leur", "don"},
}


def _dictd_number(text: str) -> int:
    value = 0
    for char in text:
        if char not in _BASE64:
            raise ValueError(f"{text!r} is not a dictd offset")
        value = value * 64 + _BASE64[char]
    return value


def read_dictd(index: Path, data: Path) -> dict[str, str]:
    """Headword -> entry text of a dictd dictionary (.index beside a gzip-compressed .dict.dz)."""
    body = gzip.decompress(data.read_bytes())
    entries: dict[str, str] = {}
    for line in index.read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) != 3 or parts[0].startswith("00database"):
            continue
        offset, length = _dictd_number(parts[1]), _dictd_number(parts[2])
        entries[parts[0]] = body[offset:offset + length].decode("utf-8", errors="replace")
    return entries


def entry_translations(entry: str) -> list[str]:
    """The translations an entry lists: the lines after the headword line, split at commas and semicolons."""
    found = []
    for line in entry.splitlines()[1:]:
        line = _BRACKETS.sub(" ", _SENSE_NUMBER.sub("", line))
        for piece in re.split(r"[,;]", line):
            piece = " ".join(piece.split())
            if piece and len(piece.split()) <= _MAX_TRANSLATION_WORDS:
                found.append(piece)
    return found


@dataclass(frozen=True)
class Lexicon:
    """Stem -> stems of its translations, for each direction ("en", "fr") and ("fr", "en")."""

    stems: dict[tuple[str, str], dict[str, frozenset[str]]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return any(self.stems.values())

    def translate(self, stem: str, source: str, target: str) -> frozenset[str]:
        return self.stems.get((source, target), {}).get(stem, frozenset())

    def translations(self, stems: Iterable[str], source: str, target: str) -> dict[str, frozenset[str]]:
        """The stems among `stems` that the lexicon translates, each with its translations' stems."""
        table = self.stems.get((source, target), {})
        return {s: table[s] for s in stems if s in table}

    def words(self) -> int:
        return sum(len(m) for m in self.stems.values())


def build_lexicon(pairs: Sequence[tuple[str, str, str, str]]) -> Lexicon:
    """From (word, its language, translation, its language) pairs, both directions, by stem."""
    stems: dict[tuple[str, str], list[str]] = {}
    words: dict[tuple[str, str], int] = {}
    for lang in {p[1] for p in pairs} | {p[3] for p in pairs}:
        texts = sorted({p[0] for p in pairs if p[1] == lang} | {p[2] for p in pairs if p[3] == lang})
        glue = _GLUE.get(lang, set())
        for text, tokens in zip(texts, tokenize_many(texts, lang)):
            stems[lang, text] = [t for t in tokens if t not in glue and len(t) > 1]
            words[lang, text] = len(tokens)
    merged: dict[tuple[str, str], dict[str, set[str]]] = {}
    for word, source, translation, target in pairs:
        word_stems, translated = stems[source, word], stems[target, translation]
        # A one-word headword maps to its translations' words, and a one-word translation back to it (the
        # inverse of a fra-eng entry is an eng-fra entry). A multi-word headword ("a lot of") says nothing
        # about any one of its words.
        if words[source, word] != 1 or len(word_stems) != 1 or not translated:
            continue
        merged.setdefault((source, target), {}).setdefault(word_stems[0], set()).update(translated)
        if len(translated) == 1 and words[target, translation] == 1:
            merged.setdefault((target, source), {}).setdefault(translated[0], set()).add(word_stems[0])
    return Lexicon({pair: {s: frozenset(t) for s, t in m.items()} for pair, m in merged.items()})


# Bump when the way entries become stems changes: a cached lexicon of another version is rebuilt.
LEXICON_FORMAT = 2


def _cache_file(folder: Path, cache_dir: Path) -> Path | None:
    """Where the lexicon built from `folder`'s dictionaries is cached, named by their sizes and mtimes."""
    key = [str(LEXICON_FORMAT), str(folder.resolve())]
    for stem in _FILES.values():
        for suffix in (".index", ".dict.dz"):
            try:
                stat = (folder / f"{stem}{suffix}").stat()
            except OSError:
                return None
            key.append(f"{stat.st_size}:{stat.st_mtime_ns}")
    return cache_dir / f"freedict-{hashlib.sha256(chr(0).join(key).encode()).hexdigest()[:16]}.json"


def _read_cached(path: Path) -> Lexicon | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Lexicon({tuple(pair.split(">")): {s: frozenset(t) for s, t in table.items()}  # type: ignore[misc]
                        for pair, table in data.items()})
    except (OSError, ValueError, AttributeError):
        return None


def _write_cached(path: Path, lexicon: Lexicon) -> None:
    data = {">".join(pair): {s: sorted(t) for s, t in table.items()} for pair, table in lexicon.stems.items()}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, json.dumps(data, ensure_ascii=False).encode("utf-8"))
    except OSError as exc:
        log.info("cannot cache the lexicon in %s: %s", path.parent, exc)


@lru_cache(maxsize=4)
def load_lexicon(folder: Path, cache_dir: Path | None = None) -> Lexicon:
    """The FreeDict French-English lexicon from `folder`; empty (with one log line) when its files are missing.
    With `cache_dir`, the stems are kept there as JSON (about 0.4 s to build, 20 ms to read back)."""
    cached = _cache_file(folder, cache_dir) if cache_dir else None
    if cached is not None and (lexicon := _read_cached(cached)) is not None:
        return lexicon
    lexicon = _build_from(folder)
    if cached is not None and lexicon:
        _write_cached(cached, lexicon)
    return lexicon


def _build_from(folder: Path) -> Lexicon:
    pairs: list[tuple[str, str, str, str]] = []
    for (source, target), stem in _FILES.items():
        index, data = folder / f"{stem}.index", folder / f"{stem}.dict.dz"
        if not (index.is_file() and data.is_file()):
            log.info("no %s dictionary in %s (Debian package dict-%s): %s questions over %s releases use the "
                     "embedding and cognates only", stem, folder, stem, source, target)
            continue
        try:
            entries = read_dictd(index, data)
        except (OSError, ValueError, EOFError) as exc:
            log.warning("cannot read the dictionary %s: %s", index, exc)
            continue
        pairs += [(word, source, t, target) for word, entry in entries.items() for t in entry_translations(entry)]
    return build_lexicon(pairs)
