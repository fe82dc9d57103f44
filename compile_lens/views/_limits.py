"""Views: how much of a trace a page or a notebook output carries, and the notes where it stops.

Stage 4, stdlib only. A trace can be hundreds of megabytes (every key's factor lines, every
piece's code); the report and the notebook display stay small by showing the first rows and
characters of each repeated part and saying, in place, how much more is in the saved trace. The
caps sit well above the 80-layer goal trace (``tests/fixtures/synthetic.py``), which shows whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Limits:
    """Caps on what one HTML output carries (rows per table, characters per text block …)."""

    rows: int = 2000
    """Rows of one table (pieces, lowerings, factors)."""
    code: int = 150_000
    """Characters of one graph's code or decompiled bytecode."""
    piece_code: int = 6_000
    """Characters of one piece's code in its panel."""
    piece_nodes: int = 80
    """Rows of one piece's node table."""
    panels: int = 400
    """Piece panels (all graphs together)."""
    graphs: int = 8
    """Graphs drawn with their panels and code; the rest are listed."""
    drawn_pieces: int = 800
    """Pieces of one graph drawn as boxes; above this the drawing is left out."""
    key_blocks: int = 120
    """Distinct keys whose factor lines are shown."""
    key_chars: int = 12_000
    """Characters of one key's factor lines (and of one side of a mismatch)."""
    mismatches: int = 10
    """Key-mismatch blocks."""
    notes: int = 100
    """Notes and instrumentation issues."""
    spans: int = 4000
    """Bars of the compile timeline."""
    categories: int = 500
    """Pieces (categories) on one plot axis."""


REPORT = Limits()
NOTEBOOK = Limits(rows=60, code=20_000, piece_code=4_000, piece_nodes=40, panels=0, graphs=3,
                  key_blocks=0, notes=20)


def cut_text(text: str, limit: int) -> str:
    """``text`` up to ``limit`` characters, then one line saying how much more there is."""
    if len(text) <= limit:
        return text
    cut = text.rfind("\n", 0, limit)
    cut = cut if cut > limit // 2 else limit
    more = len(text) - cut
    return (f"{text[:cut]}\n… {more:,} more characters; the full text is in the saved trace "
            "(compile_lens.load(path).record)")


def cut_rows(rows: Sequence[T], limit: int, what: str) -> tuple[list[T], str]:
    """The first ``limit`` rows and a note (empty when nothing was cut)."""
    if len(rows) <= limit:
        return list(rows), ""
    note = (f"showing the first {limit:,} of {len(rows):,} {what}; all rows are in the saved "
            "trace (compile_lens.load(path) and its DataFrames)")
    return list(rows[:limit]), note
