"""Views: the one-file HTML report of a trace (``Trace.to_html``, ``compile-lens report``).

Stage 4. ``render`` is a pure function: trace in, one self-contained HTML string out (plotly.js and
CSS embedded once, graphs inline as SVG, no network, secrets redacted, the same trace always gives
the same bytes). ``write_html`` and ``cli_report`` add the file I/O around it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from compile_lens.errors import CompileLensError
from compile_lens.model import TraceRecord
from compile_lens.record.open import read_any
from compile_lens.views import plots, sections
from compile_lens.views._assets import plotly_js
from compile_lens.views._html import code_block, esc, fold, hint
from compile_lens.views.page import render_page
from compile_lens.views.ranks_view import rank_section


def _record(trace: Any) -> TraceRecord:
    record = getattr(trace, "record", trace)
    if not isinstance(record, TraceRecord):
        msg = f"compile_lens: expected a Trace or TraceRecord, got {type(trace).__name__}"
        raise CompileLensError(msg)
    return record


def graph_section(record: TraceRecord, *, use_dot: bool = True, pieces: bool = True) -> str:
    """Per Dynamo graph: the split graph (click a piece), piece panels, code and bytecode.

    Args:
        record: the trace.
        use_dot: draw with Graphviz when installed.
        pieces: add the piece selector and per-piece panels (needs the page's script).
    """
    if not record.graphs:
        return hint("no Dynamo graph was recorded")
    return "".join(_one_graph(record, g, use_dot=use_dot, pieces=pieces) for g in record.graphs)


def _one_graph(record: TraceRecord, graph: Any, *, use_dot: bool, pieces: bool) -> str:
    from compile_lens.views.graph_render import render_svg
    from compile_lens.views.graphs import split_drawing

    drawing = split_drawing(record, graph)
    svg, why = render_svg(drawing, use_dot=use_dot)
    shown = next((p.submod for p in drawing.pieces if not p.is_split_op), None)
    options = "".join(
        f'<option value="{esc(p.submod)}"{" selected" if p.submod == shown else ""}>'
        f"{esc(sections.piece_label(p))}</option>"
        for p in drawing.pieces
    )
    details = "".join(
        sections.piece_detail(record, graph, p, shown=p.submod == shown,
                              members=drawing.members.get(p.submod, []))
        for p in drawing.pieces
    ) if pieces else ""
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
        + code_block(graph.code or "(no code recorded)", summary="Dynamo graph code")
        + code_block(graph.bytecode_source or f"(not available: {graph.bytecode_note or 'n/a'})",
                     summary="transformed bytecode, decompiled by depyf")
    )


def _plot(fig_fn: Any, record: TraceRecord, name: str, *args: Any) -> str:
    return f'<div class="cl-plot">{plots.figure_html(fig_fn(record, *args), name)}</div>'


def build_sections(record: TraceRecord, *, redact: bool = True,
                   use_dot: bool = True) -> list[tuple[str, str]]:
    """The report's sections, in the explorer's tab order."""
    out = [("Overview", sections.overview(record) + _plot(plots.timeline_figure, record, "tl")),
           ("Graph", graph_section(record, use_dot=use_dot)),
           ("Pieces & keys", sections.pieces_and_keys(record, redact=redact))]
    if record.passes:
        out.append(("Passes", _plot(plots.passes_bar_figure, record, "pb")
                    + _plot(plots.passes_heatmap_figure, record, "ph")
                    + sections.pass_table(record)))
    else:
        out.append(("Passes", hint("no pass timings recorded")))
    if record.lowerings:
        out.append(("Lowering", _plot(plots.lowering_figure, record, "lw")
                    + sections.lowering_table(record)))
    else:
        out.append(("Lowering", hint("no lowering choices recorded")))
    if record.captures:
        out.append(("CUDA graphs", _plot(plots.captures_figure, record, "cs", "seconds")
                    + _plot(plots.captures_figure, record, "cm", "memory_bytes")
                    + sections.capture_table(record)))
    else:
        out.append(("CUDA graphs", hint("no CUDA-graph captures in this trace")))
    out.append(("Factors", sections.factors(record, redact=redact)))
    ranks_html, diverged = rank_section(record)
    if ranks_html:  # divergence first; ranks that agree after the overview
        out.insert(0 if diverged else 1, ("Ranks", ranks_html))
    return out


def render(trace_record: Any, *, title: str | None = None, redact: bool = True,
           use_dot: bool = True) -> str:
    """The whole report as one self-contained HTML string.

    Args:
        trace_record: a ``TraceRecord`` or a ``compile_lens.Trace``.
        title: page title (default: ``compile_lens report``).
        redact: replace secret-looking env values and tokens with ``<redacted>``.
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


def cli_report(trace_path: str | Path, out_path: str | Path, strict: bool = False) -> int:
    """Body of ``compile-lens report TRACE.json -o report.html``; returns the exit code.

    Exit codes: 0 written; 2 the trace could not be read (message on stderr); 1 with ``strict``
    when the trace holds instrumentation issues or fields this version does not know (the report
    is still written).
    """
    try:
        record = read_any(trace_path)  # a saved trace, a TORCH_TRACE log or a directory of logs
    except CompileLensError as exc:
        print(f"compile-lens report: {exc}", file=sys.stderr)
        return 2
    write_html(record, out_path)
    print(f"wrote {out_path}")
    problems = _strict_problems(record)
    if strict and problems:
        for line in problems:
            print(f"compile-lens report --strict: {line}", file=sys.stderr)
        return 1
    return 0


def _strict_problems(record: TraceRecord) -> list[str]:
    out = [f"instrumentation issue in {i.hook}: {i.message}" for i in record.issues]
    if record.extra:
        out.append(f"unknown top-level fields: {', '.join(sorted(record.extra))}")
    return out


__all__ = ["build_sections", "cli_report", "fold", "graph_section", "render", "write_html"]
