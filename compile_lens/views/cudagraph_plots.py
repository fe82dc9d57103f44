"""Views: plotly figures of the CUDA-graphs view (capture cost and dispatch per mode and size).

Stage 4, stdlib only, like ``views.plots`` (whose layout, label escaping and caps these share):
each function returns a plain figure spec from ``analysis.cudagraphs`` rows. Sizes are categories
in numeric order, one colour per runtime mode; every string from the trace goes through ``label``.
"""

from __future__ import annotations

from typing import Any

from compile_lens.analysis.cudagraphs import CudaGraphs, GraphRow, cudagraphs, mode_rank
from compile_lens.model import TraceRecord
from compile_lens.views._limits import REPORT
from compile_lens.views.plots import _capped, _layout, label

Spec = dict[str, Any]
MODE_COLORS = {"FULL": "#0969da", "PIECEWISE": "#bc4c00", "NONE": "#8c959f"}
MIB = 2**20


def _color(mode: str) -> str:
    return MODE_COLORS.get(mode, "#6e7781")


def _by_mode_size(rows: list[GraphRow]) -> tuple[list[str], list[int], dict[tuple[str, int],
                                                                             list[GraphRow]]]:
    """Modes in order, sizes (capped at ``REPORT.categories``) and the rows of each cell (several
    graphs of one trace add up)."""
    cells: dict[tuple[str, int], list[GraphRow]] = {}
    for r in rows:
        cells.setdefault((r.mode, r.size), []).append(r)
    modes = sorted({m for m, _ in cells}, key=mode_rank)
    sizes = sorted({s for _, s in cells})[: REPORT.categories]
    return modes, sizes, cells


def _sizes_title(title: str, shown: list[int], rows: list[GraphRow]) -> str:
    return _capped(title, len(shown), len({r.size for r in rows}), "sizes")


def capture_figure(record: TraceRecord, data: CudaGraphs | None = None) -> Spec:
    """Two panels over the capture sizes: seconds (capture, warm-up stacked on it where timed)
    and CUDA-graph pool growth in MiB, one bar per runtime mode."""
    data = cudagraphs(record) if data is None else data
    modes, sizes, cells = _by_mode_size(data.rows)
    x = [str(s) for s in sizes]
    traces: list[Spec] = []
    for mode in modes:
        name = label(mode)
        cap = [round(sum(r.capture_seconds for r in cells.get((mode, s), [])), 6) for s in sizes]
        warm = [round(sum(r.warmup_seconds or 0.0 for r in cells.get((mode, s), [])), 6)
                for s in sizes]
        pool = [round(sum(r.pool_bytes for r in cells.get((mode, s), [])) / MIB, 4)
                for s in sizes]
        traces.append({"type": "bar", "name": f"{name} capture", "x": x, "y": cap,
                       "offsetgroup": name, "legendgroup": name,
                       "marker": {"color": _color(mode)},
                       "hovertemplate": "%{fullData.name}, size %{x}: %{y:.4f} s<extra></extra>"})
        if any(warm):
            traces.append({"type": "bar", "name": f"{name} warm-up", "x": x, "y": warm,
                           "base": cap, "offsetgroup": name, "legendgroup": name,
                           "marker": {"color": _color(mode), "opacity": 0.55,
                                      "pattern": {"shape": "/", "solidity": 0.4}},
                           "hovertemplate": "%{fullData.name}, size %{x}: %{y:.4f} s"
                                            "<extra></extra>"})
        traces.append({"type": "bar", "name": f"{name} pool growth", "x": x, "y": pool,
                       "xaxis": "x2", "yaxis": "y2", "offsetgroup": name, "legendgroup": name,
                       "showlegend": False, "marker": {"color": _color(mode)},
                       "hovertemplate": "%{fullData.name}, size %{x}: +%{y:.2f} MiB"
                                        "<extra></extra>"})
    total = f"{data.seconds:.3f} s, pool +{data.pool_bytes / MIB:.1f} MiB"
    title = _sizes_title(f"CUDA-graph capture cost per size and mode ({total})", sizes, data.rows)
    axis = {"type": "category", "categoryorder": "array", "categoryarray": x}
    return {"data": traces, "layout": _layout(
        title, barmode="group", height=520, legend={"orientation": "h", "y": -0.12},
        xaxis={**axis, "anchor": "y", "showticklabels": False},
        yaxis={"title": {"text": "seconds"}, "domain": [0.55, 1.0]},
        xaxis2={**axis, "anchor": "y2", "title": {"text": "capture size (tokens)"},
                "gridcolor": "#ebf0f8", "automargin": True, "matches": "x"},
        yaxis2={"title": {"text": "pool growth MiB"}, "domain": [0.0, 0.45],
                "gridcolor": "#ebf0f8", "automargin": True})}


