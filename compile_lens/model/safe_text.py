"""Model: make control characters from a trace visible before text reaches a terminal or a page.

Stage 2 (model): stdlib only, shared by the text outputs (summary, cross-check, diff, CLI errors)
and the HTML escaping of the views. A trace is user data: a note, an env-var name or a submodule
name may hold ``ESC`` sequences (clear the screen, recolour, OSC 52 clipboard writes, OSC 8 links)
or bidi controls that reorder what a reader sees (``U+202E``). They are never passed through:
``visible`` writes them as ``\\x1b`` / ``\\u202e`` escapes, ``html_visible`` as ``⟨U+202E⟩``.
Newlines and tabs are kept.
"""

from __future__ import annotations

import re

BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
"""Bidi controls: marks, embeddings, overrides and isolates (the Trojan Source set)."""

_INVISIBLE = "\u200b\u200c\u200d\u2028\u2029\u2060\ufeff"
"""Zero-width characters and line/paragraph separators a terminal or a page may hide or obey."""

_CONTROL = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f" + BIDI + _INVISIBLE + "]"
)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _mark(match: re.Match[str]) -> str:
    return f"⟨U+{ord(match.group()):04X}⟩"


def visible(text: str) -> str:
    """``text`` with every control character (but newline and tab) written as an escape.

    ``"\\x1b[2J"`` becomes ``"\\\\x1b[2J"``: the reader sees that the trace held an escape, and the
    terminal does not act on it. Used for everything compile_lens prints.
    """
    return _CONTROL.sub(_escape, text) if _CONTROL.search(text) else text


def html_visible(text: str) -> str:
    """``text`` with control and bidi characters shown as ``⟨U+202E⟩`` (for escaped HTML)."""
    return _CONTROL.sub(_mark, text) if _CONTROL.search(text) else text


def one_line(message: object) -> str:
    """An error message as one visible line (whitespace runs folded, controls escaped)."""
    return visible(" ".join(str(message).split()))
