"""Views: plotly figures of a trace (compile timeline, pass timings, CUDA-graph captures).

Stage 4: plotly is imported inside functions only. Figures are plain ``go.Figure`` objects: the
notebook shows them directly, the report embeds them with ``figure_html`` (plotly.js embedded once
by the page, deterministic ``div`` ids from a content hash).
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from compile_lens.errors import missing_dependency
from compile_lens.model import TraceRecord
from compile_lens.views._html import content_id

if TYPE_CHECKING:
    import plotly.graph_objects as go

CATEGORY_COLORS = {"dynamo": "#8250df", "split": "#bf8700", "key": "#0969da",
                   "compile": "#1a7f37", "load": "#57ab5a", "dedup": "#4ac26b",
                   "cache_hit": "#2da44e", "capture": "#bc4c00", "tracer": "#8c959f"}
TRACER_ROW = "compile_lens (tracer)"
_LAYOUT = {"template": "plotly_white", "margin": {"l": 10, "r": 10, "t": 40, "b": 10},
           "font": {"size": 11}}


def _go() -> Any:
    try:
        import plotly.graph_objects as go
    except ImportError:
        err = missing_dependency("plotly", "compile_lens plots")
        raise err from None
    return go


def _timeline_rows(record: TraceRecord) -> list[tuple[str, str, float, float, str]]:
    """``(row, category, start, duration, hover)`` per span; compiles stand in when no spans."""
    if record.spans:
        rows = [
            (TRACER_ROW if s.category == "tracer" else (s.submod or s.category),
             s.category, s.start_s, max(s.end_s - s.start_s, 0.0), s.name)
            for s in record.spans
        ]
    else:
        rows = [
            (c.submod, "compile" if c.outcome == "compiled" else "load", c.start_s or 0.0,
             c.seconds, f"{c.submod} [{c.size}] {c.outcome}")
            for c in record.compiles
        ]
    overhead = record.run.tracer_overhead_s
    if overhead > 0 and not any(r[1] == "tracer" for r in rows):  # spread over the run: a total
        rows.append((TRACER_ROW, "tracer", 0.0, overhead,
                     "compile_lens' own time, total (spread over the run)"))
    return rows


def timeline_figure(record: TraceRecord) -> go.Figure:
    """Compile timeline from Dynamo to the last piece; the tracer's own time on its own row."""
    go = _go()
    by_cat: dict[str, list[tuple[str, float, float, str]]] = defaultdict(list)
    order: dict[str, None] = {}
    for row, cat, start, dur, hover in _timeline_rows(record):
        by_cat[cat].append((row, start, dur, hover))
        order.setdefault(row, None)
    traces = [
        go.Bar(orientation="h", name=cat, y=[r[0] for r in rows], base=[r[1] for r in rows],
               x=[r[2] for r in rows], hovertext=[r[3] for r in rows],
               marker_color=CATEGORY_COLORS.get(cat, "#6e7781"),
               hovertemplate="%{hovertext}<br>start %{base:.3f} s, %{x:.3f} s<extra></extra>")
        for cat, rows in sorted(by_cat.items())
    ]
    fig = go.Figure(traces)
    overhead = record.run.tracer_overhead_s
    fig.update_layout(**_LAYOUT, barmode="overlay",
                      title=f"Compile timeline (tracer's own time: {overhead:.3f} s)",
                      height=min(160 + 14 * len(order), 1400), xaxis_title="seconds since start",
                      yaxis={"autorange": "reversed", "categoryorder": "array",
                             "categoryarray": list(order)})
    return fig


def _pass_matrix(record: TraceRecord) -> tuple[list[str], list[str], dict[tuple[str, str], float]]:
    pieces: dict[str, None] = {}
    names: dict[str, None] = {}
    cells: dict[tuple[str, str], float] = defaultdict(float)
    for p in record.passes:
        piece = p.submod if len(record.graphs) <= 1 else f"{p.graph_id}:{p.submod}"
        pieces.setdefault(piece, None)
        names.setdefault(p.name, None)
        cells[(piece, p.name)] += p.seconds
    return list(pieces), list(names), cells


def passes_bar_figure(record: TraceRecord) -> go.Figure:
    """Stacked bars: seconds per pass per piece (summed over compile sizes)."""
    go = _go()
    pieces, names, cells = _pass_matrix(record)
    traces = [go.Bar(name=n, x=pieces, y=[round(cells.get((p, n), 0.0), 6) for p in pieces])
              for n in names]
    fig = go.Figure(traces)
    fig.update_layout(**_LAYOUT, barmode="stack", title="Inductor pass time per piece",
                      yaxis_title="seconds", height=460, legend={"font": {"size": 9}})
    return fig


def passes_heatmap_figure(record: TraceRecord) -> go.Figure:
    """Heat map piece by pass (seconds, summed over compile sizes)."""
    go = _go()
    pieces, names, cells = _pass_matrix(record)
    z = [[round(cells.get((p, n), 0.0), 6) for p in pieces] for n in names]
    fig = go.Figure(go.Heatmap(z=z, x=pieces, y=names, colorscale="Blues",
                               colorbar={"title": "s"},
                               hovertemplate="%{y} on %{x}: %{z:.4f} s<extra></extra>"))
    fig.update_layout(**_LAYOUT, title="Pass time: piece by pass",
                      height=max(260, 18 * len(names) + 120))
    return fig


def captures_figure(record: TraceRecord, metric: str = "seconds") -> go.Figure:
    """Heat map capture size by piece of ``seconds`` or ``memory_bytes``."""
    go = _go()
    pieces = list(dict.fromkeys(c.submod for c in record.captures))
    sizes = sorted({c.size for c in record.captures})
    cells = {(c.size, c.submod): getattr(c, metric) for c in record.captures}
    z = [[cells.get((s, p)) for p in pieces] for s in sizes]
    label = "MiB" if metric == "memory_bytes" else "s"
    if metric == "memory_bytes":
        z = [[None if v is None else round(v / 2**20, 4) for v in row] for row in z]
    fig = go.Figure(go.Heatmap(z=z, x=pieces, y=[str(s) for s in sizes], colorscale="Oranges",
                               colorbar={"title": label},
                               hovertemplate=f"size %{{y}}, %{{x}}: %{{z}} {label}<extra></extra>"))
    fig.update_layout(**_LAYOUT, title=f"CUDA-graph captures: {metric} (size by piece)",
                      yaxis_title="capture size", height=max(260, 10 * len(sizes) + 140))
    return fig


def lowering_figure(record: TraceRecord) -> go.Figure:
    """Stacked bars: generated kernels / extern calls / fallbacks per piece."""
    go = _go()
    counts: dict[tuple[str, str], int] = defaultdict(int)
    pieces: dict[str, None] = {}
    for low in record.lowerings:
        pieces.setdefault(low.submod, None)
        counts[(low.kind, low.submod)] += 1
    kinds = sorted({k for k, _ in counts})
    fig = go.Figure([go.Bar(name=k, x=list(pieces), y=[counts.get((k, p), 0) for p in pieces])
                     for k in kinds])
    fig.update_layout(**_LAYOUT, barmode="stack", title="Lowering per piece", height=360,
                      yaxis_title="count")
    return fig


def figure_html(fig: go.Figure, name: str) -> str:
    """A figure as a ``<div>`` for a page that already embeds plotly.js (deterministic id)."""
    div_id = content_id("plot", name, fig.to_json())
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id,
                       config={"displaylogo": False, "responsive": True})
