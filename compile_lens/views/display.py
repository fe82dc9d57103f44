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
from compile_lens.views._html import content_id
from compile_lens.views._limits import NOTEBOOK
from compile_lens.views._redact import redacted as redact_record

MAX_ROWS = 60


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


def trace_sections(record: TraceRecord, max_rows: int = MAX_ROWS) -> list[tuple[str, str]]:
    """The overview's blocks (``views.registry.SECTIONS`` that have something to show), compact:
    no figures, tables cut at ``max_rows``, repeated parts at the ``NOTEBOOK`` caps."""
    from compile_lens.views.registry import View, render_sections

    return render_sections(record, View("notebook", limits=NOTEBOOK, max_rows=max_rows))


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
    from compile_lens.views.mimebundle import mimebundle

    record = redact_record(trace.record) if trace.complete else None  # once for both forms
    return mimebundle(lambda: trace_text(trace, record),
                      lambda: trace_html(trace, redacted=record), include, exclude,
                      tolerant=True)
