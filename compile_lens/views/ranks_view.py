"""The report's "Ranks" section: which ranks compiled alike, and where they diverge.

Stage 4. Shown first in the report when ranks diverge (a rank that compiles differently can hang
a collective), after the overview when several ranks agree, not at all for one process.
"""

from __future__ import annotations

from compile_lens.analysis.ranks import divergence
from compile_lens.model import TraceRecord
from compile_lens.views._html import badge, esc, hint, table


def rank_section(record: TraceRecord) -> tuple[str, bool]:
    """``(html, diverged)``; ``("", False)`` for a trace of fewer than two ranks."""
    found = divergence(record)
    if len(found.ranks) < 2:
        return "", False
    if not found.diverged:
        return hint(f"{len(found.ranks)} ranks compiled alike: same compile ids, graphs, cache "
                    "hit/miss sequence and piece keys"), False
    parts = [f"<p>{badge('ranks diverge', 'bad')} {esc(len(found.ranks))} ranks; a rank that "
             "compiles differently can hang a collective. Compare two with "
             "<code>compile_lens.diff(t.rank(a), t.rank(b))</code>.</p>"]
    for aspect, groups in found.groups.items():
        parts.append(f"<h3>{esc(aspect)}</h3>")
        parts.append(table(["ranks", "what they did"],
                           [(", ".join(map(str, g.ranks)), g.what) for g in groups],
                           sortable=False))
    return "".join(parts), True
