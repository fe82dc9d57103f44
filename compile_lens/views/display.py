"""Views: the notebook display protocol for ``Trace`` (text fallback + an HTML overview).

Stage 4. ``Trace._repr_mimebundle_`` lands here: ``text/plain`` is the summary, ``text/html`` the
headline plus one collapsible block per explorer tab, in the report's style, without scripts (so it
shows the same in JupyterLab, VS Code and a static nbconvert page). ``include``/``exclude`` are
honoured as IPython asks. Both show a redacted copy of the trace (a notebook is shared with its
outputs) and stay small: long tables are cut at ``max_rows`` and repeated parts at the notebook
caps of ``views._limits`` (``NOTEBOOK``), each with a note.
"""

from __future__ import annotations

import html
from typing import Any

from compile_lens.model import TraceRecord
from compile_lens.model.safe_text import visible
from compile_lens.views._html import content_id, frame_table, hint
from compile_lens.views._limits import NOTEBOOK, cut_rows
from compile_lens.views._redact import redacted as redact_record

MAX_ROWS = 60


def _wanted(mime: str, include: Any, exclude: Any) -> bool:
    if include is not None and mime not in include:
        return False
    return not (exclude is not None and mime in exclude)


def trace_text(trace: Any, redacted: TraceRecord | None = None) -> str:
    """The plain-text form: ``repr`` plus the summary (of the redacted trace) once complete.

    Args:
        trace: the ``Trace``.
        redacted: its record already redacted, when the caller has it (saves a second pass).
    """
    if not trace.complete:
        return repr(trace)
    from compile_lens.analysis.summary import summarize

    record = redacted if redacted is not None else redact_record(trace.record)
    return visible(f"{trace!r}\n{summarize(record)}")


def _head(df: Any, what: str, max_rows: int) -> str:
    note = "" if len(df) <= max_rows else hint(f"first {max_rows} of {len(df)} rows; all of them: {what}")
    return note + frame_table(df.head(max_rows), scroll=True)


def trace_sections(record: TraceRecord, max_rows: int = MAX_ROWS) -> list[tuple[str, str]]:
    """The overview's blocks: headline, graph, pieces, passes, lowering, captures, factors."""
    from compile_lens.views import report, sections, tables, why_view

    limits = NOTEBOOK
    out = [("Overview", sections.overview(record, limits)
            + hint("t.explorer() opens the interactive explorer (plots, piece browser); "
                   "t.to_html('report.html') writes the one-file report."))]
    out.append(("Compiles", why_view.ledger_section(record, limits)))
    out.append(("Graph", report.graph_section(record, pieces=False, limits=limits)))
    out.append(("Pieces & keys", _head(tables.pieces_frame(record), "t.pieces", max_rows)))
    if record.passes:
        out.append(("Passes", sections.pass_table(record)))
    if record.lowerings:
        out.append(("Lowering", _head(tables.lowerings_frame(record), "t.lowerings", max_rows)))
    if record.captures:
        out.append(("CUDA graphs", sections.capture_table(record)))
    rows = sections.factor_rows(record)
    if rows:
        from compile_lens.views._html import table

        head, cut = cut_rows(rows, max_rows, "factors (secrets redacted)")
        out.append(("Factors", (hint(cut) if cut else "")
                    + table(["layer", "name", "value"], head, scroll=True)))
    from compile_lens.views.ranks_view import rank_section

    ranks_html, diverged = rank_section(record)
    if ranks_html:  # divergence first, as in the report
        out.insert(0 if diverged else 1, ("Ranks", ranks_html))
    return out


def trace_html(trace: Any, max_rows: int = MAX_ROWS, redacted: TraceRecord | None = None) -> str:
    """The ``text/html`` overview of a trace (a "recording…" line while it is still open)."""
    from compile_lens.views.page import render_fragment

    if not trace.complete:
        return f"<pre>{html.escape(repr(trace))}</pre>"
    record = redacted if redacted is not None else redact_record(trace.record)
    title = "compile_lens trace"
    sub = f"torch {record.run.torch_version} · {record.run.device}"
    frag = render_fragment(title, trace_sections(record, max_rows), subtitle=sub)
    return f'<div id="{content_id("cltrace", len(record.compiles), sub)}">{frag}</div>'


def trace_mimebundle(trace: Any, include: Any = None, exclude: Any = None) -> dict[str, str]:
    """``text/plain`` (the summary) and ``text/html`` (headline + tabs) for a ``Trace``."""
    bundle: dict[str, str] = {}
    record = redact_record(trace.record) if trace.complete else None  # once for both forms
    if _wanted("text/plain", include, exclude):
        bundle["text/plain"] = trace_text(trace, record)
    if _wanted("text/html", include, exclude):
        try:
            bundle["text/html"] = trace_html(trace, redacted=record)
        except Exception as exc:  # tolerant in notebooks: fall back to text, say why once
            import warnings

            warnings.warn(f"compile_lens: HTML display failed ({exc!r}); showing text",
                          stacklevel=2)
            bundle["text/html"] = f"<pre>{html.escape(trace_text(trace, record))}</pre>"
    return bundle
