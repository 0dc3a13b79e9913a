"""The chat page's rendering: hostile strings stay text, highlights sit exactly on the quote."""

from __future__ import annotations

import html
import re
from dataclasses import replace

import pytest

from rag.schema import Answer, Chunk, Citation, Document, ScoredChunk
from tests.ui_fakes import HOSTILE_DOC, HOSTILE_QUOTE, HOSTILE_TITLE, hostile_answer, parse
from ui import render

HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[click](javascript:alert(1))",
    "[1]",
    "**bold**",
    "&amp;",
    "$$x^2$$",
    "![img](http://example.invalid/x.png)",
]
# What may appear in a rendered chat message once the document's text is escaped: our own tags only.
OUR_TAGS = {"div", "p", "strong", "span", "code", "button", "ul", "li", "blockquote", "br", "details", "summary"}


def make_doc(text: str, title: str | None = "Titre", doc_id: str = "001_test", date: str | None = "2025-01-15"
             ) -> Document:
    return Document(doc_id=doc_id, source=f"seeds/{doc_id}.txt", title=title, date=date, lang="fr", text=text,
                    content_hash="0" * 16)


def cite(doc: Document, quote: str, marker: int = 1) -> Citation:
    start = doc.text.index(quote)
    return Citation(marker, doc.doc_id, doc.title, doc.date, quote, start, start + len(quote), f"{doc.doc_id}#0")


def extractive(doc: Document, *quotes: str, lang: str = "fr") -> Answer:
    citations = tuple(cite(doc, q, i) for i, q in enumerate(quotes, start=1))
    body = " ".join(f"{c.quote} [{c.marker}]" for c in citations)
    return Answer(question="Q ?", answer=f"Selon les communiqués : {body}", mode="extractive", lang=lang,
                  citations=citations)


def quote_source(doc: Document, quote: str) -> render.SourceRef:
    return render.sources_of(extractive(doc, quote), 1)[0]


# --- escaping ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("hostile", HOSTILE)
def test_inline_escaping_leaves_no_markdown_or_html_syntax(hostile: str) -> None:
    escaped = render.escape_inline(hostile)
    assert not re.search(r"[<>\[\]()*_`$!]", escaped)
    assert html.unescape(escaped) == hostile


@pytest.mark.parametrize("hostile", HOSTILE)
def test_html_escaping_round_trips_to_the_same_text(hostile: str) -> None:
    assert parse(render.escape_html(hostile)).tags == []
    assert "".join(parse(render.escape_html(hostile)).text) == hostile


def test_inline_escaping_turns_newlines_into_breaks_and_keeps_one_line() -> None:
    assert render.escape_inline("a\nb\tc\r") == "a<br>b&#9;c"


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_question_is_shown_as_text(hostile: str) -> None:
    rendered = render.render_question(f"Pourquoi {hostile} ?")
    parsed = parse(rendered)
    assert [tag for tag, _ in parsed.tags] == ["div"]
    assert "".join(parsed.text) == f"Pourquoi {hostile} ?"


def test_hostile_release_in_an_answer_renders_only_our_own_tags() -> None:
    rendered = render.render_answer(hostile_answer("Q ?"), 1)
    parsed = parse(rendered)
    assert {tag for tag, _ in parsed.tags} <= OUR_TAGS
    for _, attrs in parsed.tags:
        assert not any(name.startswith("on") or name in {"href", "src", "style"} for name in attrs)
    text = "".join(parsed.text)
    assert HOSTILE_QUOTE in text
    assert HOSTILE_TITLE in text
    # Every character a Markdown renderer would act on is an entity in the message source.
    source_without_tags = re.sub(r"<[^>]*>", "", rendered)
    assert not re.search(r"[\[\]*_`$!]", source_without_tags)


