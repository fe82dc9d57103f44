"""Views: small HTML building blocks shared by the report, the page template and notebook output.

Stage 4: stdlib only. Everything that came from user code goes through ``esc``; DOM ids come from
a content hash (``content_id``) so the same trace always renders the same bytes.
"""

from __future__ import annotations

import hashlib
import html
import math
from collections.abc import Iterable, Sequence
from typing import Any

from compile_lens.model.safe_text import html_visible
from compile_lens.views._limits import REPORT, cut_text


def esc(value: Any) -> str:
    """HTML-escape ``str(value)`` (quotes included); ``None`` becomes an empty string.

    Control and bidi characters are shown as ``⟨U+202E⟩``: a trace must not reorder or hide
    what the reader sees (Trojan Source).
    """
    return "" if value is None else html.escape(html_visible(str(value)), quote=True)


def content_id(prefix: str, *parts: Any) -> str:
    """A deterministic DOM id: ``prefix`` plus a short hash of ``parts``."""
    digest = hashlib.sha1("\x1f".join(map(str, parts)).encode("utf-8")).hexdigest()[:10]
    return f"{prefix}-{digest}"


def fmt(value: Any) -> str:
    """Format a cell value for display: floats to 4 significant places, lists comma-joined."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value))
    return str(value)


MAX_CELL = 4000
"""Characters of one table cell; a longer value is cut with a note (the trace keeps it whole)."""


def _cell(value: Any, short: int = 0) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f'<td class="cl-n" data-v="{value!r}">{esc(fmt(value))}</td>'
    text = fmt(value)
    if len(text) > MAX_CELL:
        text = f"{text[:MAX_CELL]}… ({len(text) - MAX_CELL:,} more characters)"
    if short and len(text) > short:
        return (f'<td data-v="{esc(text)}"><span class="cl-key" title="{esc(text)}">'
                f"{esc(text[:short])}…</span></td>")
    return f"<td>{esc(text)}</td>"


def table(
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    table_id: str = "",
    sortable: bool = True,
    filterable: bool = False,
    scroll: bool = False,
    short: Sequence[int] = (),
) -> str:
    """An escaped HTML table, optionally sortable (click a header) and filterable (search box).

    Args:
        columns: header labels.
        rows: cell values, one sequence per row (numbers are right-aligned and sort numerically).
        table_id: DOM id (needed for ``filterable``); derive it with ``content_id``.
        sortable: add the class the report's script sorts on.
        filterable: put a search box above the table.
        scroll: wrap the table in a scroll box (long tables).
        short: indices of columns (cache keys) shown shortened, the full text on hover.
    """
    cls = "cl-table cl-sortable" if sortable else "cl-table"
    id_attr = f' id="{esc(table_id)}"' if table_id else ""
    head = "".join(f"<th>{esc(c)}</th>" for c in columns)
    cut = {i: 14 for i in short}
    body = "".join(
        "<tr>" + "".join(_cell(v, cut.get(i, 0)) for i, v in enumerate(row)) + "</tr>"
        for row in rows
    )
    out = (
        f'<table class="{cls}"{id_attr}><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table>"
    )
    if scroll:
        out = f'<div class="cl-scroll">{out}</div>'
    if filterable and table_id:
        box = (
            f'<input class="cl-filter" type="search" placeholder="filter rows…" '
            f'aria-label="filter rows" data-filter-for="{esc(table_id)}" '
            f'data-count="{esc(table_id)}-count"> <span class="cl-hint" id="{esc(table_id)}-count">'
            "</span>"
        )
        out = box + out
    return out


def frame_table(df: Any, **kwargs: Any) -> str:
    """``table`` for a pandas DataFrame (values escaped; NaN shown empty)."""
    columns = [str(c) for c in df.columns]
    rows = (
        [None if _isnan(v) else v for v in row] for row in df.itertuples(index=False, name=None)
    )
    return table(columns, rows, **kwargs)


def _isnan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def code_block(text: str, *, summary: str = "", open_: bool = False,
               limit: int = REPORT.code) -> str:
    """Escaped source in a ``<pre>``; with ``summary`` it is folded under a ``<details>``.

    Text beyond ``limit`` characters is cut with a line saying how much more the trace holds.
    """
    pre = f'<pre class="cl-code">{esc(cut_text(text, limit))}</pre>'
    if not summary:
        return pre
    return fold(summary, pre, open_=open_)


def fold(summary: str, body_html: str, *, open_: bool = False) -> str:
    """A collapsible block; ``summary`` is plain text (escaped), ``body_html`` already HTML."""
    attr = " open" if open_ else ""
    return f'<details class="cl-fold"{attr}><summary>{esc(summary)}</summary>{body_html}</details>'


def cards(items: Iterable[tuple[str, Any]]) -> str:
    """Headline number cards: ``(label, value)`` pairs."""
    inner = "".join(
        f'<div class="cl-card"><div class="cl-num">{esc(fmt(v))}</div>'
        f'<div class="cl-lbl">{esc(label)}</div></div>'
        for label, v in items
    )
    return f'<div class="cl-cards">{inner}</div>'


def badge(text: str, kind: str = "") -> str:
    """A small pill; ``kind`` is ``ok``, ``bad``, ``warn`` or empty."""
    cls = f"cl-badge cl-{kind}" if kind else "cl-badge"
    return f'<span class="{cls}">{esc(text)}</span>'


def hint(text: str) -> str:
    """A muted one-line note (escaped)."""
    return f'<p class="cl-hint">{esc(text)}</p>'
