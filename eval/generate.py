"""Training questions made from the corpus itself (cloze translation, after Lewis et al. 2019, "Unsupervised
Question Answering by Cloze Translation"): they grow with every release, unlike the hand-written set.

A sentence that names a person, a number, a date or an organisation becomes a question by putting the matching
question word in place of that entity ("Janusz Adamczak a ouvert la réunion" -> "Qui a ouvert la réunion ?"),
prefixed with its release's month and year so that the question, like a reader's, says which meeting it means.
English questions use English question words and framing around the same French clause: they teach the
answerer what a question's type and date say across languages, not English wording.

A near miss is such a question whose date, person or number is changed to one that no release holds: the names
still match a release, the asked slot is never filled there, and the right answer is to abstain.

python -m eval.generate [--out PATH] prints counts and writes the questions as Q&A JSON Lines.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from rag.schema import Document, Sentence
from rag.text.cleaning import is_update_stamp
from rag.text.dates import MONTH_ENTITY, MONTH_NAMES_EN, MONTH_NAMES_FR
from rag.text.normalize import fold_case_and_accents

EntityKind = str  # "person" | "number" | "date" | "organisation"

_PERSON = re.compile(r"\b[A-ZÀ-Ý][a-zà-ÿ]+(?:-[A-ZÀ-Ý][a-zà-ÿ]+)?(?:\s+[A-ZÀ-Ý][a-zà-ÿ]+(?:-[A-ZÀ-Ý][a-zà-ÿ]+)?)+\b")
_NUMBER = re.compile(r"(?<![\w,.])\d{1,3}(?:[\s\u00a0\u202f]\d{3})*(?![\w,.]|\s*(?:%|h\b))")
_ACRONYM = re.compile(r"\b[A-Z]{3,6}\b")
# The corpus's own organisation is in nearly every sentence: asking for it teaches nothing.
_EVERYWHERE = {"OTAN", "NATO"}
_KIND_ORDER = {"person": 0, "number": 1, "date": 2, "organisation": 3}
# Capitalised pairs that are places, bodies or sentence openers rather than people.
_NOT_PEOPLE = {"otan", "nato", "etat", "etats", "union", "comite", "conseil", "division", "ukraine", "russie",
               "le", "la", "les", "l", "dans", "lors", "selon", "au", "en", "chefs", "cette", "ce"}
_WH = {
    "fr": {"person": "qui", "number": "combien", "date": "quand", "organisation": "quelle organisation"},
    "en": {"person": "who", "number": "how many", "date": "when", "organisation": "which organisation"},
}
_FRAME = {
    "fr": "Lors de la réunion de {month} {year}, {clause} ?",
    "en": "At the {month} {year} meeting, {wh}: {clause}?",
}
# Replacements no release holds: a year before the corpus, a made-up person, a number nobody cites.
NEAR_MISS_YEAR = "2019"
NEAR_MISS_PERSON = "Henrik Valdemarsson"
MIN_CLAUSE_WORDS = 6


@dataclass(frozen=True)
class Entity:
    kind: EntityKind
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class TrainingQuestion:
    """One generated question in the Q&A file's record shape (eval/qa.jsonl), plus what produced it."""

    id: str
    lang: str
    question: str
    answers: list[str]
    doc_id: str | None
    alt_doc_ids: list[str]
    evidence: str
    answerable: bool
    kind: str


def entities_of(sentence: str) -> list[Entity]:
    """People (two or more capitalised words past the sentence's first), numbers, month dates and acronyms,
    without overlaps (dates first, then people, numbers, organisations)."""
    found: list[Entity] = []

    def free(start: int, end: int) -> bool:
        return all(end <= e.start or start >= e.end for e in found)

    for match in MONTH_ENTITY.finditer(sentence):
        if re.search(r"\d{4}", match.group(0)):
            found.append(Entity("date", match.group(0), match.start(), match.end()))
    for match in _PERSON.finditer(sentence):
        words = [fold_case_and_accents(w) for w in match.group(0).split()]
        if match.start() > 0 and not any(w in _NOT_PEOPLE for w in words) and free(match.start(), match.end()):
            found.append(Entity("person", match.group(0), match.start(), match.end()))
    for match in _NUMBER.finditer(sentence):
        if free(match.start(), match.end()) and not re.fullmatch(r"(?:19|20)\d\d", match.group(0)):
            found.append(Entity("number", match.group(0), match.start(), match.end()))
    for match in _ACRONYM.finditer(sentence):
        if match.group(0) not in _EVERYWHERE and free(match.start(), match.end()):
            found.append(Entity("organisation", match.group(0), match.start(), match.end()))
    return sorted(found, key=lambda e: (_KIND_ORDER[e.kind], e.start))


