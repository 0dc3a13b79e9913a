"""Cleaning a release: web chrome goes, the release's own lines stay, and its title and date are read."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.text.cleaning import CleanedText, clean_release, is_update_stamp, parse_date, shared_boilerplate
from rag.text.dates import readable_date

SEEDS = Path(__file__).resolve().parents[2] / "seeds"


def raw_seed(prefix: str) -> str:
    return next(SEEDS.glob(f"{prefix}_*.txt")).read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def cleaned() -> dict[str, CleanedText]:
    """Every seed cleaned as the loader cleans it: with the lines the seeds share marked as boilerplate."""
    raws = {path.name[:3]: path.read_text(encoding="utf-8") for path in sorted(SEEDS.glob("*.txt"))}
    shared = shared_boilerplate(list(raws.values()))
    return {prefix: clean_release(raw, shared) for prefix, raw in raws.items()}


def content_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


# --- 004: a release saved under eight lines of media-site, newsletter and password chrome ---------------


def test_every_chrome_line_at_the_top_of_004_is_removed(cleaned: dict[str, CleanedText]) -> None:
    chrome = content_lines(raw_seed("004"))[:8]
    kept = content_lines(cleaned["004"].text)
    assert [line for line in chrome if line in kept] == []
    for word in ("newsletter", "mot de passe", "ressources médiatiques", "nouveau code", "télécharger"):
        assert word not in cleaned["004"].text.casefold()


def test_cleaned_004_starts_with_its_first_real_sentence(cleaned: dict[str, CleanedText]) -> None:
    assert cleaned["004"].text.startswith("Les 15 et 16 janvier 2025, le Comité militaire de l’OTAN")


def test_every_line_of_004_after_the_chrome_is_kept(cleaned: dict[str, CleanedText]) -> None:
    body = content_lines(raw_seed("004"))[8:]
    assert content_lines(cleaned["004"].text) == body


def test_004_reports_its_eight_removed_lines(cleaned: dict[str, CleanedText]) -> None:
    assert cleaned["004"].removed_lines == 8
    assert sum(cleaned["004"].removed_reasons.values()) == 8


def test_004_has_no_title_because_it_opens_with_a_sentence(cleaned: dict[str, CleanedText]) -> None:
    assert cleaned["004"].title is None


def test_004_is_dated_by_the_first_day_of_its_meeting(cleaned: dict[str, CleanedText]) -> None:
    assert cleaned["004"].date == "2025-01-15"


# --- 003: a language switcher above an agenda written as a list -----------------------------------------


def test_language_switcher_lines_of_003_are_removed(cleaned: dict[str, CleanedText]) -> None:
    kept = content_lines(cleaned["003"].text)
    assert "- French" not in kept and "- English" not in kept
    assert cleaned["003"].removed_lines == 2


def test_agenda_bullets_of_003_are_kept(cleaned: dict[str, CleanedText]) -> None:
    kept = content_lines(cleaned["003"].text)
    agenda = [line for line in content_lines(raw_seed("003")) if line.startswith("- ") and line.endswith((";", "."))]
    assert "- le processus OTAN de planification de défense ;" in kept
    assert len(agenda) == 5 and all(line in kept for line in agenda)


def test_003_keeps_its_heading_as_title(cleaned: dict[str, CleanedText]) -> None:
    assert cleaned["003"].title == content_lines(raw_seed("003"))[0]
    assert cleaned["003"].title.endswith("Mark Rutte")  # type: ignore[union-attr]


# --- 000 and 002: a date, a bullet-only line and an update stamp under the heading ----------------------


@pytest.mark.parametrize("prefix", ["000", "002"])
def test_date_and_bullet_lines_are_removed_and_the_update_stamp_kept_as_a_line(
        cleaned: dict[str, CleanedText], prefix: str) -> None:
    text = cleaned[prefix].text
    assert "•" not in text
    assert not any(line in {"|", "-"} for line in content_lines(text))
    stamps = [line for line in content_lines(text) if "Mis à jour le" in line]
    assert len(stamps) == 1 and stamps[0].startswith("Mis à jour le: ")
    # The publication date, not the update, is the release's date.
    assert cleaned[prefix].date != parse_date(stamps[0])


@pytest.mark.parametrize(("prefix", "iso"), [("000", "2024-11-20"), ("002", "2024-06-11")])
def test_release_date_comes_from_the_date_line_not_the_update_stamp(
    cleaned: dict[str, CleanedText], prefix: str, iso: str
) -> None:
    assert cleaned[prefix].date == iso


@pytest.mark.parametrize("prefix", ["000", "002"])
def test_heading_becomes_the_title_and_stays_in_the_text(cleaned: dict[str, CleanedText], prefix: str) -> None:
    heading = content_lines(raw_seed(prefix))[0]
    assert heading.startswith("Réunion")
    assert cleaned[prefix].title == heading
    assert cleaned[prefix].text.startswith(heading)


def test_002_reports_its_two_chrome_lines(cleaned: dict[str, CleanedText]) -> None:
    assert cleaned["002"].removed_lines == 2
    assert cleaned["002"].removed_reasons == {"date line": 1, "bullet-only": 1}


def test_000_reports_its_chrome_lines_and_its_photo_caption(cleaned: dict[str, CleanedText]) -> None:
    # Two lines of page chrome plus "… - Group photo", the caption of a photo the text file does not hold.
    assert "Group photo" not in cleaned["000"].text
    assert cleaned["000"].removed_lines == 3
    assert sum(cleaned["000"].removed_reasons.values()) == 3


def test_001_has_nothing_to_remove(cleaned: dict[str, CleanedText]) -> None:
    assert cleaned["001"].removed_lines == 0
    assert content_lines(cleaned["001"].text) == content_lines(raw_seed("001"))


@pytest.mark.parametrize("prefix", ["000", "001", "002", "003", "004"])
def test_every_kept_line_is_a_line_of_the_release(cleaned: dict[str, CleanedText], prefix: str) -> None:
    raw_lines = set(content_lines(raw_seed(prefix)))
    # An update stamp loses its bullet: "• Mis à jour le: …" is kept as "Mis à jour le: …".
    assert all(line in raw_lines or f"• {line}" in raw_lines for line in content_lines(cleaned[prefix].text))


# --- dates ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "iso"),
    [
        ("le 9 novembre 2022", "2022-11-09"),
        ("Les 15 et 16 janvier 2025, le Comité militaire", "2025-01-15"),
        ("• 20 Nov. 2024 -", "2024-11-20"),
        ("November 20, 2024", "2024-11-20"),
        ("le 1er mars 2023", "2023-03-01"),
        ("11 Jun. 2024", "2024-06-11"),
        ("16-17 June 2024", "2024-06-16"),
        ("publié le 2024-02-29", "2024-02-29"),
        ("le 3 août 2023", "2023-08-03"),
        ("le 12 décembre 2021", "2021-12-12"),
    ],
)
def test_parse_date_reads_french_and_english_forms(written: str, iso: str) -> None:
    assert parse_date(written) == iso


def test_parse_date_rejects_a_day_the_month_does_not_have() -> None:
    assert parse_date("le 31 février 2024") is None


def test_parse_date_returns_none_without_a_date() -> None:
    assert parse_date("La réunion porte sur la dissuasion.") is None


def test_parse_date_returns_the_first_date_of_the_text() -> None:
    assert parse_date("Réunion du 20 Nov. 2024 ; mis à jour le 22 Nov. 2024") == "2024-11-20"


def test_parse_date_skips_an_impossible_date_for_a_later_valid_one() -> None:
    assert parse_date("31 février 2024, puis le 2 mars 2024") == "2024-03-02"


def test_readable_date_spells_the_date_in_french_and_english() -> None:
    assert readable_date("2024-11-20") == "20 novembre 2024 / 20 November 2024"
    assert readable_date("2025-02-01") == "1 février 2025 / 1 February 2025"


def test_readable_date_of_no_date_is_empty() -> None:
    assert readable_date(None) == ""
    assert readable_date("") == ""


# --- repeated lines ------------------------------------------------------------------------------------

REFRAIN = "Nous devons rester unis face aux menaces."


def test_a_line_repeated_deep_inside_the_body_keeps_its_first_copy() -> None:
    raw = "\n".join([
        "Réunion annuelle des partenaires de l’Alliance",
        "Le 3 mars 2025, les partenaires se sont réunis à Bruxelles.",
        REFRAIN,
        "Le général Dupont a ensuite présenté le plan logistique.",
        REFRAIN,
        "La réunion s’est achevée par une déclaration commune.",
    ])
    result = clean_release(raw)
    lines = content_lines(result.text)
    assert lines.count(REFRAIN) == 1
    assert lines.index(REFRAIN) < lines.index("Le général Dupont a ensuite présenté le plan logistique.")
    assert result.removed_lines == 1


def test_a_line_repeated_at_the_top_is_chrome_and_goes_entirely() -> None:
    banner = "Portail officiel de l’information de l’Alliance"
    raw = "\n".join([banner, banner, "Le 3 mars 2025, les partenaires se sont réunis à Bruxelles."])
    assert content_lines(clean_release(raw).text) == ["Le 3 mars 2025, les partenaires se sont réunis à Bruxelles."]


# --- lines shared across documents ---------------------------------------------------------------------

FOOTER = "Suivez l’actualité de l’Alliance"
LONG_PARAGRAPH = (
    "Le Comité militaire est la plus haute autorité militaire de l’OTAN ; il réunit les chefs d’état-major de "
    "la défense des pays de l’Alliance, conseille le Conseil de l’Atlantique Nord sur les questions militaires "
    "et donne des orientations stratégiques aux deux commandants stratégiques de l’Organisation."
)


def release(n: int, *extra: str) -> str:
    return "\n".join([
        f"Réunion numéro {n} du Comité militaire",
        f"Le {n} mars 2025, le Comité militaire s’est réuni pour la {n}e fois.",
        *extra,
    ])


def test_short_line_shared_by_three_documents_is_boilerplate() -> None:
    raws = [release(n, FOOTER) for n in (1, 2, 3)]
    shared = shared_boilerplate(raws)
    for raw in raws:
        result = clean_release(raw, shared)
        assert FOOTER not in result.text
        assert result.text.startswith("Réunion numéro")


def test_line_shared_by_only_two_documents_is_kept() -> None:
    raws = [release(1, FOOTER), release(2, FOOTER), release(3)]
    shared = shared_boilerplate(raws)
    assert FOOTER in clean_release(raws[0], shared).text


def test_identical_copies_of_one_file_count_as_one_document() -> None:
    raws = [release(1, FOOTER)] * 3
    shared = shared_boilerplate(raws)
    assert FOOTER in clean_release(raws[0], shared).text


def test_long_paragraph_shared_by_copies_of_a_release_is_not_boilerplate() -> None:
    assert len(LONG_PARAGRAPH) > 200
    raws = [release(n, LONG_PARAGRAPH) for n in (1, 2, 3)]
    shared = shared_boilerplate(raws)
    assert LONG_PARAGRAPH in clean_release(raws[0], shared).text


def test_shared_lines_match_despite_spacing_and_case() -> None:
    raws = [release(1, FOOTER), release(2, "  " + FOOTER.upper()), release(3, FOOTER.replace(" ", "\u00a0"))]
    shared = shared_boilerplate(raws)
    for raw in raws:
        assert FOOTER.casefold() not in clean_release(raw, shared).text.casefold().replace("\u00a0", " ")


def test_cleaning_drops_a_byte_order_mark_and_windows_line_ends() -> None:
    raw = "\ufeffRéunion annuelle des partenaires de l’Alliance\r\nLe 3 mars 2025, les partenaires se sont réunis.\r\n"
    result = clean_release(raw)
    assert "\r" not in result.text and "\ufeff" not in result.text
    assert result.title == "Réunion annuelle des partenaires de l’Alliance"
    assert result.date == "2025-03-03"


@pytest.mark.parametrize(("line", "kept"), [
    ("  • Last updated: 22 Nov. 2024 15:48", "Last updated: 22 Nov. 2024 15:48"),
    ("• Mis à jour le: 3 janvier 2025 -", "Mis à jour le: 3 janvier 2025"),
])
def test_an_update_stamp_is_kept_without_its_bullet_and_a_bare_date_line_is_not(line: str, kept: str) -> None:
    raw = f"Title of the release\n\n  • 20 Nov. 2024 -\n{line}\n\nThe partners met in Brussels to discuss resilience.\n"
    cleaned = clean_release(raw)
    assert content_lines(cleaned.text) == ["Title of the release", kept,
                                           "The partners met in Brussels to discuss resilience."]
    assert cleaned.date == "2024-11-20"


def test_an_update_stamp_is_recognised_and_a_sentence_mentioning_an_update_is_not() -> None:
    assert is_update_stamp("Mis à jour le: 22 Nov. 2024 15:48")
    assert is_update_stamp("Last updated: November 22, 2024")
    assert not is_update_stamp("Le concept stratégique a été mis à jour le 29 juin 2022 à Madrid.")


def test_an_update_stamp_on_the_first_line_is_not_the_title() -> None:
    cleaned = clean_release("  • Mis à jour le: 22 Nov. 2024 15:48\n\nLes partenaires se sont réunis à Bruxelles.\n")
    assert cleaned.title is None
    assert "Mis à jour le: 22 Nov. 2024 15:48" in cleaned.text
