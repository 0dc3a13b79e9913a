"""Assistant.ask: refused questions, follow-ups, the JSON shape of an answer, and picking up a rebuilt index."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from rag.answer.extractive import AnswerParams
from rag.assistant import Assistant, is_follow_up, validate_question
from rag.config import RagConfig
from rag.errors import QuestionError
from rag.index.build import build_index
from rag.schema import Answer
from rag.text.language import unsupported_language_note
from tests.fakes import HashingEmbedder

LONG_FRENCH = ("Quels sujets les chefs d'état-major de la défense ont-ils abordés lors de la réunion ? " * 30).strip()
LONG_ENGLISH = ("Which subjects did the chiefs of defence discuss during the meeting with the partners? " * 30).strip()


# --- refused questions ---------------------------------------------------------------------------------


@pytest.mark.parametrize("question", ["", "   ", " \n\t "])
def test_empty_or_blank_question_is_refused_with_a_message(fake_assistant: Assistant, question: str) -> None:
    with pytest.raises(QuestionError, match="empty"):
        fake_assistant.ask(question)


def test_question_over_the_limit_is_refused_in_french(fake_assistant: Assistant) -> None:
    assert len(LONG_FRENCH) > 2000
    with pytest.raises(QuestionError) as raised:
        fake_assistant.ask(LONG_FRENCH)
    message = str(raised.value)
    assert f"La question fait {len(LONG_FRENCH)} caractères" in message
    assert "2000" in message and "Raccourcissez" in message


def test_question_over_the_limit_is_refused_in_english(fake_assistant: Assistant) -> None:
    assert len(LONG_ENGLISH) > 2000
    with pytest.raises(QuestionError) as raised:
        fake_assistant.ask(LONG_ENGLISH)
    message = str(raised.value)
    assert f"The question is {len(LONG_ENGLISH)} characters long" in message
    assert "2000" in message and "shorten" in message


def test_question_of_exactly_the_limit_is_accepted() -> None:
    question = ("Qui ? " * 400)[:2000]
    assert len(question.strip()) <= 2000
    assert validate_question(question, 2000) == question.strip()


def test_surrounding_whitespace_does_not_count_towards_the_limit() -> None:
    question = "  " + "x" * 2000 + "  \n"
    assert validate_question(question, 2000) == "x" * 2000


def test_the_limit_comes_from_the_configuration(fake_config: RagConfig, fake_embedder: HashingEmbedder) -> None:
    build_index(fake_config, fake_embedder, show_progress=False)
    strict = Assistant(replace(fake_config, max_question_chars=20), fake_embedder)
    with pytest.raises(QuestionError, match="20"):
        strict.ask("Qui a ouvert la réunion semestrielle ?")


def test_a_refused_question_embeds_nothing(fake_assistant: Assistant, fake_embedder: HashingEmbedder,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(texts):  # type: ignore[no-untyped-def]
        raise AssertionError("a refused question must not reach the embedder")

    monkeypatch.setattr(fake_embedder, "embed_queries", fail)
    with pytest.raises(QuestionError):
        fake_assistant.ask(LONG_ENGLISH)


# --- follow-ups ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("question", ["Et qui l'a présidée ?", "And when was that?", "Et où s'est-elle tenue ?",
                                      "Who opened it?"])
def test_short_question_pointing_back_is_a_follow_up(question: str) -> None:
    assert is_follow_up(question)


@pytest.mark.parametrize("question", [
    "Qui a ouvert la réunion des chefs d'état-major de janvier 2025 ?",
    "How many partner countries attended the November 2024 meeting?",
    "Who is Mark Rutte?",
    "Qui est Mark Rutte ?",
])
def test_self_contained_question_is_not_a_follow_up(question: str) -> None:
    assert not is_follow_up(question)


def test_follow_up_with_history_is_read_with_the_previous_question(fake_assistant: Assistant) -> None:
    history = ["Combien de pays partenaires étaient présents en novembre 2024 ?",
               "Quand s'est tenue la réunion des chefs d'état-major de janvier 2025 ?"]
    answer = fake_assistant.ask("Et qui l'a présidée ?", history=history)
    assert answer.context_question == history[-1]
    assert answer.question == "Et qui l'a présidée ?"
    assert answer.to_dict()["context_question"] == history[-1]


def test_follow_up_without_history_has_no_context(fake_assistant: Assistant) -> None:
    assert fake_assistant.ask("Et qui l'a présidée ?").context_question is None


def test_full_question_with_history_ignores_the_history(fake_assistant: Assistant) -> None:
    answer = fake_assistant.ask("Qui a ouvert la réunion des chefs d'état-major de janvier 2025 ?",
                                history=["Combien de pays partenaires étaient présents en novembre 2024 ?"])
    assert answer.context_question is None


def test_follow_up_searches_with_the_previous_question(fake_config: RagConfig,
                                                       fake_embedder: HashingEmbedder) -> None:
    build_index(fake_config, fake_embedder, show_progress=False)
    assistant = Assistant(fake_config, fake_embedder)
    seen: list[str] = []
    original = fake_embedder.embed_queries

    def recording(texts):  # type: ignore[no-untyped-def]
        seen.extend(texts)
        return original(texts)

    fake_embedder.embed_queries = recording  # type: ignore[method-assign]
    previous = "Quand s'est tenue la réunion des chefs d'état-major de janvier 2025 ?"
    assistant.ask("Et qui l'a présidée ?", history=[previous])
    assert previous in seen[-1] and "Et qui l'a présidée ?" in seen[-1]


# --- the answer as JSON --------------------------------------------------------------------------------


@pytest.fixture
def confident_assistant(fake_config: RagConfig, fake_embedder: HashingEmbedder) -> Assistant:
    build_index(fake_config, fake_embedder, show_progress=False)
    return Assistant(fake_config, fake_embedder, params=replace(AnswerParams.load(), abstain_threshold=0.0))


def test_answer_dict_has_the_keys_the_cli_prints(confident_assistant: Assistant) -> None:
    data = confident_assistant.ask("Qui a ouvert la réunion semestrielle avec les partenaires ?").to_dict()
    assert {"question", "answer", "mode", "citations", "passages", "timings_ms"} <= set(data)
    assert data["mode"] == "extractive" and data["citations"] and data["passages"]
    for citation in data["citations"]:
        assert {"marker", "doc_id", "title", "date", "quote", "start", "end"} <= set(citation)
    for passage in data["passages"]:
        assert {"doc_id", "chunk_id", "score", "text", "start", "end"} <= set(passage)


def test_answer_dict_values_match_the_answer(confident_assistant: Assistant) -> None:
    answer = confident_assistant.ask("Who opened the bi-annual meeting with the partners?")
    data = answer.to_dict()
    assert data["question"] == answer.question and data["answer"] == answer.answer
    assert [c["quote"] for c in data["citations"]] == [c.quote for c in answer.citations]
    assert [(p["chunk_id"], p["start"], p["end"]) for p in data["passages"]] == [
        (p.chunk.chunk_id, p.chunk.start, p.chunk.end) for p in answer.passages]
    assert {"embed_query", "retrieve", "answer", "total"} <= set(data["timings_ms"])
    assert all(v >= 0 for v in data["timings_ms"].values())


def test_answer_dict_is_json_and_keeps_accents(confident_assistant: Assistant) -> None:
    data = confident_assistant.ask("Quand s'est tenue la réunion virtuelle des chefs d'état-major ?").to_dict()
    text = json.dumps(data, ensure_ascii=False)
    assert json.loads(text) == data
    assert "é" in text


# --- a new generation is picked up ---------------------------------------------------------------------

NEW_RELEASE = (
    "Réunion du Comité militaire sur la logistique\n"
    "Le 3 mars 2025, le Comité militaire a examiné la logistique de l’Alliance à Bruxelles. "
    "Le général Martin Dupuis a présenté le nouveau plan logistique aux chefs d’état-major.\n"
)


def test_refresh_without_a_new_generation_changes_nothing(fake_assistant: Assistant) -> None:
    before = fake_assistant.stored.generation
    assert fake_assistant.refresh() is False
    assert fake_assistant.stored.generation == before


def test_refresh_picks_up_a_generation_built_after_the_corpus_changed(
    fake_assistant: Assistant, fake_config: RagConfig, fake_embedder: HashingEmbedder
) -> None:
    before = fake_assistant.stored.generation
    (fake_config.corpus_dir / "logistique.txt").write_text(NEW_RELEASE, encoding="utf-8")
    report = build_index(fake_config, fake_embedder, show_progress=False)
    assert report.added == ["logistique"]
    assert fake_assistant.refresh() is True
    assert fake_assistant.stored.generation == report.generation.name != before  # type: ignore[union-attr]
    assert "logistique" in fake_assistant.stored.documents
    assert fake_assistant.status().documents == 6
    assert fake_assistant.refresh() is False


def test_ask_answers_from_the_new_generation_without_an_explicit_refresh(
    fake_config: RagConfig, fake_embedder: HashingEmbedder
) -> None:
    build_index(fake_config, fake_embedder, show_progress=False)
    assistant = Assistant(fake_config, fake_embedder, params=replace(AnswerParams.load(), abstain_threshold=0.0))
    (fake_config.corpus_dir / "logistique.txt").write_text(NEW_RELEASE, encoding="utf-8")
    build_index(fake_config, fake_embedder, show_progress=False)
    answer = assistant.ask("Qui a présenté le nouveau plan logistique aux chefs d’état-major ?")
    assert "logistique" in {p.chunk.doc_id for p in answer.passages}


@pytest.mark.parametrize(("question", "named"), [
    ("Wer hat das Treffen im November 2024 eröffnet?", "German"),
    ("Chi ha aperto la riunione di novembre 2024?", "Italian"),
])
def test_a_question_in_a_third_language_is_answered_with_a_warning(fake_assistant: Assistant, question: str,
                                                                    named: str) -> None:
    answer = fake_assistant.ask(question)
    assert answer.note is not None and f"looks like {named}" in answer.note and "French and English" in answer.note


@pytest.mark.parametrize("question", [
    "Qui a ouvert la réunion de novembre 2024 ?", "Who opened the November 2024 meeting?", "Mark Rutte ?",
    "PAF-N ?", "Rutte Kyiv 2024", "Mark Rutte Kyiv visit October 2024?", "Rutte Kyiv octobre 2024 visite ?",
    "PAF-N SACEUR exposé juin 2024", "Mircea Geoană Bucarest visite ?",
])
def test_french_english_and_bare_names_get_no_language_warning(fake_assistant: Assistant, question: str) -> None:
    assert unsupported_language_note(question) is None
    assert fake_assistant.ask(question).note is None


# --- warm-up --------------------------------------------------------------------------------------------


def test_warm_up_asks_in_each_language_what_loads_every_lazy_table(
        fake_assistant: Assistant, monkeypatch: pytest.MonkeyPatch) -> None:
    from rag.answer.question import expected_answer_type
    from rag.text import countries, language
    from rag.text.language import detect_language

    language._full_identifier.cache_clear()
    language._identifier.cache_clear()
    countries.country_names.cache_clear()
    countries._country_pattern.cache_clear()
    asked: list[tuple[str, object]] = []
    real_ask = fake_assistant.ask

    def spying(question: str, *args: object, **kwargs: object) -> Answer:
        asked.append((question, kwargs.get("answer_mode")))
        return real_ask(question, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(fake_assistant, "ask", spying)
    fake_assistant.warm_up()
    assert sorted(detect_language(q) for q, _ in asked) == ["en", "fr"]
    assert {expected_answer_type(q) for q, _ in asked} == {"country"}
    # Extractive whatever the configured answer mode: a warm-up never asks (nor pays) an LLM.
    assert {mode for _, mode in asked} == {"extractive"}
    # What the first question would otherwise load is loaded.
    assert language._full_identifier.cache_info().currsize == 1
    assert countries._country_pattern.cache_info().currsize == 1


def test_warm_up_over_an_index_that_cannot_answer_raises_nothing(
        fake_assistant: Assistant, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    from rag.errors import IndexMissingError

    def no_index(question: str, *args: object, **kwargs: object) -> None:
        raise IndexMissingError("no index yet")

    monkeypatch.setattr(fake_assistant, "ask", no_index)
    fake_assistant.warm_up()  # the reader's own question will say what is wrong

    def broken(question: str, *args: object, **kwargs: object) -> None:
        raise OSError("model file vanished")

    monkeypatch.setattr(fake_assistant, "ask", broken)
    with caplog.at_level("WARNING", logger="rag.assistant"):
        fake_assistant.warm_up()
    assert "warming up failed (model file vanished)" in caplog.text
