"""Detect whether a text is French or English (or another language) with py3langid's bundled model."""

from __future__ import annotations

import copy
import re
from functools import lru_cache

SUPPORTED = ("fr", "en")

_FRENCH_CUES = re.compile(
    r"\b(qui|que|quel(le)?s?|quand|combien|où|pourquoi|comment|est-ce|l['’]|d['’]|les|des|du|une?|et)\b",
    re.IGNORECASE,
)
_ENGLISH_CUES = re.compile(
    r"\b(who|what|when|where|which|why|how|did|does|was|were|the|of|and|is|are)\b", re.IGNORECASE
)


@lru_cache(maxsize=1)
def _full_identifier():  # type: ignore[no-untyped-def]
    """py3langid's model over its 97 languages, unpacked once (about 70 MiB)."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


@lru_cache(maxsize=4)
def _identifier(languages: tuple[str, ...] | None):  # type: ignore[no-untyped-def]
    """One identifier per language set. set_languages replaces an identifier's class columns with a slice of
    the full model, so each set gets a shallow copy of the one full identifier: the full model is loaded
    once, not once per set (three sets cost three copies, 150 MiB more, before)."""
    identifier = copy.copy(_full_identifier())
    if languages:
        identifier.set_languages(list(languages))
    return identifier


def detect_language(text: str, choices: tuple[str, ...] = SUPPORTED) -> str:
    """The most likely language among `choices`; short questions are settled by function words."""
    sample = text.strip()
    if not sample:
        return choices[0]
    french, english = len(_FRENCH_CUES.findall(sample)), len(_ENGLISH_CUES.findall(sample))
    if len(sample.split()) <= 6 and french != english and set(choices) >= {"fr", "en"}:
        return "fr" if french > english else "en"
    lang, _ = _identifier(tuple(sorted(choices))).classify(sample)
    return str(lang)


def detect_document_language(text: str) -> str:
    """Any language py3langid knows; documents may be in a third language."""
    lang, _ = _identifier(None).classify(text[:5000])
    return str(lang)


_LANGUAGE_NAMES = {"de": "German", "es": "Spanish", "it": "Italian", "nl": "Dutch", "pt": "Portuguese",
                   "pl": "Polish", "ru": "Russian", "uk": "Ukrainian", "ro": "Romanian", "tr": "Turkish",
                   "ar": "Arabic", "he": "Hebrew", "fa": "Persian", "el": "Greek"}


def _cue_share(words: list[str]) -> float:
    """The share of `words` that are French or English function words ("l" of "l'OTAN" counts as "l'")."""
    cues = sum(1 for w in words if _FRENCH_CUES.fullmatch(w) or _FRENCH_CUES.fullmatch(w + "'")
               or _ENGLISH_CUES.fullmatch(w))
    return cues / len(words)


def unsupported_language_note(question: str) -> str | None:
    """A note for a question clearly written in neither French nor English ("Wer hat das Treffen eröffnet?"):
    it is still answered, but its words meet no stemmer and no cue, so the answer deserves a warning.

    Only the question's own words count, not its names: words that do not start with a capital (in Arabic or
    Hebrew, which have none, every word). Fewer than three of them, or a third of them French or English
    function words, and the question is never flagged; one shared word ("des" in "die Sitzung des
    Ausschusses") is not enough to make a question French."""
    sample = question.strip()
    common_words = [w for w in re.findall(r"[^\W\d_]+", sample) if not w[0].isupper()]
    if len(common_words) < 3 or _cue_share(common_words) >= 1 / 3:
        return None
    # Among languages a user of these releases may write: over py3langid's 97, a string of names and
    # numbers ("Mark Rutte Kyiv visit October 2024?") can look like Nigerian Pidgin.
    lang, probability = _identifier(tuple(sorted({*SUPPORTED, *_LANGUAGE_NAMES}))).classify(sample)
    if lang in SUPPORTED or probability < 0.6:
        return None
    name = _LANGUAGE_NAMES[str(lang)]
    return (f"This question looks like {name}: questions are understood in French and English, "
            "so this answer may miss; ask again in French or English")
