"""How `rag eval` runs a question: one embedding and one retrieval serve both the answer and the ranking."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from eval.items import load_items
from eval.run import RETRIEVAL_DEPTH, evaluate_item
from eval.validate import DEFAULT_QA_PATH
from rag.answer.extractive import AnswerParams
from rag.assistant import Assistant
from rag.schema import overlap
from tests.fakes import HashingEmbedder


def _count_queries(embedder: HashingEmbedder, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    asked: list[str] = []
    embed = embedder.embed_queries

    def counting(texts):  # type: ignore[no-untyped-def]
        asked.extend(texts)
        return embed(texts)

    monkeypatch.setattr(embedder, "embed_queries", counting)
    return asked


# The first question, a "when?" question (its answer may quote a dateline from a passage ranked lower, which
# then comes first) and an unanswerable one.
RANKED_ITEMS = ("fr-001", "en-033", "fr-050")


@pytest.mark.parametrize("item_id", RANKED_ITEMS)
@pytest.mark.parametrize("mode", ["dense", "lexical", "hybrid"])
def test_a_question_is_embedded_once_and_ranked_as_retrieve_ranks_it(
        fake_assistant: Assistant, fake_embedder: HashingEmbedder, monkeypatch: pytest.MonkeyPatch, mode: str,
        item_id: str) -> None:
    item = next(i for i in load_items(DEFAULT_QA_PATH) if i.id == item_id)
    expected = fake_assistant.retrieve(item.question, mode=mode, top_k=RETRIEVAL_DEPTH)
    answer = fake_assistant.ask(item.question, mode=mode)
    asked = _count_queries(fake_embedder, monkeypatch)
    outcome = evaluate_item(fake_assistant, item, mode, None)
    assert asked == [item.question]
    assert outcome.ranked == tuple((p.chunk.doc_id, p.chunk.text) for p in expected)
    assert outcome.answer_text == answer.answer and outcome.abstained == (answer.mode == "abstain")


def test_an_llm_answer_is_asked_with_the_configured_top_k(fake_assistant: Assistant,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    # The LLM reads the passages the answer shows: asking for RETRIEVAL_DEPTH of them would change its prompt.
    llm = Assistant(replace(fake_assistant.config, answer_mode="llm"), fake_assistant.embedder)
    calls: list[dict[str, Any]] = []
    ask = llm.ask

    def spying(question, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(kwargs)
        return ask(question, **kwargs)

    monkeypatch.setattr(llm, "ask", spying)
    item = load_items(DEFAULT_QA_PATH)[0]
    outcome = evaluate_item(llm, item, "hybrid", None)
    assert [c.get("top_k") for c in calls] == [None]
    assert len(outcome.ranked) == RETRIEVAL_DEPTH


def test_recall_is_scored_on_the_passages_an_answer_shows_whether_or_not_it_is_asked_beside_it(
        fake_assistant: Assistant) -> None:
    """A "when?" answer quotes its release's dateline, whose passage then comes first: the ranking the eval
    scores is the same from the answer (one retrieval) as from retrieve() (the LLM mode's route)."""
    answering = Assistant(fake_assistant.config, fake_assistant.embedder,
                          params=replace(AnswerParams.load(), abstain_threshold=0.0))
    item = next(i for i in load_items(DEFAULT_QA_PATH) if i.id == "en-033")
    answer = answering.ask(item.question, top_k=RETRIEVAL_DEPTH)
    query = answering._prepare(item.question, (), None, RETRIEVAL_DEPTH)
    by_best_sentence = query.state.answerer.rerank(
        query.state.answerer.candidates(query.searched, query.vector, query.lang, query.candidates),
        query.candidates, RETRIEVAL_DEPTH, query.lang)
    assert [p.chunk.chunk_id for p in answer.passages] != [p.chunk.chunk_id for p in by_best_sentence]
    assert any(overlap(c, answer.passages[0].chunk) for c in answer.citations)
    retrieved = answering.retrieve(item.question, top_k=RETRIEVAL_DEPTH)
    assert [p.chunk.chunk_id for p in retrieved] == [p.chunk.chunk_id for p in answer.passages]
    outcome = evaluate_item(answering, item, "hybrid", None)
    assert outcome.ranked == tuple((p.chunk.doc_id, p.chunk.text) for p in retrieved)
