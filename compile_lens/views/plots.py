"""Views: plotly figures of a trace (compile timeline, pass timings, CUDA-graph captures).

Stage 4: stdlib only. Each ``*_figure`` returns a plain plotly figure *spec* (``{"data": [...],
"layout": {...}}``), so the report and the explorer need neither plotly's Python package nor its
import time: the report embeds plotly.js once and calls ``Plotly.newPlot`` on the spec
(``figure_html``, deterministic ids), the explorer hands the spec to the notebook's plotly
renderer. ``to_figure(spec)`` gives a ``plotly.graph_objects.Figure`` for your own use.

Plotly reads pseudo-HTML in every label (``<a href>`` becomes a live link, ``<b>`` bold), so
every string from the trace goes through ``label`` (``<``, ``>``, ``&`` as entities, which plotly
shows as the characters; control and bidi characters made visible). Big traces are summarised:
at most ``REPORT.spans`` timeline bars and ``REPORT.categories`` pieces per axis, said in the title.
"""

from __future__ import annotations

import html
import json
import math
from collections import defaultdict
from functools import lru_cache
from typing import Any

from compile_lens.errors import missing_dependency
from compile_lens.model import TraceRecord
from compile_lens.model.safe_text import html_visible
from compile_lens.views._html import content_id
from compile_lens.views._limits import REPORT

Spec = dict[str, Any]

CATEGORY_COLORS = {"dynamo": "#8250df", "split": "#bf8700", "key": "#0969da",
                   "compile": "#1a7f37", "load": "#57ab5a", "dedup": "#4ac26b",
                   "cache_hit": "#2da44e", "capture": "#bc4c00", "tracer": "#8c959f",
                   "worker": "#116329"}
TRACER_ROW = "compile_lens (tracer)"
_AXIS = {"gridcolor": "#ebf0f8", "zerolinecolor": "#ebf0f8", "automargin": True}
_LAYOUT: Spec = {"margin": {"l": 10, "r": 10, "t": 40, "b": 10}, "font": {"size": 11},
                 "paper_bgcolor": "white", "plot_bgcolor": "white",
                 "xaxis": dict(_AXIS), "yaxis": dict(_AXIS)}
CONFIG = {"displaylogo": False, "responsive": True}


@lru_cache(maxsize=8192)
def _label(text: str) -> str:
    return html.escape(html_visible(text), quote=False)


def label(text: Any) -> str:
    """A string from the trace as plotly shows it literally: no markup, no links, no controls."""
    return _label(str(text))


def _capped(title: str, shown: int, total: int, what: str) -> str:
    return title if shown >= total else f"{title} (first {shown:,} of {total:,} {what})"


def _layout(title: str, **kw: Any) -> Spec:
    """The shared look plus ``kw``; axis dicts are merged, not replaced."""
    out: Spec = json.loads(json.dumps(_LAYOUT))
    out["title"] = {"text": title}
    for key, value in kw.items():
        if key in ("xaxis", "yaxis"):
            out[key].update(value)
        else:
            out[key] = value
    return out


def to_figure(spec: Spec) -> Any:
    """A ``plotly.graph_objects.Figure`` of a spec (needs the ``plotly`` package)."""
    try:
        import plotly.graph_objects as go
    except ImportError:
        err = missing_dependency("plotly", "compile_lens plots")
        raise err from None
    return go.Figure(spec)


def _timeline_rows(record: TraceRecord) -> list[tuple[str, str, float, float, str]]:
    """``(row, category, start, duration, hover)`` per span; compiles stand in when no spans."""
    if record.spans:
        rows = [
            (TRACER_ROW if s.category == "tracer" else label(s.submod or s.category),
             label(s.category), s.start_s, max(s.end_s - s.start_s, 0.0), label(s.name))
            for s in record.spans[: REPORT.spans]
        ]
    else:
        rows = [
            (label(c.submod), "compile" if c.outcome == "compiled" else "load", c.start_s or 0.0,
             c.seconds, label(f"{c.submod} [{c.size}] {c.outcome}"))
            for c in record.compiles[: REPORT.spans]
        ]
    overhead = record.run.tracer_overhead_s
    if overhead > 0 and not any(r[1] == "tracer" for r in rows):  # spread over the run: a total
        rows.append((TRACER_ROW, "tracer", 0.0, overhead,
                     "compile_lens' own time, total (spread over the run)"))
    return rows


