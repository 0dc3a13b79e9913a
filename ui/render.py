"""Turn answers and releases into the HTML the chat page shows, escaping everything that comes from outside.

No gradio here: these are plain functions of library records, so they can be tested alone.

Two escapers, one per destination:
- `escape_html` for the sources panel, a `gr.HTML` that shows text with `white-space: pre-wrap`: whitespace is
  kept verbatim so that the text inside `<mark>` is exactly the quote.
- `escape_inline` for chat messages. The chatbot renders them as sanitised HTML; they are written so that they
  stay inert even if Markdown or LaTeX rendering is switched on: every Markdown metacharacter becomes a numeric
  entity, so `[1]`, `**bold**`, `[x](javascript:...)` or `$$` in a release can never turn into syntax.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Literal

from rag.schema import Answer, Citation, Document
from rag.wording import CITATION_WORDS, also_in

SourceKind = Literal["quote", "related"]

CONTEXT_RADIUS = 400
SNIPPET_CHARS = 200
MAX_RELATED = 3  # closest passages shown with an abstention
LABEL_TITLE_CHARS = 90
LABELS = {
    "fr": {
        **CITATION_WORDS["fr"],
        "sources": "Sources",
        "why": "Pourquoi ?",
        "no_related": "Aucun passage proche n'a été trouvé.",
        "show": "Afficher ce passage dans le panneau des sources",
        "cited_badge": "[{number}] passage cité · question {turn}",
        "related_badge": "~{number} passage lié, ce n'est pas une réponse · question {turn}",
        "chars_of": "caractères {start}–{end} sur {total}",
        "changed": "Le communiqué {doc_id} a changé depuis cette réponse (l'index a été reconstruit) : "
                   "posez la question à nouveau.",
        "changed_short": "Le communiqué {doc_id} a changé depuis cette réponse.",
        "full_meta": "{total} caractères · source",
    },
    "en": {
        **CITATION_WORDS["en"],
        "sources": "Sources",
        "why": "Why?",
        "no_related": "No related passage was found.",
        "show": "Show this passage in the sources panel",
        "cited_badge": "[{number}] cited passage · question {turn}",
        "related_badge": "~{number} related passage, not an answer · question {turn}",
        "chars_of": "characters {start}–{end} of {total}",
        "changed": "Release {doc_id} changed since this answer (the index was rebuilt): ask the question again.",
        "changed_short": "Release {doc_id} changed since this answer.",
        "full_meta": "{total} characters · source",
    },
}

# One pass, so nothing is escaped twice. Markdown/LaTeX syntax characters become numeric entities: the browser
# shows the character, a Markdown parser sees no syntax. ':' and '@' stop GFM from autolinking URLs and e-mails.
_INLINE = str.maketrans({
    "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;",
    **{c: f"&#{ord(c)};" for c in "\\`*_[]()!#|~$={}+-:@"},
    "\n": "<br>", "\r": "", "\t": "&#9;",
})
_MARKER = re.compile(r"\[(\d+)\]")


def escape_html(text: str) -> str:
    """Escape for an HTML text node or attribute; whitespace is kept as is."""
    return html.escape(text, quote=True)


def escape_inline(text: str) -> str:
    """Escape for a chat message: HTML-safe and Markdown-inert, newlines as `<br>`."""
    return text.translate(_INLINE)


def labels(lang: str) -> dict[str, str]:
    return LABELS.get(lang, LABELS["en"])


@dataclass(frozen=True)
class SourceRef:
    """What the sources panel can show: a cited quote or a related passage of one answer of the conversation.

    `key` is the value the citation picker and the clickable markers use: "<turn>:c:<marker>" for a citation,
    "<turn>:r:<rank>" for a related passage.
    """

    turn: int
    kind: SourceKind
    number: int
    doc_id: str
    title: str | None
    date: str | None
    start: int
    end: int
    text: str
    lang: str = "en"  # the answer's language, which the panel's labels follow

    @property
    def key(self) -> str:
        return f"{self.turn}:{'c' if self.kind == 'quote' else 'r'}:{self.number}"

    @property
    def label(self) -> str:
        """Plain text for the picker (which escapes it): "[1] Title — 2025-01-15", "~1 Title — …" if related."""
        mark = f"[{self.number}]" if self.kind == "quote" else f"~{self.number}"
        words = labels(self.lang)
        title = self.title or words["untitled"]
        if len(title) > LABEL_TITLE_CHARS:
            title = title[:LABEL_TITLE_CHARS].rstrip() + "…"
        return f"{mark} {title} — {self.date or words['no_date']}"


def parse_source_key(key: str | None) -> tuple[int, str, int] | None:
    """Parse a key such as "3:c:1" into (3, "c", 1); anything else gives None (keys come from the browser)."""
    match = re.fullmatch(r"(\d{1,6}):([cr]):(\d{1,4})", (key or "").strip())
    return (int(match[1]), match[2], int(match[3])) if match else None


def sources_of(answer: Answer, turn: int) -> list[SourceRef]:
    """The citations of an answer, or the related passages when it abstained."""
    if answer.citations:
        cited = [*answer.citations, *([answer.alternative] if answer.alternative else [])]
        return [SourceRef(turn, "quote", c.marker, c.doc_id, c.title, c.date, c.start, c.end, c.quote, answer.lang)
                for c in cited]
    if answer.abstained:
        return [SourceRef(turn, "related", rank, p.chunk.doc_id, p.chunk.title, p.chunk.date, p.chunk.start,
                          p.chunk.end, p.chunk.text, answer.lang)
                for rank, p in enumerate(answer.passages[:MAX_RELATED], start=1)]
    return []


def find_source(answers: Sequence[Answer], key: str | None) -> SourceRef | None:
    """The source a picker value or a clicked marker names; turns are numbered from 1."""
    parsed = parse_source_key(key)
    if parsed is None or not 1 <= parsed[0] <= len(answers):
        return None
    turn, kind, number = parsed
    wanted = "quote" if kind == "c" else "related"
    return next((s for s in sources_of(answers[turn - 1], turn) if s.kind == wanted and s.number == number), None)


# --- chat messages -------------------------------------------------------------------------------------------


def _marker_button(source_key: str, text: str, hint: str) -> str:
    # The key rides in `value`: Gradio's chat sanitiser keeps it but drops data-* attributes.
    return (f'<button type="button" class="rag-marker" value="{escape_html(source_key)}" '
            f'title="{escape_html(hint)}">{escape_inline(text)}</button>')


def _doc_line(title: str | None, date: str | None, doc_id: str, lang: str) -> str:
    words = labels(lang)
    return (f'<span class="rag-doc-title">{escape_inline(title or words["untitled"])}</span>'
            f' · <span class="rag-doc-date">{escape_inline(date or words["no_date"])}</span>'
            f' · <code class="rag-doc-id">{escape_inline(doc_id)}</code>')


def _quote_spans(text: str, citations: Sequence[Citation]) -> list[tuple[int, int]]:
    """Where the answer text repeats a quote verbatim: `[n]` inside a quote is the release's text, not a marker."""
    spans = []
    for citation in citations:
        if not citation.quote:
            continue
        at = text.find(citation.quote)
        while at != -1:
            spans.append((at, at + len(citation.quote)))
            at = text.find(citation.quote, at + 1)
    return spans


