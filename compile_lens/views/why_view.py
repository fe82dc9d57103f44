"""Views: the "why" block and the compile ledger (``Trace.compiles``, report, notebook, explorer).

Stage 4. ``compiles_frame`` is the ledger as a DataFrame (pandas imported lazily). ``why_block``
is the short answer every output opens with, each cause linking to its compile's details;
``ledger_section`` is the ledger table plus one folded details block per compile that has more
to say (torch's full guard-failure, graph-break and bypass texts). Everything from user code or
torch's messages is escaped through ``views._html``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from compile_lens.analysis.ledger import LedgerRow, ledger
from compile_lens.analysis.torch_text import one_line
from compile_lens.analysis.why import WhyItem, why
from compile_lens.model.trace import TraceRecord
from compile_lens.views._html import code_block, content_id, esc, fold, hint, table
from compile_lens.views._limits import REPORT, Limits, cut_rows, cut_text

if TYPE_CHECKING:
    import pandas as pd

COMPILE_COLUMNS = ["index", "kind", "compile_id", "name", "submod", "size", "cause", "why",
                   "seconds", "start_s", "guard", "changed", "user_line", "cache_size",
                   "graph_breaks", "caches", "graph_id", "process"]
TABLE_COLUMNS = ["#", "kind", "compile id", "name", "size", "cause", "why", "seconds"]


def _caches(row: LedgerRow) -> str:
    return "; ".join(f"{d.layer}:{d.answer}" + (f" {d.key}" if d.key else "")
                     for d in row.decisions)


def compile_rows(record: TraceRecord) -> list[dict[str, Any]]:
    """The ledger as plain dicts, one per compile, columns ``COMPILE_COLUMNS``."""
    return [{
        "index": r.index, "kind": r.kind, "compile_id": f"[{r.compile_id}]" if r.compile_id else "",
        "name": r.name, "submod": r.submod, "size": r.size, "cause": r.cause, "why": r.why,
        "seconds": round(r.seconds, 6), "start_s": r.start_s, "guard": r.guard,
        "changed": r.changed, "user_line": r.user_line, "cache_size": r.cache_size,
        "graph_breaks": "; ".join(r.graph_breaks), "caches": _caches(r), "graph_id": r.graph_id,
        "process": r.process,
    } for r in ledger(record)]


def compiles_frame(record: TraceRecord) -> pd.DataFrame:
    """``Trace.compiles``: every compile in time order with its cause."""
    from compile_lens.views.tables import _frame

    return _frame(compile_rows(record), COMPILE_COLUMNS)


def row_anchor(index: int) -> str:
    """DOM id of a compile's details block."""
    return content_id("compile", index)


def why_lines(record: TraceRecord) -> list[str]:
    """The why block as text (empty when there is nothing to explain)."""
    from compile_lens.analysis.why import why_text

    return why_text(why(record))


def _explained(row: LedgerRow) -> bool:
    return bool(row.reasons or row.graph_breaks or row.decisions or row.cause == "failed")


def detail_rows(rows: list[LedgerRow], limits: Limits = REPORT) -> list[LedgerRow]:
    """The rows that get a details block (and so an anchor): those with torch's texts, capped."""
    return [r for r in rows if _explained(r)][: limits.notes]


def _item(item: WhyItem, anchored: set[int]) -> str:
    first = item.rows[0]
    text = esc(item.text)
    if first in anchored:
        text = f'<a href="#{row_anchor(first)}">{text}</a>'
    extra = f' <span class="cl-hint">({item.seconds:.2f} s)</span>' if item.seconds else ""
    tip = f'<div class="cl-hint">hint: {esc(item.hint)}</div>' if item.hint else ""
    return f"<li>{text}{extra}{tip}</li>"


def why_block(record: TraceRecord, *, links: bool = True, limits: Limits = REPORT) -> str:
    """The short "why did it compile" answer; empty string when nothing needs explaining.

    Args:
        record: the trace.
        links: link each cause to its compile's details (where ``ledger_section`` is on the
            same page, with the same ``limits``).
        limits: the page's caps (which compiles have a details block to link to).
    """
    rows = ledger(record)
    items = why(record, rows)
    if not items:
        return ""
    anchored = {r.index for r in detail_rows(rows, limits)} if links else set()
    body = "".join(_item(i, anchored) for i in items)
    return f'<div class="cl-why"><h3>Why it compiled</h3><ul>{body}</ul></div>'


def _details(row: LedgerRow, limits: Limits) -> str:
    answers = [[d.layer, d.answer, d.key or "", one_line(d.reason)] for d in row.decisions]
    body = hint(f"user line: {row.user_line}") if row.user_line else ""
    if answers:
        body += table(["cache layer", "answer", "key", "reason"], answers, sortable=False,
                      short=[2])
    body += "".join(code_block(cut_text(t, limits.key_chars))
                    for t in [*row.reasons, *row.graph_breaks])
    label = f"#{row.index} {row.kind} {row.name} [{row.compile_id}] {row.size}".rstrip()
    return f'<div id="{row_anchor(row.index)}">{fold(f"{label}: {row.cause}", body)}</div>'


def ledger_section(record: TraceRecord, limits: Limits = REPORT) -> str:
    """The compile ledger: one row per compile, then the details of those torch explained."""
    rows = ledger(record)
    if not rows:
        return hint("no compiles recorded")
    shown, cut = cut_rows(rows, limits.rows, "compiles")
    cells = [[r.index, r.kind, r.compile_id, r.name, r.size, r.cause, r.why, round(r.seconds, 4)]
             for r in shown]
    tid = content_id("tbl", "compiles", len(rows))
    details = detail_rows(rows, limits)
    more = len([r for r in rows if _explained(r)]) - len(details)
    return (hint("every compile in time order with its cause; t.compiles is this table")
            + (hint(cut) if cut else "")
            + table(TABLE_COLUMNS, cells, table_id=tid, filterable=True, scroll=True)
            + "".join(_details(r, limits) for r in details)
            + (hint(f"{more} more compiles have details in the saved trace (t.compiles)")
               if more > 0 else ""))
