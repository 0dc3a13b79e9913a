"""Eval metrics over hand-made outcomes: retrieval ranks, answers, citations, quotes and abstention."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from eval.items import QAItem
from eval.metrics import KEYS, METRICS, Outcome, summarise, summarise_by

GOLD = "000_gold"
OTHER = "001_other"
ANSWER_SENTENCE = "Les participants de 26 pays partenaires de l’OTAN ont discuté de la résilience."
FILLER = "La réunion s’est tenue au siège de l’Organisation."


def item(id: str = "fr-001", lang: str = "fr", answers: tuple[str, ...] = ("26 pays",), doc_id: str | None = GOLD,
         answerable: bool = True, alt_doc_ids: tuple[str, ...] = (), kind: str = "fact") -> QAItem:
    return QAItem(id=id, lang=lang, question="Combien de pays ?", answers=answers, doc_id=doc_id,
                  alt_doc_ids=alt_doc_ids, evidence="", answerable=answerable, kind=kind)


def unanswerable(id: str = "fr-900", lang: str = "fr") -> QAItem:
    return item(id=id, lang=lang, answers=(), doc_id=None, answerable=False, kind="unanswerable")


def ranked_with_answer_at(rank: int | None, depth: int = 10) -> tuple[tuple[str, str], ...]:
    return tuple((GOLD, ANSWER_SENTENCE) if r == rank else (OTHER, FILLER) for r in range(1, depth + 1))


def answered(qa: QAItem, rank: int | None = 1, **changes: Any) -> Outcome:
    fields: dict[str, Any] = dict(
        item=qa, ranked=ranked_with_answer_at(rank), answer_text=f"Selon les communiqués : {ANSWER_SENTENCE} [1]",
        abstained=False, cited=((GOLD, ANSWER_SENTENCE),), quotes_verbatim=(True,), latency_ms=100.0,
    )
    fields.update(changes)
    return Outcome(**fields)


def abstained(qa: QAItem, rank: int | None = None) -> Outcome:
    return Outcome(item=qa, ranked=ranked_with_answer_at(rank), answer_text="Les communiqués indexés ne répondent pas.",
                   abstained=True, cited=(), quotes_verbatim=(), latency_ms=100.0)


def perfect_run() -> list[Outcome]:
    return [answered(item("fr-001")), answered(item("en-001", lang="en")), abstained(unanswerable())]


# --- a perfect run -------------------------------------------------------------------------------------


def test_a_perfect_run_scores_one_everywhere() -> None:
    metrics = summarise(perfect_run())
    for key in ("recall@1", "recall@5", "mrr@10", "answer_accuracy", "citation_accuracy", "quote_faithfulness",
                "abstain_unanswerable"):
        assert metrics[key] == 1.0, key
    assert metrics["false_abstain"] == 0.0


def test_counts_separate_answerable_from_unanswerable_questions() -> None:
    metrics = summarise(perfect_run())
    assert (metrics["n"], metrics["n_answerable"], metrics["n_unanswerable"]) == (3, 2, 1)


def test_unanswerable_questions_do_not_count_in_retrieval_metrics() -> None:
    # The unanswerable question has nothing relevant in its ranking; a perfect score means it was left out.
    metrics = summarise(perfect_run())
    assert metrics["recall@1"] == metrics["mrr@10"] == 1.0


# --- retrieval ranks -----------------------------------------------------------------------------------


def test_answer_at_rank_three_misses_recall_at_one_but_not_at_five() -> None:
    metrics = summarise([answered(item(), rank=3)])
    assert metrics["recall@1"] == 0.0
    assert metrics["recall@5"] == 1.0
    assert metrics["mrr@10"] == pytest.approx(1 / 3, abs=1e-4)


def test_one_miss_at_rank_three_among_two_questions_halves_recall_at_one() -> None:
    metrics = summarise([answered(item("fr-001")), answered(item("fr-002"), rank=3)])
    assert metrics["recall@1"] == 0.5
    assert metrics["recall@5"] == 1.0
    assert metrics["mrr@10"] == pytest.approx((1 + 1 / 3) / 2, abs=1e-4)


def test_answer_beyond_rank_five_misses_recall_at_five() -> None:
    metrics = summarise([answered(item(), rank=7)])
    assert metrics["recall@5"] == 0.0
    assert metrics["mrr@10"] == pytest.approx(1 / 7, abs=1e-4)


def test_answer_never_retrieved_scores_zero() -> None:
    metrics = summarise([answered(item(), rank=None)])
    assert metrics["recall@1"] == metrics["recall@5"] == metrics["mrr@10"] == 0.0


def test_first_relevant_rank_is_the_first_passage_that_is_relevant() -> None:
    ranked = ((OTHER, ANSWER_SENTENCE), (GOLD, FILLER), (GOLD, ANSWER_SENTENCE), (GOLD, ANSWER_SENTENCE))
    assert answered(item(), ranked=ranked).first_relevant_rank == 3


# --- abstention ----------------------------------------------------------------------------------------


def test_abstaining_on_an_answerable_question_is_a_false_abstention() -> None:
    metrics = summarise([answered(item("fr-001")), abstained(item("fr-002"), rank=1), abstained(unanswerable())])
    assert metrics["false_abstain"] == 0.5
    assert metrics["answer_accuracy"] == 0.5
    assert metrics["citation_accuracy"] == 0.5
    assert metrics["abstain_unanswerable"] == 1.0


def test_an_abstention_is_never_a_correct_answer_even_if_its_text_holds_the_answer() -> None:
    outcome = Outcome(item=item(), ranked=ranked_with_answer_at(1), answer_text=ANSWER_SENTENCE, abstained=True,
                      cited=((GOLD, ANSWER_SENTENCE),), quotes_verbatim=(), latency_ms=1.0)
    assert not outcome.answer_correct and not outcome.citation_correct


def test_answering_an_unanswerable_question_lowers_abstention() -> None:
    metrics = summarise([abstained(unanswerable("fr-900")), answered(unanswerable("fr-901"))])
    assert metrics["abstain_unanswerable"] == 0.5


def test_metrics_of_an_empty_group_are_none_not_zero() -> None:
    only_answerable = summarise([answered(item())])
    assert only_answerable["abstain_unanswerable"] is None
    only_unanswerable = summarise([abstained(unanswerable())])
    assert only_unanswerable["recall@1"] is None and only_unanswerable["false_abstain"] is None
    assert only_unanswerable["quote_faithfulness"] is None


# --- answers, citations, quotes ------------------------------------------------------------------------


def test_a_non_verbatim_quote_lowers_quote_faithfulness() -> None:
    metrics = summarise([answered(item(), quotes_verbatim=(True, False))])
    assert metrics["quote_faithfulness"] == 0.5


def test_quote_faithfulness_counts_quotes_not_questions() -> None:
    metrics = summarise([answered(item("fr-001"), quotes_verbatim=(True, True, True)),
                         answered(item("fr-002"), quotes_verbatim=(False,))])
    assert metrics["quote_faithfulness"] == 0.75


def test_an_answer_without_the_answer_string_is_wrong() -> None:
    metrics = summarise([answered(item(), answer_text=f"Selon les communiqués : {FILLER} [1]")])
    assert metrics["answer_accuracy"] == 0.0


def test_a_citation_of_the_wrong_release_is_wrong_even_with_the_answer_string() -> None:
    metrics = summarise([answered(item(), cited=((OTHER, ANSWER_SENTENCE),))])
    assert metrics["citation_accuracy"] == 0.0
    assert metrics["answer_accuracy"] == 1.0


def test_one_relevant_citation_among_several_is_enough() -> None:
    outcome = answered(item(), cited=((OTHER, FILLER), (GOLD, ANSWER_SENTENCE)))
    assert outcome.citation_correct


def test_mean_answer_length_uses_the_quoted_characters_when_recorded() -> None:
    outcome = answered(item(), extra={"quoted_chars": 42})
    assert summarise([outcome])["mean_answer_chars"] == 42.0


def test_latency_percentiles_of_the_run() -> None:
    outcomes = [answered(item(f"fr-00{i}"), latency_ms=ms) for i, ms in enumerate([10.0, 20.0, 30.0])]
    metrics = summarise(outcomes)
    assert metrics["latency_p50_ms"] == 20.0
    assert 20.0 < metrics["latency_p95_ms"] <= 30.0


# --- relevance -----------------------------------------------------------------------------------------


def test_relevance_needs_the_gold_release() -> None:
    assert item().is_relevant(GOLD, ANSWER_SENTENCE)
    assert not item().is_relevant(OTHER, ANSWER_SENTENCE)


def test_relevance_needs_the_answer_string() -> None:
    assert not item().is_relevant(GOLD, FILLER)


def test_an_alternative_gold_release_is_relevant() -> None:
    qa = item(alt_doc_ids=(OTHER,))
    assert qa.is_relevant(OTHER, ANSWER_SENTENCE)


@pytest.mark.parametrize(
    ("answer", "passage"),
    [
        ("l'amiral Rob Bauer", "Ouvrant la réunion, l’amiral Rob Bauer a rappelé les priorités."),
        ("l’amiral Rob Bauer", "Ouvrant la réunion, l'amiral Rob Bauer a rappelé les priorités."),
        ("26 pays", "Les participants de 26\u00a0pays partenaires étaient présents."),
        ("26 pays", "Les participants de 26\u202fpays partenaires étaient présents."),
        ("Mark Rutte", "Le secrétaire général, MARK RUTTE, a déclaré."),
        ("comité militaire", "Le Comité\u00a0militaire s’est réuni."),
        ("15 et 16 janvier 2025", "Les 15 et  16\njanvier 2025, le Comité militaire s’est réuni."),
    ],
)
def test_relevance_matches_the_answer_across_apostrophes_spaces_and_case(answer: str, passage: str) -> None:
    assert item(answers=(answer,)).is_relevant(GOLD, passage)


def test_the_answer_must_match_whole_words() -> None:
    assert not item(answers=("26",)).is_relevant(GOLD, "Depuis 1 260 jours.")
    assert not item(answers=("Bauer",)).is_relevant(GOLD, "Le Bauerfeind a parlé.")


def test_any_of_several_answers_makes_a_passage_relevant() -> None:
    qa = item(answers=("vingt-six", "26 pays"))
    assert qa.is_relevant(GOLD, ANSWER_SENTENCE)


def test_an_unanswerable_question_has_no_relevant_passage() -> None:
    assert not unanswerable().is_relevant(GOLD, ANSWER_SENTENCE)


# --- grouping ------------------------------------------------------------------------------------------


def test_summarise_by_language_splits_the_outcomes() -> None:
    outcomes = [answered(item("fr-001")), answered(item("en-001", lang="en"), rank=3), abstained(unanswerable())]
    groups = summarise_by(outcomes, "lang")
    assert set(groups) == {"fr", "en"}
    assert groups["fr"]["n"] == 2 and groups["en"]["n"] == 1
    assert groups["fr"]["recall@1"] == 1.0 and groups["en"]["recall@1"] == 0.0


def test_qa_item_reads_the_jsonl_schema() -> None:
    qa = QAItem.from_dict({"id": "en-007", "lang": "en", "question": "Who?", "answers": ["Rutte"],
                           "doc_id": GOLD, "alt_doc_ids": [OTHER], "evidence": "…", "answerable": True,
                           "kind": "fact"})
    assert qa.gold_docs == {GOLD, OTHER} and qa.answers == ("Rutte",)
    blank = QAItem.from_dict({"id": "en-100", "lang": "en", "question": "Recipe?", "answers": [], "doc_id": None,
                              "alt_doc_ids": [], "evidence": "", "answerable": False, "kind": "unanswerable"})
    assert blank.gold_docs == set() and not blank.answerable


# --- the table of metrics ------------------------------------------------------------------------------


def test_every_metric_of_the_table_is_computed_for_a_group() -> None:
    assert set(KEYS) <= set(summarise(perfect_run()))


def test_rates_print_three_decimals_and_sizes_one() -> None:
    by_key = {m.key: m for m in METRICS}
    assert by_key["recall@1"].format(0.5) == "0.500"
    assert by_key["mean_answer_chars"].format(270.7215) == "270.7"
    assert by_key["false_abstain"].format(None) == "-"


def test_only_rates_are_charted() -> None:
    # The charts' y axis runs from 0 to 1.
    charted = [m.key for m in METRICS if m.in_chart]
    assert charted and not any(k.startswith("latency") or k == "mean_answer_chars" for k in charted)


def test_an_answer_quoted_from_a_translation_counts_when_the_original_beside_it_holds_the_answer() -> None:
    english = "Participants from 26 NATO partner countries discussed resilience."
    outcome = answered(item("en-001", lang="en"), answer_text=f"According to the releases: {english} [1]",
                       cited=(("000_gold.en", english), (GOLD, ANSWER_SENTENCE)), quotes_verbatim=(True, True),
                       original_quotes=(ANSWER_SENTENCE,))
    assert outcome.answer_correct and outcome.citation_correct
    assert not replace(outcome, original_quotes=()).answer_correct
