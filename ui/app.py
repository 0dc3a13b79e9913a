"""The chat page: `build_app(assistant)` wires the library's Assistant to Gradio; `serve(assistant)` starts it.

The page only calls the library (`Assistant.stream`, `Assistant.status`, the stored documents); everything it
shows goes through `ui.render`, which escapes it. One Assistant, built once by the caller, is shared by every
session; per-session data (the conversation and its answers) lives in `gr.State`.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

import gradio as gr

from rag.assistant import CorpusStatus, validate_question
from rag.errors import QuestionError, RagError, ServeError
from rag.schema import Answer
from rag.text.loading import largest_accepted_file

from . import render
from .listen import ListenAddress, exposure_warning, listen_address, page_url
from .releases import CSS as RELEASES_CSS
from .releases import ArchiveAssistant, build_releases_tab
from .small_screens import HEAD as SMALL_SCREEN_HEAD
from .small_screens import fold_examples_once_asked

log = logging.getLogger(__name__)

_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")

EXAMPLES_FR = [
    "Qui a ouvert la réunion semestrielle de l'EMI avec les partenaires tenue fin 2024 ?",
    "Combien de pays partenaires ont participé à la réunion du 20 novembre 2024 ?",
    "Qu'est-ce que le mécanisme PAF-N présenté en juin 2024 ?",
    "Quand s'est tenue la réunion du Comité militaire en présence de Mark Rutte ?",
]
EXAMPLES_EN = [
    "Where did the informal workshops with partner nations take place in November 2022?",
    "How many Allied defence chiefs took part in the January 2025 Military Committee session?",
    "Which NATO body convened the virtual Chiefs of Defence session with operational partners in June 2024?",
    "What's a good recipe for Breton crêpes?",
]

CITED_LABEL = "Cited passages"
RELATED_LABEL = "Related passages (not an answer)"
ERROR_MESSAGE = "Something went wrong while answering this question; the details are in the server log."

CSS = """
#rag-header h1 { margin-bottom: 0.2em; }
button.rag-example { white-space: normal; text-align: left; justify-content: flex-start; font-weight: normal; }
.rag-status { font-size: 0.88em; color: var(--body-text-color-subdued); }
.rag-status code, .rag-panel-meta code { font-size: 0.92em; }
.rag-answer p, .rag-notice p { margin: 0 0 0.5em 0; }
.rag-context, .rag-note { font-size: 0.9em; color: var(--body-text-color-subdued); font-style: italic; }
.rag-marker { font: inherit; font-weight: 600; color: var(--link-text-color, #1d4ed8); background: none;
  border: none; padding: 0 1px; margin: 0; cursor: pointer; text-decoration: underline dotted; }
.rag-marker:hover, .rag-marker:focus-visible { background: #fde68a; color: #111; border-radius: 3px; }
.rag-sources-title { font-weight: 600; margin: 0.6em 0 0.2em 0 !important; }
ul.rag-citations, ul.rag-related { list-style: none; padding-left: 0; margin: 0; }
ul.rag-citations li, ul.rag-related li { margin: 0 0 0.5em 0; font-size: 0.92em; }
.rag-doc-title { font-weight: 600; }
.rag-offsets { color: var(--body-text-color-subdued); font-size: 0.9em; }
blockquote.rag-quote, blockquote.rag-snippet { margin: 0.25em 0 0 0.2em; padding: 0.1em 0.6em;
  border-left: 3px solid #f59e0b; font-style: italic; }
blockquote.rag-snippet { border-left-color: #93c5fd; }
.rag-abstain-text { color: #92400e; }
.dark .rag-abstain-text { color: #fcd34d; }
.rag-notice-error p { color: #b91c1c; }
.rag-notice-question p { color: #92400e; }
.rag-why { font-size: 0.85em; color: var(--body-text-color-subdued); }
.rag-panel { padding: 0.4em 0.2em; }
.rag-panel-empty, .rag-full-empty { color: var(--body-text-color-subdued); padding: 1em 0.4em; }
.rag-badge { display: inline-block; font-size: 0.8em; font-weight: 600; padding: 0.1em 0.5em; border-radius: 999px;
  background: #fef3c7; color: #92400e; }
.rag-badge-related { background: #dbeafe; color: #1e3a8a; }
.rag-panel-title { font-weight: 700; font-size: 1.05em; margin: 0.3em 0 0.1em 0; }
.rag-panel-meta { font-size: 0.85em; color: var(--body-text-color-subdued); margin-bottom: 0.5em; }
.rag-passage, .rag-full-text { white-space: pre-wrap; line-height: 1.55; }
.rag-full-text { max-height: 60vh; overflow-y: auto; padding-right: 0.4em; }
.rag-ellipsis { color: var(--body-text-color-subdued); }
mark.rag-hl-quote { background: #fde047; color: #111; padding: 0.05em 0.1em; border-radius: 2px; }
mark.rag-hl-related { background: #bfdbfe; color: #111; padding: 0.05em 0.1em; border-radius: 2px; }
"""

# Markers in chat messages are plain <button value="turn:kind:number"> elements: Gradio's sanitiser keeps
# `value` and drops handlers and data-* attributes. One listener on the document hands the clicked marker's key
# to a hidden button whose event switches the sources panel.
HEAD = """
<script>
document.addEventListener("click", (event) => {
  const marker = event.target.closest && event.target.closest("button.rag-marker[value]");
  if (!marker) return;
  event.preventDefault();
  window.ragSourceRequest = marker.value;
  document.getElementById("rag-source-go")?.click();
});
document.addEventListener("click", (event) => {
  if (!event.target.closest || !event.target.closest("#rag-full-release")) return;
  setTimeout(() => document.querySelector("#rag-full-release-text mark")?.scrollIntoView(
    {block: "center", behavior: "smooth"}), 250);
});
</script>
"""


class PageAssistant(ArchiveAssistant, Protocol):
    """What the page uses of `rag.assistant.Assistant`: its config, its releases, its status and `stream` (and,
    for the Releases tab, its embedder and `refresh`)."""

    def status(self) -> CorpusStatus: ...

    def stream(self, question: str, history: Sequence[str] = (), mode: str | None = None, top_k: int | None = None,
               answer_mode: str | None = None) -> Iterator[str | Answer]: ...


def _theme() -> gr.themes.Base:
    return gr.themes.Default(primary_hue="blue", secondary_hue="amber")


def _user(content: str) -> dict[str, str]:
    return {"role": "user", "content": content}


def _assistant(content: str) -> dict[str, str]:
    return {"role": "assistant", "content": content}


class ChatController:
    """What the page's events do, kept apart from the widgets so it can be tested without a browser."""

    def __init__(self, assistant: PageAssistant, allow_writes: bool = True) -> None:
        self.assistant = assistant
        self.allow_writes = allow_writes  # what an action that adds or removes releases must check first

    def status(self, last_answer_ms: float | None = None) -> str:
        s = self.assistant.status()
        return render.render_status(s.sources, s.documents, s.chunks, s.model_id, s.generation, last_answer_ms)

    def respond(self, question: str | None, transcript: list[dict[str, Any]] | None,
                answers: list[Answer] | None, retrieval_mode: str | None = None, top_k: float | None = None,
                answer_mode: str | None = None) -> Iterator[tuple[Any, ...]]:
        """Answer one question; yields (textbox, chat, picker, panel, full release, status, json, transcript,
        answers) -- several times when an LLM streams, once otherwise."""
        question = question or ""
        # A lone surrogate (from "\ud800" in the request's JSON) cannot be sent back to the browser, whose JSON
        # encoder refuses it: the page shows it as U+FFFD, and validate_question refuses the question.
        shown = _LONE_SURROGATE.sub("\ufffd", question)
        transcript = list(transcript or [])
        answers = list(answers or [])
        started = time.perf_counter()
        if question.strip():
            transcript.append(_user(render.render_question(shown)))
        try:
            validate_question(question, self.assistant.config.max_question_chars)
        except QuestionError as exc:
            # Keep an over-long question in the box so it can be shortened rather than retyped.
            transcript.append(_assistant(render.render_notice(str(exc), "question")))
            yield (shown, transcript, gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), transcript, answers)
            return

        yield ("", transcript + [_assistant(render.render_pending())], *[gr.skip()] * 5, transcript, answers)
        history = tuple(a.question for a in answers)
        final: Answer | None = None
        streamed = ""
        try:
            for piece in self.assistant.stream(question, history=history, mode=retrieval_mode or None,
                                               top_k=int(top_k) if top_k else None, answer_mode=answer_mode or None):
                if isinstance(piece, Answer):
                    final = piece
                else:
                    streamed += piece
                    yield ("", transcript + [_assistant(render.render_streaming(streamed))], *[gr.skip()] * 5,
                           transcript, answers)
            if final is None:
                raise RagError("the assistant returned no answer")
        except QuestionError as exc:
            transcript.append(_assistant(render.render_notice(str(exc), "question")))
        except RagError as exc:
            log.exception("answering %r failed", question[:200])
            transcript.append(_assistant(render.render_notice(f"The assistant could not answer: {exc}")))
        except Exception:
            log.exception("answering %r failed", question[:200])
            transcript.append(_assistant(render.render_notice(ERROR_MESSAGE)))
        if final is None:
            yield ("", transcript, gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), transcript, answers)
            return

        answers.append(final)
        turn = len(answers)
        transcript.append(_assistant(render.render_answer(final, turn)))
        elapsed_ms = (time.perf_counter() - started) * 1000
        sources = render.sources_of(final, turn)
        first = sources[0] if sources else None
        picker, panel, full = self._source_views(sources, first)
        details = {"turn": turn, "elapsed_ms": round(elapsed_ms, 1), **final.to_dict()}
        yield ("", transcript, picker, panel, full, self.status(elapsed_ms), details, transcript, answers)

    def _source_views(self, sources: Sequence[render.SourceRef],
                      chosen: render.SourceRef | None) -> tuple[dict[str, Any], str, str]:
        document = self.assistant.stored.documents.get(chosen.doc_id) if chosen else None
        related = bool(sources) and sources[0].kind == "related"
        picker = gr.update(choices=[(s.label, s.key) for s in sources], value=chosen.key if chosen else None,
                           label=RELATED_LABEL if related else CITED_LABEL)
        return picker, render.render_source_panel(document, chosen), render.render_full_release(document, chosen)

    def show_source(self, key: str | None, answers: list[Answer] | None) -> tuple[Any, str, str]:
        """Switch the panel to a citation (or related passage) of any answer of the conversation."""
        answers = list(answers or [])
        source = render.find_source(answers, key)
        if source is None:
            return gr.skip(), gr.skip(), gr.skip()
        return self._source_views(render.sources_of(answers[source.turn - 1], source.turn), source)

    @staticmethod
    def clear() -> tuple[Any, ...]:
        """(textbox, chat, picker, panel, full release, json, transcript, answers) for an empty conversation."""
        return ("", [], gr.update(choices=[], value=None, label=CITED_LABEL), render.render_panel_placeholder(),
                render.render_full_release(None, None), None, [], [])


def build_app(assistant: PageAssistant, allow_writes: bool = True) -> gr.Blocks:
    """The page; its queue lets `config.concurrency_limit` questions run at once.

    `allow_writes` False (a page reachable from other machines without a login) must leave out every action
    that changes the index or its releases; the page has none yet, so today it only reaches the controller."""
    controller = ChatController(assistant, allow_writes)
    config = assistant.config
    with gr.Blocks(title="NATO releases · cited answers", analytics_enabled=False) as app:
        transcript = gr.State([])
        answers = gr.State([])
        gr.Markdown(
            "# NATO press releases — cited answers\n"
            "Ask in French or English. Every answer quotes the releases: click a marker such as **[1]** to see "
            "the quoted words highlighted in their release.",
            elem_id="rag-header",
        )
        status = gr.HTML(controller.status(), elem_id="rag-status")
        with gr.Row(equal_height=False):
            with gr.Column(scale=6, min_width=420):
                chatbot = gr.Chatbot(
                    label="Conversation", show_label=False, elem_id="rag-chat", height=560, render_markdown=False,
                    sanitize_html=True, latex_delimiters=[], buttons=[], feedback_options=None,
                    placeholder="Ask a question about the releases, or pick an example below.",
                )
                with gr.Row():
                    question = gr.Textbox(
                        show_label=False, placeholder="Posez votre question… / Ask a question… (Enter to send)",
                        lines=1, max_lines=4, scale=8, elem_id="rag-question", autofocus=True,
                    )
                    send = gr.Button("Send", variant="primary", scale=1, min_width=80, elem_id="rag-send")
                    clear = gr.Button("Clear", scale=1, min_width=80, elem_id="rag-clear")
                # Buttons rather than gr.Examples, which cuts long questions: a click asks the whole question.
                example_buttons = []
                with gr.Accordion("Exemples · Examples", elem_id="rag-examples") as examples, gr.Row():
                    for heading, questions in (("Exemples", EXAMPLES_FR), ("Examples", EXAMPLES_EN)):
                        with gr.Column(min_width=260):
                            gr.Markdown(f"**{heading}**")
                            example_buttons += [gr.Button(q, size="sm", elem_classes=["rag-example"])
                                                for q in questions]
                with gr.Accordion("Settings", open=False, elem_id="rag-settings"):
                    retrieval_mode = gr.Radio(
                        ["hybrid", "dense", "lexical"], value=config.retrieval_mode, label="Retrieval mode",
                        info="hybrid fuses the multilingual model (dense) with BM25 keywords (lexical)",
                    )
                    top_k = gr.Slider(1, max(config.top_k, min(config.candidate_pool, 20)), value=config.top_k,
                                      step=1, label="Passages retrieved")
                    answer_mode = gr.Radio(
                        ["extractive", "llm"], value=config.answer_mode, label="Answer mode",
                        info="extractive quotes sentences; llm writes from the passages at the configured "
                             "endpoint (falls back to extractive when none is set)",
                    )
            with gr.Column(scale=5, min_width=360):
                gr.Markdown("### Sources")
                picker = gr.Radio(choices=[], label="Cited passages", elem_id="rag-source-picker")
                panel = gr.HTML(render.render_panel_placeholder(), elem_id="rag-source-panel")
                with gr.Accordion("Full cleaned release", open=False, elem_id="rag-full-release"):
                    full_release = gr.HTML(render.render_full_release(None, None), elem_id="rag-full-release-text")
                with gr.Accordion("Answer details (JSON)", open=False, elem_id="rag-details"):
                    details = gr.JSON(label="Answer", elem_id="rag-answer-json")
        source_request = gr.Textbox(visible="hidden", elem_id="rag-source-request")
        source_go = gr.Button(visible="hidden", elem_id="rag-source-go")

        ask_inputs = [question, transcript, answers, retrieval_mode, top_k, answer_mode]
        ask_outputs = [question, chatbot, picker, panel, full_release, status, details, transcript, answers]
        question.submit(controller.respond, ask_inputs, ask_outputs, api_name="ask", show_progress="minimal")
        send.click(controller.respond, ask_inputs, ask_outputs, api_visibility="undocumented",
                   show_progress="minimal")
        for button in example_buttons:  # a button's value is its label: the question
            button.click(controller.respond, [button, *ask_inputs[1:]], ask_outputs, api_visibility="undocumented",
                         show_progress="minimal")
        picker.input(lambda key, kept: controller.show_source(key, kept)[1:], [picker, answers],
                     [panel, full_release], api_name="show_source", show_progress="hidden")
        source_go.click(None, None, [source_request], js="() => window.ragSourceRequest || ''",
                        api_visibility="private", queue=False).then(
            controller.show_source, [source_request, answers], [picker, panel, full_release],
            api_visibility="private", show_progress="hidden")
        clear_outputs = [question, chatbot, picker, panel, full_release, details, transcript, answers]
        clear.click(controller.clear, None, clear_outputs, api_name="clear", queue=False)
        chatbot.clear(controller.clear, None, clear_outputs, api_visibility="private", queue=False)
        app.load(controller.status, None, [status], api_visibility="private", queue=False)
        fold_examples_once_asked(chatbot, examples)
        build_releases_tab(assistant, allow_writes=allow_writes)
    app.queue(default_concurrency_limit=config.concurrency_limit)
    return app


def launch(app: gr.Blocks, host: str, port: int, block: bool = True,
           auth: Sequence[tuple[str, str]] = ()) -> str:
    """Start the page on host:port (never shared) and return its local URL; with block=False it runs in the
    background until `app.close()`. With `auth` (user, password) pairs, Gradio asks for a login first."""
    try:
        _, url, _ = app.launch(
            server_name=host, server_port=port, share=False, prevent_thread_lock=True, quiet=True,
            css=CSS + RELEASES_CSS, head=HEAD + SMALL_SCREEN_HEAD, theme=_theme(), footer_links=["api"],
            run_history=False, show_error=False, auth=list(auth) or None,
            # No release file is bigger than this (rag.text.loading): a bigger upload is refused before it is
            # written to disk, not read and then skipped.
            max_file_size=largest_accepted_file(),
        )
    except (OSError, OverflowError) as exc:  # Gradio says "Cannot find empty port" for a busy port and a bad host
        raise ServeError(f"cannot listen on {page_url(host, port)} ({exc})") from None
    if block:
        app.block_thread()
    return str(url)


def serve(assistant: PageAssistant, address: ListenAddress | None = None,
          logins: Sequence[tuple[str, str]] = ()) -> None:
    """`rag serve`: listen at `address` (default: config.host:config.port, checked here) and print its URL.

    Anywhere but this machine the page warns with the addresses it is reachable at, and without a login it
    allows no page action that writes (see `build_app`)."""
    config = assistant.config
    address = address or listen_address(config.host, config.port)
    if not address.loopback:
        print(exposure_warning(address, bool(logins)), file=sys.stderr, flush=True)
    app = build_app(assistant, allow_writes=address.loopback or bool(logins))
    launch(app, address.host, address.port, block=False, auth=logins)
    print(f"Chat page: {address.page_url}  (Ctrl-C to stop)", flush=True)
    app.block_thread()
