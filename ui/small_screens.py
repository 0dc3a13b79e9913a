"""The chat page on a phone-wide window, where the sources panel falls below the chat, the examples and the
settings: a clicked marker brings its highlighted passage into view, and the examples fold away once a
conversation starts."""

from __future__ import annotations

from typing import Any

import gradio as gr

# After a marker click the panel is replaced by the server; the first <mark> that is not the one shown before the
# click is the passage asked for. Clicking the marker already shown changes nothing in the panel, hence the timed
# fallback. A passage already wholly on screen is left where it is (a wide window never scrolls).
HEAD = """
<script>
(() => {
  let asked = null;  // {at: click time, before: the <mark> shown when the marker was clicked}
  const panelMark = () => document.querySelector("#rag-source-panel mark");
  const reveal = (mark) => {
    const box = mark.getBoundingClientRect();
    if (box.top >= 0 && box.bottom <= window.innerHeight) return;
    mark.scrollIntoView({block: box.height > window.innerHeight ? "start" : "center", behavior: "smooth"});
  };
  document.addEventListener("click", (event) => {
    if (!event.target.closest || !event.target.closest("button.rag-marker[value]")) return;
    const request = {at: Date.now(), before: panelMark()};
    asked = request;
    setTimeout(() => {
      const mark = panelMark();
      if (asked === request && mark) { asked = null; reveal(mark); }
    }, 2000);
  }, true);
  new MutationObserver(() => {
    if (!asked) return;
    const mark = panelMark();
    if (Date.now() - asked.at > 10000) { asked = null; return; }
    if (mark && mark !== asked.before && mark.isConnected) { asked = null; reveal(mark); }
  }).observe(document.documentElement, {childList: true, subtree: true});
})();
</script>
"""


def examples_open(transcript: list[Any] | None) -> Any:
    """Open with an empty conversation, folded by its first question; later turns leave it as the reader set it."""
    messages = len(transcript or [])
    return gr.Accordion(open=messages == 0) if messages <= 2 else gr.skip()


def fold_examples_once_asked(chatbot: gr.Chatbot, examples: gr.Accordion) -> None:
    """Fold the examples when the conversation starts, open them again when it is cleared."""
    chatbot.change(examples_open, [chatbot], [examples], api_visibility="private", queue=False,
                   show_progress="hidden")