def test_bracketed_number_inside_a_quote_is_text_not_a_marker() -> None:
    rendered = render.render_answer(hostile_answer("Q ?"), 1)
    buttons = [attrs for tag, attrs in parse(rendered).tags if tag == "button"]
    # One marker after the answer sentence, one in the citation list: the quote's own "[1]" is not one.
    assert [b["value"] for b in buttons] == ["1:c:1", "1:c:1"]
    answer_text = rendered.split('<p class="rag-answer-text">')[1].split("</p>")[0]
    assert answer_text.count("<button") == 1
    assert "Le rapport &#91;1&#93; cite" in answer_text


def test_marker_number_that_is_not_a_citation_stays_text() -> None:
    doc = make_doc("Une phrase citée. Une autre.")
    answer = replace(extractive(doc, "Une phrase citée."),
                     answer="Selon les communiqués : Une phrase citée. [1] [7]")
    answer_text = render.render_answer_text(answer, 2)
    assert answer_text.count("<button") == 1
    assert 'value="2:c:1"' in answer_text
    assert "&#91;7&#93;" in answer_text


def test_chat_message_is_a_single_line_so_gradio_dedent_cannot_alter_it() -> None:
    doc = make_doc("Début.\n    Ligne indentée citée.\nFin.")
    rendered = render.render_answer(extractive(doc, "Ligne indentée citée.\nFin."), 1)
    assert "\n" not in rendered


# --- citation list -------------------------------------------------------------------------------------------


def test_citation_list_shows_marker_title_date_doc_id_and_quote() -> None:
    doc = make_doc("Première phrase. L’amiral Bauer a ouvert la réunion. Fin.", title="Réunion des chefs",
                   doc_id="004_abc")
    answer = extractive(doc, "L’amiral Bauer a ouvert la réunion.")
    rendered = render.render_citation_list(replace(answer, answer="An LLM's own words [1]", mode="llm"), 3)
    text = "".join(parse(rendered).text)
    for expected in ("[1]", "Réunion des chefs", "2025-01-15", "004_abc", "L’amiral Bauer a ouvert la réunion."):
        assert expected in text
    assert 'value="3:c:1"' in rendered


def test_a_chat_message_quotes_each_sentence_once() -> None:
    doc = make_doc("Première phrase. L’amiral Bauer a ouvert la réunion. Fin.", title="Réunion des chefs")
    text = "".join(parse(render.render_answer(extractive(doc, "L’amiral Bauer a ouvert la réunion."), 1)).text)
    assert text.count("L’amiral Bauer a ouvert la réunion.") == 1
    assert "Réunion des chefs" in text  # the citation line still names the release


def test_a_doubtful_answer_says_to_check_the_passage_and_offers_the_runner_up_cited() -> None:
    doc = make_doc("Alpha est ici. Beta est là. Gamma aussi.")
    answer = extractive(doc, "Alpha est ici.")
    runner_up = replace(answer.citations[0], marker=2, quote="Beta est là.", start=15, end=27)
    doubtful = replace(answer, confidence=0.42, well_supported=False, alternative=runner_up)
    rendered = render.render_answer(doubtful, 1)
    text = "".join(parse(rendered).text)
    assert "Check the cited passage (confidence 42%)" in text or "À vérifier dans le passage cité (confiance 42" in text
    assert "Beta est là." in text and 'value="1:c:2"' in rendered
    assert render.find_source([doubtful], "1:c:2").text == "Beta est là."  # the panel can show it
    sure = render.render_answer(replace(answer, confidence=0.99, well_supported=True), 1)
    assert "99%" in "".join(parse(sure).text) and "rag-confidence-good" in sure


def test_citation_list_names_an_untitled_undated_release_in_the_answer_language() -> None:
    doc = make_doc("Une phrase.", title=None, date=None)
    french = "".join(parse(render.render_citation_list(extractive(doc, "Une phrase."), 1)).text)
    english = "".join(parse(render.render_citation_list(extractive(doc, "Une phrase.", lang="en"), 1)).text)
    assert "(communiqué sans titre)" in french and "sans date" in french
    assert "(untitled release)" in english and "no date" in english