def render_answer_text(answer: Answer, turn: int) -> str:
    """The answer sentence(s) with each library-made `[n]` turned into a clickable marker."""
    markers = {c.marker for c in answer.citations}
    quoted = _quote_spans(answer.answer, answer.citations)
    hint = labels(answer.lang)["show"]
    out, position = [], 0
    for match in _MARKER.finditer(answer.answer):
        number = int(match[1])
        if number not in markers or any(s <= match.start() < e for s, e in quoted):
            continue
        out.append(escape_inline(answer.answer[position:match.start()]))
        out.append(_marker_button(f"{turn}:c:{number}", match[0], hint))
        position = match.end()
    out.append(escape_inline(answer.answer[position:]))
    return "".join(out)


def render_citation_list(answer: Answer, turn: int) -> str:
    """Under the answer: for each citation its marker, the release title, date and id, and the quote."""
    if not answer.citations:
        return ""
    words = labels(answer.lang)
    items = [_citation_item(c, turn, answer.lang,
                            # A quote the answer already shows word for word is not repeated under it.
                            quote=c.quote not in answer.answer)
             for c in answer.citations]
    alternative = ""
    if answer.alternative is not None:
        alternative = (f'<p class="rag-alternative-title">{escape_inline(words["alternative"])}</p>'
                       f'<ul class="rag-citations rag-alternative">'
                       f'{_citation_item(answer.alternative, turn, answer.lang, quote=True)}</ul>')
    return (f'<p class="rag-sources-title">{escape_inline(words["sources"])}</p>'
            f'<ul class="rag-citations">{"".join(items)}</ul>{alternative}')


