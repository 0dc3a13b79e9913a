"""Strip web boilerplate from a release by general rules and read its title and publication date."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from datetime import date

from rag.text.dates import MONTH_NUMBERS, MONTH_PATTERN

# "20 Nov. 2024", "15 et 16 janvier 2025", "1er mars 2023", "16-17 June 2024"
_DAY_MONTH_YEAR = re.compile(
    rf"\b(\d{{1,2}})(?:er)?(?:\s*(?:et|and|-|–|au|to)\s*\d{{1,2}})?\s+({MONTH_PATTERN})\.?\s+(\d{{4}})\b",
    re.IGNORECASE,
)
# "November 20, 2024"
_MONTH_DAY_YEAR = re.compile(rf"\b({MONTH_PATTERN})\.?\s+(\d{{1,2}}),?\s+(\d{{4}})\b", re.IGNORECASE)
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")

_BULLET_ONLY = re.compile(r"^[\s•·|\-–—*_=~>#]*$")
_LANGUAGE_SWITCH = re.compile(
    r"^[\s•\-*]*(english|french|français|francais|anglais|deutsch|español|русский|українська|"
    r"italiano|polski|português)\s*$",
    re.IGNORECASE,
)
# "20 Nov. 2024", "November 20, 2024" or "2024-11-20", with an optional time of day.
_WRITTEN_DATE = (
    rf"(?:\d{{1,2}}(?:er)?\s+(?:{MONTH_PATTERN})\.?\s+\d{{4}}|(?:{MONTH_PATTERN})\.?\s+\d{{1,2}},?\s+\d{{4}}|\d{{4}}-\d{{2}}-\d{{2}})"
    r"(?:\s+\d{1,2}[:h]\d{2})?"
)
_UPDATE_WORDS = r"mis à jour le|mise à jour|dernière mise à jour|updated|last updated"
# A line that only carries a date or an update stamp: "• 20 Nov. 2024 -", "Mis à jour le: 22 Nov. 2024 15:48"
_METADATA_LINE = re.compile(
    rf"^[\s•\-*|]*(?:(?:{_UPDATE_WORDS}|publié le|published)\s*:?\s*)?{_WRITTEN_DATE}[\s\-–|•]*$", re.IGNORECASE
)
# An update stamp is kept, without its bullet: when a release was last updated is something a reader may ask.
_UPDATE_STAMP = re.compile(rf"^[\s•\-*|]*((?:{_UPDATE_WORDS})\s*:?\s*{_WRITTEN_DATE})[\s\-–|•]*$", re.IGNORECASE)


def is_update_stamp(line: str) -> bool:
    """A line that only says when the release was last updated."""
    return bool(_UPDATE_STAMP.match(line))


# Account, newsletter and navigation chrome of news sites. Each pattern is specific enough that a
# sentence of a release does not match it by accident.
_CHROME = re.compile(
    r"newsletter|mot de passe|password|réinitialis|reset your|cliquez|click here|click the button|"
    r"connectez-vous|log ?in\b|sign ?(?:in|up)\b|vous abonner|s['’]abonner|subscribe|cookies?\b|"
    r"adresse e-mail|e-mail address|vous êtes inscrit|nouveau code|new code|partager sur|share (?:this|on)|"
    r"lire la suite|read more|retour à l['’]accueil|back to top|tous droits réservés|all rights reserved|"
    r"ressources médiatiques|media resources",
    re.IGNORECASE,
)
# Photo captions: short unpunctuated lines that name a photo or its credit.
_CAPTION = re.compile(
    r"\b(?:group photo|photo de (?:groupe|famille)|crédit photo|photo credit|photo ?:)|©", re.IGNORECASE
)

# Softer signs of chrome (the site talking to its reader); trusted only at the edges of a document,
# next to lines that are already chrome.
_READER_ADDRESS = re.compile(
    r"\bvous pouvez\b|\bvous souhaitez\b|\byou can\b|\byour\b|télécharger|download|site web|website",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class CleanedText:
    text: str
    title: str | None
    date: str | None
    removed_lines: int
    removed_reasons: dict[str, int]


def _normalise_line(line: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", line).split()).casefold()


def parse_date(text: str) -> str | None:
    """The first date written in `text`, as ISO 8601, or None."""
    candidates: list[tuple[int, date]] = []
    for match in _DAY_MONTH_YEAR.finditer(text):
        day, month, year = match.group(1), match.group(2), match.group(3)
        found = _safe_date(int(year), MONTH_NUMBERS[month.lower().rstrip(".")], int(day))
        if found:
            candidates.append((match.start(), found))
    for match in _MONTH_DAY_YEAR.finditer(text):
        found = _safe_date(int(match.group(3)), MONTH_NUMBERS[match.group(1).lower()], int(match.group(2)))
        if found:
            candidates.append((match.start(), found))
    for match in _ISO_DATE.finditer(text):
        found = _safe_date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        if found:
            candidates.append((match.start(), found))
    return min(candidates)[1].isoformat() if candidates else None


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _classify(line: str, repeated_in_doc: bool, shared_across_docs: bool) -> str | None:
    """Why a line is boilerplate, or None when it is content."""
    stripped = line.strip()
    if not stripped:
        return None
    if _BULLET_ONLY.match(stripped):
        return "bullet-only"
    if _LANGUAGE_SWITCH.match(stripped):
        return "language switcher"
    if _METADATA_LINE.match(stripped) and not _UPDATE_STAMP.match(stripped):
        return "date line"
    if _CHROME.search(stripped):
        return "site chrome"
    if _CAPTION.search(stripped) and len(stripped) < 200 and not stripped.endswith("."):
        return "photo caption"
    if repeated_in_doc:
        return "repeated in document"
    if shared_across_docs:
        return "repeated across documents"
    return None


def clean_release(raw: str, boilerplate_lines: frozenset[str] = frozenset()) -> CleanedText:
    """Clean one release. `boilerplate_lines` holds normalised lines seen in several documents."""
    text = raw.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    lines = text.split("\n")
    counts = Counter(_normalise_line(line) for line in lines if line.strip())

    reasons: list[str | None] = [
        _classify(line, counts[_normalise_line(line)] > 1, _normalise_line(line) in boilerplate_lines)
        for line in lines
    ]
    # A repeated line deep inside the body is more likely a quoted refrain than chrome: keep its first copy.
    seen: set[str] = set()
    for i, reason in enumerate(reasons):
        if reason == "repeated in document" and not _at_edge(reasons, lines, i):
            key = _normalise_line(lines[i])
            if key not in seen:
                reasons[i] = None
            seen.add(key)
    _extend_edge_chrome(lines, reasons)

    date_found: str | None = None
    kept: list[str] = []
    removed: Counter[str] = Counter()
    for line, reason in zip(lines, reasons):
        if reason is None:
            stamp = _UPDATE_STAMP.match(line)
            kept.append(stamp.group(1) if stamp else line.rstrip())
            continue
        removed[reason] += 1
        if reason == "date line" and date_found is None:
            date_found = parse_date(line)

    cleaned = re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()
    title = _title_of(cleaned)
    if date_found is None:
        date_found = parse_date(cleaned)
    return CleanedText(cleaned, title, date_found, sum(removed.values()), dict(removed))


def _at_edge(reasons: list[str | None], lines: list[str], index: int) -> bool:
    """True when every non-blank line before `index` (or after it) is already boilerplate."""
    before = all(reasons[j] is not None or not lines[j].strip() for j in range(index))
    after = all(reasons[j] is not None or not lines[j].strip() for j in range(index + 1, len(lines)))
    return before or after


def _extend_edge_chrome(lines: list[str], reasons: list[str | None]) -> None:
    """Lines that address the reader, at the top or bottom of the page and touching chrome, are chrome too."""
    for order in (range(len(lines)), range(len(lines) - 1, -1, -1)):
        touching_chrome = False
        for i in order:
            if not lines[i].strip():
                continue
            if reasons[i] is not None:
                touching_chrome = reasons[i] in {"site chrome", "repeated in document"} or touching_chrome
                continue
            if touching_chrome and _READER_ADDRESS.search(lines[i]):
                reasons[i] = "site chrome"
                continue
            break


def _title_of(cleaned: str) -> str | None:
    """The first line if it reads as a heading: short, not a sentence ending in a full stop."""
    first = next((line.strip() for line in cleaned.split("\n") if line.strip()), "")
    if is_update_stamp(first):
        return None
    if not first or len(first) > 200 or first.endswith((".", ":", ";", "»", "?")):
        return None
    if len(first.split()) < 3:
        return None
    return first


MAX_SHARED_LINE = 200


def shared_boilerplate(raw_texts: list[str], min_documents: int = 3) -> frozenset[str]:
    """Normalised short lines present in at least `min_documents` distinct documents (footers, menus).

    Identical files count once, and long lines never count: a paragraph found in several files is a
    copied release, which de-duplication handles, not page chrome.
    """
    distinct = list(dict.fromkeys(raw_texts))
    if len(distinct) < min_documents:
        return frozenset()
    counts: Counter[str] = Counter()
    for raw in distinct:
        counts.update({
            _normalise_line(line) for line in raw.splitlines() if 3 < len(line.strip()) <= MAX_SHARED_LINE
        })
    return frozenset(line for line, n in counts.items() if n >= min_documents)