def cloze_question(sentence: str, entity: Entity, lang: str, iso_date: str | None) -> str | None:
    """The sentence with the entity replaced by the question word, framed by its release's month and year;
    None when too little of the sentence is left to ask about."""
    wh = _WH[lang][entity.kind]
    before = sentence[:entity.start].rstrip(" ,")
    after = sentence[entity.end:].strip().rstrip(" .;:")
    clause = " ".join(part for part in (before, wh if lang == "fr" else "…", after) if part)
    clause = clause[0].lower() + clause[1:] if clause[:2].istitle() else clause
    if len(clause.split()) < MIN_CLAUSE_WORDS or not iso_date:
        return None
    year, month = iso_date[:4], int(iso_date[5:7])
    month_name = MONTH_NAMES_FR[month - 1] if lang == "fr" else MONTH_NAMES_EN[month - 1]
    text = _FRAME[lang].format(month=month_name, year=year, clause=clause, wh=wh.capitalize())
    return text[0].upper() + text[1:]


def near_misses(question: str, others: Sequence[Entity], documents: Iterable[Document]) -> list[str]:
    """Unanswerable twins of a question: its meeting moved to a year no release holds, and each other person it
    names replaced by one no release names. The rest still matches a release; the asked slot is unfilled."""
    texts = [d.text for d in documents]
    years = {d.date[:4] for d in documents if d.date}
    missed = []
    if NEAR_MISS_YEAR not in years:
        moved = re.sub(r"\b(?:19|20)\d\d\b", NEAR_MISS_YEAR, question, count=1)
        if moved != question:
            missed.append(moved)
    if not any(NEAR_MISS_PERSON in text for text in texts):
        missed += [question.replace(e.text, NEAR_MISS_PERSON) for e in others
                   if e.kind == "person" and e.text in question]
    return missed


def generate(documents: dict[str, Document], sentences: Sequence[Sentence],
             per_sentence: int = 2) -> list[TrainingQuestion]:
    """Answerable cloze questions in French and English from every sentence with an entity, and a near miss
    for each; ids are stable for a given corpus (gen-<lang>-<doc>-<sentence>-<entity>[-nm])."""
    questions: list[TrainingQuestion] = []
    for sentence in sentences:
        doc = documents[sentence.doc_id]
        if sentence.text == doc.title or is_update_stamp(sentence.text) or sentence.text.startswith("-"):
            continue
        found = entities_of(sentence.text)
        for entity in found[:per_sentence]:
            for lang in ("fr", "en"):
                asked = cloze_question(sentence.text, entity, lang, doc.date)
                if asked is None:
                    continue
                qid = f"gen-{lang}-{sentence.doc_id[:3]}-{sentence.sentence_id}-{entity.start}"
                questions.append(TrainingQuestion(qid, lang, asked, [entity.text], doc.doc_id, [], sentence.text,
                                                  True, f"generated_{entity.kind}"))
                others = [e for e in found if e is not entity]
                for n, missed in enumerate(near_misses(asked, others, documents.values())):
                    questions.append(TrainingQuestion(f"{qid}-nm{n}", lang, missed, [], None, [], "", False,
                                                      "generated_near_miss"))
    return questions


def main(argv: list[str] | None = None) -> int:
    from collections import Counter

    from rag.config import load_config
    from rag.index.store import load_generation

    parser = argparse.ArgumentParser(prog="python -m eval.generate", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write the questions here (JSON Lines)")
    args = parser.parse_args(argv)
    stored = load_generation(load_config().index_dir)
    questions = generate(stored.documents, stored.sentences)
    counts = Counter((q.lang, q.kind) for q in questions)
    print(f"{len(questions)} questions from {len(stored.sentences)} sentences of {len(stored.documents)} releases")
    for (lang, kind), n in sorted(counts.items()):
        print(f"  {lang} {kind}: {n}")
    if args.out:
        args.out.write_text("".join(json.dumps(asdict(q), ensure_ascii=False) + "\n" for q in questions),
                            encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