def _citation_item(c: Citation, turn: int, lang: str, quote: bool) -> str:
    words = labels(lang)
    return (f'<li class="rag-citation">{_marker_button(f"{turn}:c:{c.marker}", f"[{c.marker}]", words["show"])} '
            f'{_doc_line(c.title, c.date, c.doc_id, lang)}'
            f' · <span class="rag-offsets">{escape_inline(words["chars"].format(start=c.start, end=c.end))}</span>'
            + (f'<blockquote class="rag-quote">{escape_inline(c.quote)}</blockquote>' if quote else "")
            + (_original_line(c.original, lang) if c.original else "")
            + "</li>")


def _original_line(c: Citation, lang: str) -> str:
    """The quote's other-language version, cited beside it: "also in French: [1′] title — date — quote"."""
    marker = escape_inline(f"[{c.marker}′]")
    return (f'<div class="rag-original">{escape_inline(also_in(lang, c.lang or ""))} '
            f'<span class="rag-original-marker">{marker}</span> {_doc_line(c.title, c.date, c.doc_id, lang)}'
            f' · <span class="rag-offsets">{escape_inline(labels(lang)["chars"].format(start=c.start, end=c.end))}'
            f'</span><blockquote class="rag-quote" lang="{escape_html(c.lang or "")}">{escape_inline(c.quote)}'
            f'</blockquote></div>')


