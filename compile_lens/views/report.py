"""Views: the one-file HTML report of a trace (``Trace.to_html``, ``compile-lens report``).

Stage 4. ``render`` is a pure function: trace in, one self-contained HTML string out (plotly.js and
CSS embedded once, graphs inline as SVG, no network, secrets redacted, the same trace always gives
the same bytes). ``write_html`` adds the file I/O around it (``compile-lens report`` is ``cli.cli_report``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from compile_lens.errors import CompileLensError
from compile_lens.model import TraceRecord
from compile_lens.views import plots, sections
from compile_lens.views._assets import plotly_js
from compile_lens.views._html import code_block, esc, fold, hint, table
from compile_lens.views._limits import REPORT, Limits
from compile_lens.views._redact import shown as _shown
from compile_lens.views.page import render_page


def _record(trace: Any) -> TraceRecord:
    record = getattr(trace, "record", trace)
    if not isinstance(record, TraceRecord):
        msg = f"compile_lens: expected a Trace or TraceRecord, got {type(trace).__name__}"
        raise CompileLensError(msg)
    return record


def graph_section(record: TraceRecord, *, use_dot: bool = True, pieces: bool = True,
                  limits: Limits = REPORT) -> str:
    """Per Dynamo graph: the split graph (click a piece), piece panels, code and bytecode.

    Args:
        record: the trace.
        use_dot: draw with Graphviz when installed.
        pieces: add the piece selector and per-piece panels (needs the page's script).
        limits: how many graphs are drawn and panels built; the rest are listed in a table.
    """
    if not record.graphs:
        return hint("no Dynamo graph was recorded")
    drawn = record.graphs[: limits.graphs]
    panels = [limits.panels if pieces else 0]
    out = "".join(_one_graph(record, g, use_dot=use_dot, panels=panels, limits=limits)
                  for g in drawn)
    rest = record.graphs[limits.graphs:]
    if rest:
        out += hint(f"{len(rest)} more graph(s), not drawn (the page shows the first "
                    f"{limits.graphs}); they are in the saved trace and in Trace.graphs")
        out += table(["graph", "compile id", "name", "nodes"],
                     [(g.id, g.compile_id, g.name, len(g.nodes)) for g in rest[: limits.rows]])
    return out


def _one_graph(record: TraceRecord, graph: Any, *, use_dot: bool, panels: list[int],
               limits: Limits) -> str:
    from compile_lens.views.graph_render import render_svg
    from compile_lens.views.graphs import split_drawing

    drawing = split_drawing(record, graph)
    if len(drawing.pieces) > limits.drawn_pieces:
        svg, why = "", (f"{len(drawing.pieces)} pieces are too many to draw here "
                        f"(limit {limits.drawn_pieces}); the pieces table lists them")
    else:
        svg, why = render_svg(drawing, use_dot=use_dot)
    pieces = panels[0] > 0
    with_panel = drawing.pieces[: panels[0]]
    panels[0] -= len(with_panel)
    first = next((p.submod for p in with_panel if not p.is_split_op), None)
    options = "".join(
        f'<option value="{esc(p.submod)}"{" selected" if p.submod == first else ""}>'
        f"{esc(sections.piece_label(p))}</option>"
        for p in with_panel
    )
    details = "".join(
        sections.piece_detail(record, graph, p, shown=p.submod == first,
                              members=drawing.members.get(p.submod, []), limits=limits)
        for p in with_panel
    ) if pieces else ""
    if pieces and len(with_panel) < len(drawing.pieces):
        details += hint(f"panels for the first {len(with_panel)} of {len(drawing.pieces)} pieces; "
                        "the rest are in the pieces table and the saved trace")
    picker = f'<p><select class="cl-piece-select" aria-label="piece">{options}</select></p>'
    how = "Click a piece or pick it beside the graph." if pieces else ""
    scope = "node level" if drawing.node_level else f"one box per piece ({len(graph.nodes)} nodes)"
    if drawing.hidden and drawing.node_level:
        scope += f", {len(drawing.hidden)} weight/size inputs not drawn"
    groups = len({g.label for g in drawing.groups.values()})
    return (
        f"<h3>{esc(graph.name or graph.id)} [{esc(graph.compile_id)}] "
        f"backend {esc(graph.backend)}</h3>"
        + hint(f"{len(drawing.pieces)} pieces, {groups} dedup group(s) shown in one colour each, "
               f"split ops in red; drawn {scope}. {how}")
        + (hint(why) if why else "")
        + ('<p><button type="button" class="cl-btn" data-zoom>actual size</button></p>'
           if pieces else "")
        + (f'<div class="cl-graph-row"><div class="cl-graph">{svg}</div><div>{picker}{details}'
           "</div></div>" if pieces else f'<div class="cl-graph">{svg}</div>')
        + code_block(graph.code or "(no code recorded)", summary="Dynamo graph code",
                     limit=limits.code)
        + code_block(graph.bytecode_source or f"(not available: {graph.bytecode_note or 'n/a'})",
                     summary="transformed bytecode, decompiled by depyf", limit=limits.code)
    )


def _figure(spec: Any, name: str) -> str:
    return f'<div class="cl-plot">{plots.figure_html(spec, name)}</div>'


def build_sections(record: TraceRecord, *, redact: bool = True, use_dot: bool = True,
                   limits: Limits = REPORT) -> list[tuple[str, str]]:
    """The report's sections (``views.registry.SECTIONS``, in the explorer's tab order), of a
    redacted copy unless ``redact`` is false; long parts cut at ``limits``."""
    from compile_lens.views.registry import View, render_sections

    view = View("report", limits=limits, use_dot=use_dot, redacted=redact)
    return render_sections(_shown(record, redact), view, figure=_figure)


def render(trace_record: Any, *, title: str | None = None, redact: bool = True,
           use_dot: bool = True) -> str:
    """The whole report as one self-contained HTML string.

    Args:
        trace_record: a ``TraceRecord`` or a ``compile_lens.Trace``.
        title: page title (default: ``compile_lens report``).
        redact: replace secrets (env values, their config copies, token-shaped strings in any
            field) with keyed fingerprints (docs/security.md); ``False`` shows them.
        use_dot: draw graphs with Graphviz when installed (``False`` forces the plain layout).

    Returns:
        The HTML; rendering the same trace twice gives byte-identical output.
    """
    record = _record(trace_record)
    r = record.run
    subtitle = " · ".join(x for x in (f"torch {r.torch_version}" if r.torch_version else "",
                                       r.device, r.started_at) if x)
    head = f'<script type="text/javascript">{plotly_js()}</script>\n'
    body = build_sections(record, redact=redact, use_dot=use_dot)
    return render_page(title or "compile_lens report", body, subtitle=subtitle, head=head)


def write_html(record: Any, path: str | Path | None = None, **kwargs: Any) -> str:
    """Render the report; also write it to ``path`` when given. Returns the HTML."""
    text = render(record, **kwargs)
    if path is not None:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    return text


__all__ = ["build_sections", "fold", "graph_section", "render", "write_html"]