def dispatch_figure(record: TraceRecord, data: CudaGraphs | None = None) -> Spec:
    """Forward calls per size and mode (bars) and the share of their slots that was padding
    (markers, right axis); calls that ran without a graph as one bar per reason."""
    data = cudagraphs(record) if data is None else data
    ran = [r for r in data.rows if r.replays]
    modes, sizes, cells = _by_mode_size(ran)
    x = [str(s) for s in sizes]
    traces: list[Spec] = []
    for mode in modes:
        name = label(mode)
        counts = [sum(r.replays for r in cells.get((mode, s), [])) for s in sizes]
        traces.append({"type": "bar", "name": f"{name} replays", "x": x, "y": counts,
                       "marker": {"color": _color(mode)},
                       "hovertemplate": "%{fullData.name}, size %{x}: %{y} calls"
                                        "<extra></extra>"})
        waste = [_waste(cells.get((mode, s), [])) for s in sizes]
        if any(w is not None for w in waste):
            traces.append({"type": "scatter", "mode": "markers", "name": f"{name} padding %",
                           "x": x, "y": waste, "yaxis": "y2",
                           "marker": {"color": _color(mode), "symbol": "diamond", "size": 9},
                           "hovertemplate": "%{fullData.name}, size %{x}: %{y:.1f}%"
                                            "<extra></extra>"})
    reasons: dict[str, int] = {}
    for f in data.fallbacks:
        reasons[label(f.code)] = reasons.get(label(f.code), 0) + f.calls
    none_x = [f"no graph: {r}" for r in reasons]
    if reasons:
        traces.append({"type": "bar", "name": "no graph", "x": none_x, "y": list(reasons.values()),
                       "marker": {"color": _color("NONE")},
                       "hovertemplate": "%{x}: %{y} calls<extra></extra>"})
    title = _sizes_title(f"CUDA-graph dispatch: {data.replays:,} calls on a graph, "
                         f"{data.fallback_calls:,} without", sizes, ran)
    return {"data": traces, "layout": _layout(
        title, barmode="group", height=400, legend={"orientation": "h", "y": -0.2},
        margin={"l": 10, "r": 60, "t": 40, "b": 10},
        xaxis={"type": "category", "categoryorder": "array", "categoryarray": x + none_x,
               "title": {"text": "padded size (tokens per call)"}},
        yaxis={"title": {"text": "forward calls"}},
        yaxis2={"title": {"text": "padding %"}, "overlaying": "y", "side": "right",
                "range": [0, 100], "tickvals": [0, 25, 50, 75, 100], "showgrid": False})}


def _waste(rows: list[GraphRow]) -> float | None:
    padded = [r.padded_tokens for r in rows if r.padded_tokens is not None]
    slots = sum(r.replays * r.size for r in rows if r.padded_tokens is not None)
    return round(100 * sum(padded) / slots, 2) if padded and slots else None


def memory_figure(record: TraceRecord, data: CudaGraphs | None = None) -> Spec:
    """Where the capture memory went, one bar per process: pool growth per mode, memory reserved
    over warm-up and capture beyond the pool (static input buffers, warm-up; embedded backend),
    and what the run's own figure (vLLM's "took X GiB") holds beyond all of ours."""
    data = cudagraphs(record) if data is None else data
    bars = [(label(f"{s.source} {s.process}".strip()), s) for s in data.settings] or [
        ("this trace", None)]
    segments: dict[str, list[float]] = {}
    colors: dict[str, str] = {}
    for i, (_, s) in enumerate(bars):
        rows = [r for r in data.rows if s is None or len(bars) == 1 or r.process == s.process]
        parts = [(f"{label(m)} pool growth", _color(m), sum(r.pool_bytes for r in rows
                                                           if r.mode == m))
                 for m in sorted({r.mode for r in rows}, key=mode_rank)]
        parts.append(("warm-up and static inputs", "#d4a72c", sum(
            (r.reserved_bytes or 0) - r.pool_bytes for r in rows if r.reserved_bytes)))
        if s is not None and s.unaccounted_bytes is not None:
            parts.append(("outside the captures (the run's own figure)", "#afb8c1",
                          max(s.unaccounted_bytes, 0)))
        for name, color, value in parts:
            segments.setdefault(name, [0.0] * len(bars))[i] = round(value / MIB, 3)
            colors[name] = color
    y = [b[0] for b in bars]
    traces = [{"type": "bar", "orientation": "h", "name": name, "y": y, "x": values,
               "marker": {"color": colors[name]},
               "hovertemplate": "%{fullData.name}: %{x:.2f} MiB<extra></extra>"}
              for name, values in segments.items() if any(values)]
    return {"data": traces, "layout": _layout(
        "Where the capture memory went (MiB)", barmode="stack", height=170 + 40 * len(bars),
        legend={"orientation": "h", "y": -0.25, "traceorder": "normal"})}