def test_citation_list_keeps_citation_order_with_one_entry_each() -> None:
    doc = make_doc("Alpha est ici. Beta est là. Gamma aussi.")
    rendered = render.render_citation_list(extractive(doc, "Alpha est ici.", "Beta est là."), 1)
    items = re.findall(r'<li class="rag-citation">.*?</li>', rendered)
    assert len(items) == 2
    assert 'value="1:c:1"' in items[0] and 'value="1:c:2"' in items[1]


def test_follow_up_answer_names_the_question_taken_as_context() -> None:
    doc = make_doc("Une phrase.")
    answer = replace(extractive(doc, "Une phrase."), context_question="Qui a ouvert la réunion <b>?</b>")
    text = "".join(parse(render.render_answer(answer, 2)).text)
    assert "Question lue comme la suite de : « Qui a ouvert la réunion <b>?</b> »" in text


def test_abstention_says_so_and_lists_related_passages_as_not_an_answer() -> None:
    doc = make_doc("Un passage voisin qui parle d’autre chose. " * 20)
    chunk = Chunk("001_test#0", doc.doc_id, 0, doc.title, doc.date, doc.source, doc.text[:300], 0, 300)
    answer = Answer(question="Q ?", answer="The indexed releases do not answer this question. Closest passages "
                    "(related, not an answer):", mode="abstain", lang="en", passages=(ScoredChunk(chunk, 0.3),),
                    abstain_reason="names missing <x>")
    rendered = render.render_answer(answer, 4)
    text = "".join(parse(rendered).text)
    assert "do not answer this question" in text
    assert "related, not an answer" in text
    assert 'value="4:r:1"' in rendered
    assert "names missing <x>" in text
    assert render.sources_of(answer, 4)[0].label.startswith("~1 Titre")


def test_abstention_without_passages_says_none_was_found() -> None:
    answer = Answer(question="Q ?", answer="Les communiqués indexés ne répondent pas à cette question.",
                    mode="abstain", lang="fr")
    assert "Aucun passage proche" in render.render_answer(answer, 1)


def test_llm_notes_and_unsupported_sentences_are_shown_escaped() -> None:
    doc = make_doc("Une phrase.")
    answer = replace(extractive(doc, "Une phrase."), mode="llm", note="LLM unavailable: <timeout>",
                     unsupported_sentences=("Inventé [2] <i>ici</i>.",))
    text = "".join(parse(render.render_answer(answer, 1)).text)
    assert "LLM unavailable: <timeout>" in text
    assert "Inventé [2] <i>ici</i>." in text


def test_streaming_text_is_escaped() -> None:
    parsed = parse(render.render_streaming("Partial <img src=x onerror=alert(1)> [1]"))
    assert {tag for tag, _ in parsed.tags} == {"div", "p"}
    assert "Partial <img src=x onerror=alert(1)> [1]" in "".join(parsed.text)


def test_notice_is_escaped() -> None:
    parsed = parse(render.render_notice("<script>alert(1)</script>"))
    assert "script" not in {tag for tag, _ in parsed.tags}


# --- sources panel -------------------------------------------------------------------------------------------


def test_panel_marks_exactly_the_hostile_quote() -> None:
    source = render.sources_of(hostile_answer("Q ?"), 1)[0]
    parsed = parse(render.render_source_panel(HOSTILE_DOC, source))
    assert parsed.marks == [HOSTILE_QUOTE]
    assert {tag for tag, _ in parsed.tags} <= {"div", "span", "code", "mark"}


@pytest.mark.parametrize("where", ["start", "end", "whole"])
def test_panel_marks_exactly_a_quote_at_the_edge_of_the_release(where: str) -> None:
    text = "Au début ici. Au milieu de tout. À la fin là."
    quote = {"start": "Au début ici.", "end": "À la fin là.", "whole": text}[where]
    doc = make_doc(text)
    assert parse(render.render_source_panel(doc, quote_source(doc, quote))).marks == [quote]
    assert parse(render.render_full_release(doc, quote_source(doc, quote))).marks == [quote]