def _snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat.rfind(" ", 0, limit)
    return flat[:cut if cut > limit // 2 else limit] + " …"


def render_related_list(answer: Answer, turn: int) -> str:
    """For an abstention: the closest passages, plainly labelled as related, not an answer."""
    words = labels(answer.lang)
    if not answer.passages:
        return f'<p class="rag-related-none">{escape_inline(words["no_related"])}</p>'
    items = []
    for rank, passage in enumerate(answer.passages[:MAX_RELATED], start=1):
        chunk = passage.chunk
        items.append(
            f'<li class="rag-related-item">{_marker_button(f"{turn}:r:{rank}", f"~{rank}", words["show"])} '
            f'{_doc_line(chunk.title, chunk.date, chunk.doc_id, answer.lang)}'
            f'<blockquote class="rag-snippet">{escape_inline(_snippet(chunk.text))}</blockquote></li>'
        )
    return f'<ul class="rag-related">{"".join(items)}</ul>'


def render_answer(answer: Answer, turn: int) -> str:
    """The assistant's chat message for one answer (turn = its 1-based place in the conversation)."""
    words = labels(answer.lang)
    parts = [f'<div class="rag-answer rag-mode-{escape_html(answer.mode)}" lang="{escape_html(answer.lang)}">']
    if answer.context_question:
        parts.append(f'<p class="rag-context">↪ '
                     f'{escape_inline(words["follow_up"].format(question=answer.context_question))}</p>')
    if answer.abstained:
        parts.append(f'<p class="rag-abstain-text"><strong>{escape_inline(answer.answer)}</strong></p>')
        parts.append(render_related_list(answer, turn))
        if answer.abstain_reason:
            parts.append(f'<details class="rag-why"><summary>{escape_inline(words["why"])}</summary>'
                         f'{escape_inline(answer.abstain_reason)}</details>')
    else:
        parts.append(f'<p class="rag-answer-text">{render_answer_text(answer, turn)}</p>')
        if answer.confidence is not None:
            label, kind = ("well_supported", "good") if answer.well_supported else ("check", "check")
            parts.append(f'<p class="rag-confidence rag-confidence-{kind}">'
                         f'{escape_inline(words[label].format(confidence=answer.confidence))}</p>')
        if answer.unsupported_sentences:
            unsupported = "".join(f"<li>{escape_inline(s)}</li>" for s in answer.unsupported_sentences)
            parts.append(f'<div class="rag-warning">{escape_inline(words["unsupported"])}<ul>{unsupported}</ul></div>')
        parts.append(render_citation_list(answer, turn))
    if answer.note:
        parts.append(f'<p class="rag-note">ℹ {escape_inline(answer.note)}</p>')
    parts.append("</div>")
    return "".join(parts)


def render_question(question: str, limit: int = 600) -> str:
    """The user's chat bubble; an over-long question is shown cut (the message under it says why)."""
    text = question.strip()
    if len(text) > limit:
        text = text[:limit] + " …"
    return f'<div class="rag-question">{escape_inline(text)}</div>'


def render_streaming(text: str) -> str:
    """An LLM answer while it arrives: plain escaped text and a cursor; markers come with the final answer."""
    return f'<div class="rag-answer rag-streaming"><p class="rag-answer-text">{escape_inline(text)}▍</p></div>'


def render_pending() -> str:
    return '<div class="rag-answer rag-pending"><p class="rag-answer-text">…</p></div>'


def render_notice(message: str, kind: Literal["error", "question"] = "error") -> str:
    """A message instead of an answer: a question the library refused, or a short error."""
    return f'<div class="rag-notice rag-notice-{kind}"><p>{escape_inline(message)}</p></div>'


# --- sources panel -------------------------------------------------------------------------------------------


_BREAKS_BEFORE = (re.compile(r"\n\s*(?=\S)"), re.compile(r"(?<=[.!?»”])\s+(?=\S)"), re.compile(r"\s+(?=\S)"))
_BREAKS_AFTER = (re.compile(r"\S(?=\s*\n)"), re.compile(r"[.!?»”](?=\s)"), re.compile(r"\S(?=\s)"))


def context_window(text: str, start: int, end: int, radius: int = CONTEXT_RADIUS) -> tuple[int, int]:
    """About `radius` characters either side of [start, end), cut at a paragraph, sentence or word boundary.

    A boundary is looked for in the outer half of each side only, so the reader always gets some context.
    """
    lo = max(0, start - radius)
    if lo > 0:
        outer = (lo, max(lo, start - radius // 2))
        for pattern in _BREAKS_BEFORE:
            first = pattern.search(text, *outer)
            if first:
                lo = first.end()
                break
        else:
            lo = start
    hi = min(len(text), end + radius)
    if hi < len(text):
        outer = (min(hi, end + radius // 2), hi)
        for pattern in _BREAKS_AFTER:
            ends = [m.end() for m in pattern.finditer(text, *outer)]
            if ends:
                hi = ends[-1]
                break
        else:
            hi = end
    return lo, hi


def _highlighted(text: str, lo: int, hi: int, source: SourceRef) -> str:
    css = "rag-hl-quote" if source.kind == "quote" else "rag-hl-related"
    return (f'{escape_html(text[lo:source.start])}'
            f'<mark class="{css}" data-start="{source.start}" data-end="{source.end}">'
            f'{escape_html(text[source.start:source.end])}</mark>'
            f'{escape_html(text[source.end:hi])}')


def source_matches(document: Document | None, source: SourceRef) -> bool:
    """The offsets still point at the cited text (false when the index was rebuilt since the answer)."""
    return document is not None and document.text[source.start:source.end] == source.text


def _panel_header(document: Document, source: SourceRef) -> str:
    words = labels(source.lang)
    if source.kind == "quote":
        badge_text = words["cited_badge"].format(number=source.number, turn=source.turn)
        badge = f'<span class="rag-badge">{escape_html(badge_text)}</span>'
    else:
        text = words["related_badge"].format(number=source.number, turn=source.turn)
        badge = f'<span class="rag-badge rag-badge-related">{escape_html(text)}</span>'
    span = words["chars_of"].format(start=source.start, end=source.end, total=len(document.text))
    return (f'<div class="rag-panel-head">{badge}'
            f'<div class="rag-panel-title">{escape_html(document.title or words["untitled"])}</div>'
            f'<div class="rag-panel-meta">{escape_html(document.date or words["no_date"])} · '
            f'<code>{escape_html(document.doc_id)}</code> · {escape_html(span)}</div></div>')


def render_source_panel(document: Document | None, source: SourceRef | None,
                        radius: int = CONTEXT_RADIUS) -> str:
    """The cited passage in its context, the quoted span exactly inside `<mark>`."""
    if source is None:
        return render_panel_placeholder()
    if document is None or not source_matches(document, source):
        return render_panel_placeholder(labels(source.lang)["changed"].format(doc_id=source.doc_id))
    lo, hi = context_window(document.text, source.start, source.end, radius)
    before = '<span class="rag-ellipsis">… </span>' if lo > 0 else ""
    after = '<span class="rag-ellipsis"> …</span>' if hi < len(document.text) else ""
    return (f'<div class="rag-panel">{_panel_header(document, source)}'
            f'<div class="rag-passage">{before}{_highlighted(document.text, lo, hi, source)}{after}</div></div>')


def render_full_release(document: Document | None, source: SourceRef | None) -> str:
    """The whole cleaned release the panel's passage comes from, with the same span highlighted."""
    if source is None or document is None:
        return '<div class="rag-full-empty">Pick a citation to read its release in full.</div>'
    words = labels(source.lang)
    if not source_matches(document, source):
        return f'<div class="rag-full-empty">{escape_html(words["changed_short"].format(doc_id=source.doc_id))}</div>'
    return (f'<div class="rag-full"><div class="rag-panel-meta">{escape_html(document.title or words["untitled"])} · '
            f'{escape_html(document.date or words["no_date"])} · <code>{escape_html(document.doc_id)}</code> · '
            f'{escape_html(words["full_meta"].format(total=len(document.text)))} '
            f'<code>{escape_html(document.source)}</code></div>'
            f'<div class="rag-full-text">{_highlighted(document.text, 0, len(document.text), source)}</div></div>')


def render_panel_placeholder(message: str = "Posez une question : le passage que cite chaque réponse s'affiche ici, "
                                            "les mots cités surlignés. / Ask a question: the passage each answer "
                                            "cites appears here, with the quoted words highlighted.") -> str:
    return f'<div class="rag-panel rag-panel-empty">{escape_html(message)}</div>'


# --- status line ---------------------------------------------------------------------------------------------


def render_status(sources: Sequence[str], documents: int, chunks: int, model_id: str, generation: str,
                  last_answer_ms: float | None = None) -> str:
    # A corpus folder is named by its last part; the full path is in the tooltip.
    corpus = ", ".join(PurePath(s).name or s for s in sources) or "(unknown corpus)"
    corpus_path = ", ".join(sources)
    last = "—" if last_answer_ms is None else (
        f"{last_answer_ms:.0f} ms" if last_answer_ms < 1000 else f"{last_answer_ms / 1000:.2f} s")
    items = [
        f'Corpus <b title="{escape_html(corpus_path)}">{escape_html(corpus)}</b>',
        f"<b>{documents}</b> releases, <b>{chunks}</b> passages",
        f"model <code>{escape_html(model_id)}</code>",
        f"index <code>{escape_html(generation)}</code>",
        f'last answer <b class="rag-last-time">{escape_html(last)}</b>',
    ]
    return f'<div class="rag-status">{" · ".join(items)}</div>'

