"""Text made safe to print on a terminal: release text, titles, ids and file names are data, never commands.

A release (or a file name) may carry escape sequences that set the window title, clear the screen or hide
what follows, and a newline in a file name would break a one-line citation. Everything the CLI prints that
comes from the releases, their files or an error about them goes through `for_terminal`.
"""

from __future__ import annotations

import json
import re
from typing import Any

# ESC sequences whole (CSI "\x1b[2J", OSC "\x1b]0;title\x07", two-character ones like "\x1bc"), then any single
# control character left: C0 (tab and newline are judged apart), DEL and C1 (U+0080-U+009F, which some
# terminals read as ESC sequences too), and the Unicode line and paragraph separators.
_ESCAPE_SEQUENCE = re.compile(
    r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[PX^_][^\x1b]*(?:\x1b\\)?|[ -/]*[0-~])"
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
_FIELD_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")
_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _visible_escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED_ESCAPES:
        return _NAMED_ESCAPES[char]
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte of a file name that is not UTF-8, kept by surrogateescape
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def for_terminal(text: str, one_line: bool = False) -> str:
    """`text` with nothing a terminal would execute.

    Prose (an answer, a quote, a report line): escape sequences and control characters are dropped, a carriage
    return becomes a line break, newlines and tabs stay. One field (`one_line`: a file name, an id, a title, a
    one-line message): every control character, newlines included, is shown as a visible escape such as `\\n`
    or `\\x1b`, so the field stays on its line and a strange name can still be recognised.
    Characters that cannot be encoded (lone surrogates) become U+FFFD in prose and `\\xNN` in a field.
    """
    if one_line:
        return _FIELD_CONTROL.sub(_visible_escape, text)
    text = _ESCAPE_SEQUENCE.sub("", text).replace("\r\n", "\n").replace("\r", "\n")
    return _LONE_SURROGATE.sub("\ufffd", _CONTROL.sub("", text))


# JSON escapes C0 itself; with ensure_ascii=False it leaves these raw.
_RAW_IN_JSON = re.compile(r"[\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def json_for_terminal(value: Any) -> str:
    """`value` as indented JSON that keeps its accents readable yet carries no raw control character: the ones
    JSON leaves raw are written as \\u escapes, so a JSON reader gets back exactly the same strings."""
    text = json.dumps(value, ensure_ascii=False, indent=2)
    return _RAW_IN_JSON.sub(lambda match: f"\\u{ord(match.group()):04x}", text)