def test_panel_marks_exactly_a_quote_with_curly_apostrophe_and_nbsp() -> None:
    quote = "L’OTAN compte 32\u00a0Alliés\u202f; c’est «\u00a0clé\u00a0»."
    doc = make_doc(f"Titre\n\nAvant\u00a0: du contexte. {quote} Après, d’autres mots.\n")
    parsed = parse(render.render_source_panel(doc, quote_source(doc, quote)))
    assert parsed.marks == [quote]


def test_panel_keeps_whitespace_of_a_quote_spanning_lines() -> None:
    quote = "Première ligne\n  seconde ligne indentée."
    doc = make_doc(f"Intro.\n{quote}\nSuite.")
    assert parse(render.render_source_panel(doc, quote_source(doc, quote))).marks == [quote]


def test_panel_shows_context_around_the_quote_and_says_where_it_is_cut() -> None:
    before = " ".join(f"mot{i}" for i in range(300))
    after = " ".join(f"fin{i}" for i in range(300))
    quote = "La phrase citée est ici."
    doc = make_doc(f"{before}. {quote} {after}.")
    parsed = parse(render.render_source_panel(doc, quote_source(doc, quote), radius=200))
    shown = "".join(parsed.text)
    assert parsed.marks == [quote]
    assert "mot299." in shown and "fin0" in shown
    assert "mot0 " not in shown and "fin299" not in shown
    assert shown.count("…") == 2


def test_context_window_never_cuts_inside_a_word() -> None:
    text = "alpha beta gamma delta epsilon " * 40 + "QUOTE." + " zeta eta theta iota kappa" * 40
    start = text.index("QUOTE.")
    lo, hi = render.context_window(text, start, start + 6, radius=100)
    assert text[lo - 1].isspace() and not text[lo].isspace()
    assert not text[hi - 1].isspace() and text[hi].isspace()
    assert start - lo >= 50 and hi - (start + 6) >= 50


def test_context_window_prefers_a_paragraph_start() -> None:
    text = "x" * 30 + " word " * 10 + "\nParagraph start. " + "filler " * 10 + "QUOTE."
    start = text.index("QUOTE.")
    lo, _ = render.context_window(text, start, start + 6, radius=120)
    assert text[lo:].startswith("Paragraph start.")


def test_full_release_marks_the_quote_and_escapes_the_rest() -> None:
    source = render.sources_of(hostile_answer("Q ?"), 1)[0]
    parsed = parse(render.render_full_release(HOSTILE_DOC, source))
    assert parsed.marks == [HOSTILE_QUOTE]
    assert HOSTILE_DOC.text in "".join(parsed.text)
    assert {tag for tag, _ in parsed.tags} <= {"div", "span", "code", "mark"}


def test_panel_refuses_to_highlight_when_the_release_changed() -> None:
    doc = make_doc("Une phrase citée. Suite.")
    source = quote_source(doc, "Une phrase citée.")
    changed = replace(doc, text="Un autre texte entièrement. Suite.")
    rendered = render.render_source_panel(changed, source)
    assert "<mark" not in rendered and "posez la question à nouveau" in rendered
    assert "<mark" not in render.render_source_panel(None, source)
    english = render.render_source_panel(changed, replace(source, lang="en"))
    assert "ask the question again" in english


@pytest.mark.parametrize(("lang", "expected", "absent"), [
    ("fr", ["[1] passage cité · question 1", "(communiqué sans titre)", "sans date", "caractères 0–17 sur"],
     ["cited passage", "untitled release"]),
    ("en", ["[1] cited passage · question 1", "(untitled release)", "no date", "characters 0–17 of"],
     ["passage cité", "sans titre"]),
])
def test_sources_panel_and_picker_speak_the_answer_language(lang: str, expected: list[str],
                                                            absent: list[str]) -> None:
    doc = replace(make_doc("Une phrase citée. Suite."), title=None, date=None)
    source = replace(quote_source(doc, "Une phrase citée."), lang=lang)
    shown = render.render_source_panel(doc, source) + render.render_full_release(doc, source) + source.label
    for words in expected:
        assert render.escape_html(words) in shown or words in shown
    for words in absent:
        assert words not in shown