def timeline_figure(record: TraceRecord) -> Spec:
    """Compile timeline from Dynamo to the last piece; the tracer's own time on its own row."""
    by_cat: dict[str, list[tuple[str, float, float, str]]] = defaultdict(list)
    order: dict[str, None] = {}
    for row, cat, start, dur, hover in _timeline_rows(record):
        by_cat[cat].append((row, start, dur, hover))
        order.setdefault(row, None)
    traces = [
        {"type": "bar", "orientation": "h", "name": cat, "y": [r[0] for r in rows],
         "base": [r[1] for r in rows], "x": [r[2] for r in rows],
         "hovertext": [r[3] for r in rows],
         "marker": {"color": CATEGORY_COLORS.get(cat, "#6e7781")},
         "hovertemplate": "%{hovertext}<br>start %{base:.3f} s, %{x:.3f} s<extra></extra>"}
        for cat, rows in sorted(by_cat.items())
    ]
    overhead = record.run.tracer_overhead_s
    total = len(record.spans) or len(record.compiles)
    title = _capped(f"Compile timeline (tracer's own time: {overhead:.3f} s)",
                    min(total, REPORT.spans), total, "intervals")
    return {"data": traces, "layout": _layout(
        title, barmode="overlay",
        height=min(160 + 14 * len(order), 1400),
        xaxis={"title": {"text": "seconds since start"}},
        yaxis={"autorange": "reversed", "categoryorder": "array", "categoryarray": list(order)})}


def _piece(record: TraceRecord, graph_id: str, submod: str) -> str:
    """A piece's axis label: ``submod_2``, or ``g1:submod_2`` when the trace has several graphs."""
    return label(submod if len(record.graphs) <= 1 else f"{graph_id}:{submod}")


def _pass_matrix(record: TraceRecord) -> tuple[list[str], list[str], dict[tuple[str, str], float]]:
    pieces: dict[str, None] = {}
    names: dict[str, None] = {}
    cells: dict[tuple[str, str], float] = defaultdict(float)
    for p in record.passes:
        piece = _piece(record, p.graph_id, p.submod)
        if piece not in pieces and len(pieces) >= REPORT.categories:
            continue
        pieces.setdefault(piece, None)
        name = label(p.name)
        names.setdefault(name, None)
        cells[(piece, name)] += p.seconds
    return list(pieces), list(names), cells


# Inductor's phase timers nest (``create_aot_dispatcher_function`` contains codegen, which contains
# ``compile_file``), so only the individual FX passes (``pass.<group>.<pass>``) add up.
FX_PASS_PREFIX = "pass."
BLUES = [[0.0, "#f7fbff"], [0.5, "#6baed6"], [1.0, "#08306b"]]
ORANGES = [[0.0, "#fff5eb"], [0.5, "#fd8d3c"], [1.0, "#7f2704"]]


def passes_bar_figure(record: TraceRecord) -> Spec:
    """Stacked bars: seconds per pass per piece (summed over compile sizes).

    When the trace has individual FX passes (``pass.*``), only those are stacked: Inductor's
    phase timers nest, and stacking nested times would count them several times.
    """
    pieces, names, cells = _pass_matrix(record)
    leaves = [n for n in names if n.startswith(FX_PASS_PREFIX)]
    title = ("FX pass time per piece (individual passes; phases nest, see the heat map)"
             if leaves else "Inductor pass time per piece")
    title = _capped(title, len(pieces), _count_pieces(record, record.passes), "pieces")
    traces = [{"type": "bar", "name": n.removeprefix(FX_PASS_PREFIX), "x": pieces,
               "y": [round(cells.get((p, n), 0.0), 6) for p in pieces]} for n in leaves or names]
    return {"data": traces, "layout": _layout(
        title, barmode="stack", height=460, yaxis={"title": {"text": "seconds"}},
        legend={"font": {"size": 9}})}


