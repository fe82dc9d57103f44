"""Views: the CUDA-graphs section (``views.registry``) and ``Trace.cudagraphs``.

Stage 4. Lays out ``analysis.cudagraphs``: headline cards, the run's capture settings next to what
the trace measured (vLLM's own "Graph capturing finished … took X GiB" beside our sums), one row
per runtime mode, the dispatch table vLLM's ``--cudagraph-metrics`` prints (padded size, mode,
calls, with the real tokens and padding), one row per mode and size, and the calls that ran
without a graph. Every value goes through ``views._html`` (escaped); long tables stop at the
view's ``Limits``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from compile_lens.analysis.cudagraphs import (
    NO_GRAPH,
    SETTINGS_KEYS,
    CudaGraphs,
    Fallback,
    GraphRow,
    cudagraphs,
    fallbacks,
    size_ranges,
)
from compile_lens.model import TraceRecord
from compile_lens.views._html import cards, hint, table
from compile_lens.views._limits import REPORT, Limits, cut_rows

if TYPE_CHECKING:
    import pandas as pd

MIB = 2**20
FRAME_COLUMNS = ["graph_id", "process", "mode", "size", "graphs", "warmup_seconds",
                 "capture_seconds", "seconds", "pool_bytes", "reserved_bytes",
                 "static_input_bytes", "held_bytes", "replays", "tokens", "padded_tokens",
                 "waste", "submod", "reason", "fallback_from"]

FRAME_DTYPES = {
    **dict.fromkeys(["size", "reserved_bytes", "static_input_bytes", "held_bytes", "tokens",
                     "padded_tokens"], "Int64"),
    **dict.fromkeys(["graphs", "pool_bytes", "replays"], "int64"),
    **dict.fromkeys(["warmup_seconds", "capture_seconds", "seconds", "waste"], "float64"),
    **dict.fromkeys(["graph_id", "process", "mode", "submod", "reason", "fallback_from"], "str"),
}
"""Fixed dtypes, so frames of different traces (vLLM's, the embedded backend's) line up; a value
the trace does not record is ``<NA>``/``NaN``."""


def has_cudagraphs(record: TraceRecord) -> bool:
    """Whether the trace has anything for the section (captures, fallbacks or settings)."""
    return bool(record.captures) or bool(fallbacks(record)) or any(
        key in record.run.extra for key in SETTINGS_KEYS)


def _mib(value: int | None) -> float | None:
    return None if value is None else round(value / MIB, 3)


def _pct(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.1f}%"


def frame_rows(record: TraceRecord) -> list[dict[str, Any]]:
    """The rows of ``cudagraphs_frame``: one per (graph, mode, size), then one per fallback."""
    data = cudagraphs(record)
    rows = [{
        "graph_id": r.graph_id, "process": r.process, "mode": r.mode, "size": r.size,
        "graphs": r.graphs, "warmup_seconds": r.warmup_seconds,
        "capture_seconds": r.capture_seconds, "seconds": r.seconds, "pool_bytes": r.pool_bytes,
        "reserved_bytes": r.reserved_bytes, "static_input_bytes": r.static_input_bytes,
        "held_bytes": r.held_bytes, "replays": r.replays, "tokens": r.tokens,
        "padded_tokens": r.padded_tokens, "waste": r.waste, "submod": "", "reason": "",
        "fallback_from": ""}
        for r in data.rows]
    rows += [{
        "graph_id": f.graph_id, "process": f.process, "mode": NO_GRAPH, "size": None,
        "graphs": 0, "pool_bytes": 0, "replays": f.calls, "tokens": f.tokens, "submod": f.submod,
        "reason": f.reason, "fallback_from": f.mode} for f in data.fallbacks]
    return rows


def cudagraphs_frame(record: TraceRecord) -> pd.DataFrame:
    """One row per runtime mode and size (per graph), then the calls that ran without one."""
    from compile_lens.views.tables import _frame

    return _frame(frame_rows(record), FRAME_COLUMNS).astype(FRAME_DTYPES)


def _cards(data: CudaGraphs) -> str:
    items: list[tuple[str, Any]] = [
        ("graphs captured", sum(r.graphs for r in data.rows)),
        ("capture seconds", round(data.seconds, 3)),
        ("pool growth MiB", round(data.pool_bytes / MIB, 1)),
        ("calls on a graph", data.replays),
    ]
    tokens = [m for m in data.modes if m.tokens is not None and m.replays]
    if tokens:
        padded = sum(m.padded_tokens or 0 for m in tokens)
        slots = padded + sum(m.tokens or 0 for m in tokens)
        items.append(("padding", _pct(padded / slots if slots else None)))
    if data.fallbacks:
        items.append(("calls without a graph", data.fallback_calls))
    return cards(items)


def settings_table(data: CudaGraphs) -> str:
    """What each process was set to capture, next to what the trace measured there."""
    if not data.settings:
        return hint("the trace does not record the capture settings (cudagraph_mode, sizes)")
    rows = []
    for s in data.settings:
        theirs = s.message or (f"{s.reported_seconds:.3f} s" if s.reported_seconds else "")
        rows.append([s.source, s.process, s.cudagraph_mode,
                     f"{len(s.capture_sizes)}: {size_ranges(s.capture_sizes)}",
                     size_ranges(s.full_sizes), round(s.seconds, 4), _mib(s.pool_bytes), theirs,
                     _mib(s.unaccounted_bytes)])
    return table(["source", "process", "cudagraph_mode", "capture sizes", "full sizes",
                  "capture s (ours)", "pool growth MiB (ours)", "the run's own account",
                  "MiB outside the captures"], rows, sortable=False)


def mode_table(data: CudaGraphs) -> str:
    """One row per runtime mode: sizes, graphs, time, memory, calls, padding."""
    rows = [[m.mode, f"{len(m.sizes)}: {size_ranges(m.sizes)}", m.graphs, m.warmup_seconds,
             m.capture_seconds, _mib(m.pool_bytes), _mib(m.held_bytes), m.replays, m.tokens,
             m.padded_tokens, _pct(m.waste)] for m in data.modes]
    return table(["mode", "sizes", "graphs", "warm-up s", "capture s", "pool growth MiB",
                  "held after MiB", "calls", "real tokens", "padded tokens", "padding"], rows)


def dispatch_rows(data: CudaGraphs, *, graphs: bool = False) -> list[list[Any]]:
    """``--cudagraph-metrics``' table: padded size, mode, calls (most first), with the mean real
    tokens and padding per call where recorded; calls without a graph last, with the reason.
    ``graphs``: each row starts with its graph (a trace of several graphs or ranks)."""
    ran = sorted((r for r in data.rows if r.replays),
                 key=lambda r: (-r.replays, r.mode, r.size, r.graph_id))
    rows = [[r.graph_id] * graphs + [r.mode, r.size, r.replays, _per_call(r.tokens, r.replays),
             _per_call(r.padded_tokens, r.replays), _pct(r.waste), ""] for r in ran]
    rows += [[f.graph_id] * graphs + [NO_GRAPH, "", f.calls, _per_call(f.tokens, f.calls), "",
                                      "", _reason(f)] for f in data.fallbacks]
    return rows


def _per_call(total: int | None, calls: int) -> float | None:
    return None if total is None or not calls else round(total / calls, 2)


def _reason(f: Fallback) -> str:
    where = ", ".join(x for x in (f.submod, f"instead of {f.mode}" if f.mode else "") if x)
    return f.reason + (f" ({where})" if where else "")


def size_table(data: CudaGraphs, limits: Limits) -> str:
    """One row per mode and size (per graph when the trace has several)."""
    several = len({r.graph_id for r in data.rows}) > 1
    shown, cut = cut_rows(data.rows, limits.rows, "mode and size rows")
    rows = [([r.graph_id] if several else []) + _size_cells(r) for r in shown]
    head = (["graph"] if several else []) + [
        "mode", "size", "graphs", "warm-up s", "capture s", "pool growth MiB",
        "reserved MiB", "held after MiB", "calls", "real tokens", "padded tokens", "padding"]
    return (hint(cut) if cut else "") + table(head, rows, scroll=True)


def _size_cells(r: GraphRow) -> list[Any]:
    ran = bool(r.replays)  # no call: no tokens to count
    return [r.mode, r.size, r.graphs, r.warmup_seconds, r.capture_seconds, _mib(r.pool_bytes),
            _mib(r.reserved_bytes), _mib(r.held_bytes), r.replays, r.tokens if ran else None,
            r.padded_tokens if ran else None, _pct(r.waste)]


HOW_TO_READ = (
    "Per runtime mode and size: warm-up and capture seconds; pool growth (what the CUDA-graph "
    "pool grew by while capturing: the graphs' own memory); reserved (all memory reserved over "
    "warm-up and capture, static input buffers included); held after (memory reserved once the "
    "size was captured). Calls: forward calls that replayed the size's graphs; padding: the "
    "share of their token slots that held no real token. A PIECEWISE size is one graph per "
    "piece; FULL is one graph of the whole model.")


def section(record: TraceRecord, limits: Limits = REPORT, *, notebook: bool = False) -> str:
    """The section's HTML (the notebook leaves out the per-size table: ``t.cudagraphs``)."""
    data = cudagraphs(record)
    parts = [_cards(data), hint(HOW_TO_READ)]
    if data.mode_note:
        parts.append(hint(data.mode_note))
    parts += ["<h3>Settings</h3>", settings_table(data)]
    if data.modes:
        parts += ["<h3>Per mode</h3>", mode_table(data)]
    several = len({r.graph_id for r in data.rows} | {f.graph_id for f in data.fallbacks}) > 1
    dispatch, cut = cut_rows(dispatch_rows(data, graphs=several), limits.rows, "dispatch rows")
    if dispatch:
        parts += ["<h3>Dispatch (what vLLM's --cudagraph-metrics counts)</h3>",
                  (hint(cut) if cut else "") + table(
                      ["graph"] * several + [
                          "mode", "padded size", "calls", "real tokens / call", "padding / call",
                          "padding", "no graph: why"], dispatch, sortable=False)]
    else:
        parts.append(hint("no graph ran inside the trace (no replays recorded)"))
    if notebook:
        parts.append(hint("one row per mode and size, with every column: t.cudagraphs"))
    elif data.rows:
        parts += ["<h3>Per mode and size</h3>", size_table(data, limits)]
    return "".join(parts)