def test_related_passage_is_highlighted_as_related() -> None:
    doc = make_doc("Avant. Le passage voisin. Après.")
    start = doc.text.index("Le passage")
    chunk = Chunk("c", doc.doc_id, 0, doc.title, doc.date, doc.source, "Le passage voisin.", start, start + 18)
    answer = Answer(question="Q", answer="No.", mode="abstain", lang="en", passages=(ScoredChunk(chunk, 0.1),))
    rendered = render.render_source_panel(doc, render.sources_of(answer, 1)[0])
    assert 'class="rag-hl-related"' in rendered
    assert parse(rendered).marks == ["Le passage voisin."]
    assert "related passage, not an answer" in rendered


# --- picker keys ---------------------------------------------------------------------------------------------


def test_source_keys_name_a_citation_of_any_earlier_answer() -> None:
    doc = make_doc("Alpha est ici. Beta est là.")
    answers = [extractive(doc, "Alpha est ici."), extractive(doc, "Alpha est ici.", "Beta est là.")]
    found = render.find_source(answers, "2:c:2")
    assert found is not None and found.text == "Beta est là." and found.turn == 2
    assert render.find_source(answers, "1:c:1") is not None


@pytest.mark.parametrize("key", ["", None, "3:c:1", "0:c:1", "1:c:9", "1:x:1", "1:c:1<script>", "../1:c:1"])
def test_unknown_or_malformed_source_keys_find_nothing(key: str | None) -> None:
    doc = make_doc("Alpha est ici.")
    assert render.find_source([extractive(doc, "Alpha est ici.")], key) is None


def test_picker_label_is_plain_text_with_title_and_date() -> None:
    source = render.sources_of(hostile_answer("Q ?"), 1)[0]
    assert source.label == f"[1] {HOSTILE_TITLE} — 2025-01-15"
    assert source.key == "1:c:1"


def test_picker_label_shortens_a_long_title() -> None:
    doc = make_doc("Une phrase.", title="Très " * 40)
    label = render.sources_of(extractive(doc, "Une phrase."), 1)[0].label
    assert len(label) < 120 and "…" in label


def test_abstention_shows_at_most_three_related_passages() -> None:
    doc = make_doc("Un passage voisin. " * 30)
    chunks = [ScoredChunk(Chunk(f"c{i}", doc.doc_id, i, None, None, doc.source, "Un passage voisin.", 0, 18), 0.1)
              for i in range(5)]
    answer = Answer(question="Q", answer="No.", mode="abstain", lang="en", passages=tuple(chunks))
    assert len(render.sources_of(answer, 1)) == render.MAX_RELATED == 3
    assert render.render_answer(answer, 1).count('<li class="rag-related-item">') == 3


# --- status line ---------------------------------------------------------------------------------------------


def test_status_line_names_corpus_model_counts_and_last_time() -> None:
    rendered = render.render_status(["/data/seeds", "<i>x"], 5, 33, "bundled:e5@123", "gen-1", 1234.0)
    text = "".join(parse(rendered).text)
    assert 'title="/data/seeds, &lt;i&gt;x"' in rendered
    for expected in ("seeds, <i>x", "5", "33", "bundled:e5@123", "gen-1", "1.23 s"):
        assert expected in text
    assert "ms" in "".join(parse(render.render_status(["seeds"], 1, 1, "m", "g", 42.0)).text)
    assert "—" in "".join(parse(render.render_status(["seeds"], 1, 1, "m", "g", None)).text)