def passes_heatmap_figure(record: TraceRecord) -> Spec:
    """Heat map piece by pass; colour on a log scale (phases span 1e-4 s to minutes)."""
    pieces, names, cells = _pass_matrix(record)
    title = _capped("Pass and phase time: piece by pass (log colour)", len(pieces),
                    _count_pieces(record, record.passes), "pieces")
    secs = [[round(cells.get((p, n), 0.0), 6) for p in pieces] for n in names]
    z = [[None if v <= 0 else round(math.log10(v), 4) for v in row] for row in secs]
    trace = {"type": "heatmap", "z": z, "x": pieces, "y": names, "customdata": secs,
             "colorscale": BLUES, "colorbar": {"title": {"text": "log10 s"}},
             "hovertemplate": "%{y} on %{x}: %{customdata:.4f} s<extra></extra>"}
    return {"data": [trace], "layout": _layout(
        title, height=min(max(260, 16 * len(names) + 120), 4000),
        yaxis={"autorange": "reversed"})}


def captures_figure(record: TraceRecord, metric: str = "seconds") -> Spec:
    """Heat map capture size by piece of ``seconds`` or ``memory_bytes``."""
    pieces = list(dict.fromkeys(_piece(record, c.graph_id, c.submod)
                                for c in record.captures))[: REPORT.categories]
    sizes = sorted({c.size for c in record.captures})
    cells = {(c.size, _piece(record, c.graph_id, c.submod)): getattr(c, metric)
             for c in record.captures}
    z = [[cells.get((s, p)) for p in pieces] for s in sizes]
    unit = "MiB" if metric == "memory_bytes" else "s"
    if metric == "memory_bytes":
        z = [[None if v is None else round(v / 2**20, 4) for v in row] for row in z]
    trace = {"type": "heatmap", "z": z, "x": pieces, "y": [str(s) for s in sizes],
             "colorscale": ORANGES, "colorbar": {"title": {"text": unit}},
             "hovertemplate": f"size %{{y}}, %{{x}}: %{{z}} {unit}<extra></extra>"}
    return {"data": [trace], "layout": _layout(
        f"CUDA-graph captures: {metric} (size by piece)", height=max(260, 10 * len(sizes) + 140),
        yaxis={"title": {"text": "capture size"}, "type": "category"})}


def lowering_figure(record: TraceRecord) -> Spec:
    """Stacked bars: generated kernels / extern calls / fallbacks per piece."""
    counts: dict[tuple[str, str], int] = defaultdict(int)
    pieces: dict[str, None] = {}
    for low in record.lowerings:
        piece = _piece(record, low.graph_id, low.submod)
        if piece not in pieces and len(pieces) >= REPORT.categories:
            continue
        pieces.setdefault(piece, None)
        counts[(label(low.kind), piece)] += 1
    kinds = sorted({k for k, _ in counts})
    traces = [{"type": "bar", "name": k, "x": list(pieces),
               "y": [counts.get((k, p), 0) for p in pieces]} for k in kinds]
    title = _capped("Lowering per piece", len(pieces), _count_pieces(record, record.lowerings),
                    "pieces")
    return {"data": traces, "layout": _layout(title, barmode="stack", height=360,
                                              yaxis={"title": {"text": "count"}})}


def _count_pieces(record: TraceRecord, items: Any) -> int:
    return len({(x.graph_id, x.submod) for x in items})


def spec_json(spec: Spec) -> str:
    """Deterministic JSON of a spec, safe inside ``<script>`` (every ``<`` escaped)."""
    text = json.dumps(spec, sort_keys=True, separators=(",", ":"), allow_nan=False,
                      default=str)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def figure_html(spec: Spec, name: str) -> str:
    """A figure as a ``<div>`` + script for a page that already embeds plotly.js.

    The id is a content hash, so the same figure always renders the same bytes.
    """
    body = spec_json(spec)
    div_id = content_id("plot", name, body)
    height = int(spec.get("layout", {}).get("height") or 400)
    return (f'<div id="{div_id}" class="plotly-graph-div" style="height:{height}px;width:100%">'
            f'</div><script type="text/javascript">(function(){{var f={body};'
            f'Plotly.newPlot("{div_id}",f.data,f.layout,{json.dumps(CONFIG, sort_keys=True)});'
            "})();</script>")
