"""Analysis: a trace's CUDA graphs per runtime mode and size: what was captured, what it cost in
time and memory, how often each graph ran and with how much padding, and which calls ran without
a graph (what vLLM's ``--cudagraph-metrics`` prints, plus the capture side it does not).

Stage 3, pure. One shape for both sources: vLLM's own captures (``instrument/vllm``) and the
embedded backend's (``compile_lens.piecewise``) fill the same ``CudaGraphCapture`` fields, so a
vLLM trace and an embedded trace give the same rows and compare side by side (``cudagraph_diff``).

A row is one ``(graph, mode, size)``: a PIECEWISE size is captured once per piece and every piece
replays once per forward call, so ``replays`` is the most any of its graphs ran (the forward calls
dispatched to it), while the capture seconds and pool growth are summed over its pieces. Fields a
source does not record are ``None``, never a made-up zero: vLLM times no warm-up apart from the
capture; traces before runtime modes have no mode (the embedded backend then captured pieces
only: PIECEWISE, said in ``mode_note``). The run's settings are read by ``cudagraph_settings``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from compile_lens.analysis.cudagraph_settings import (
    SETTINGS_KEYS,
    Settings,
    as_float,
    as_int,
    settings,
    size_ranges,
)
from compile_lens.model import WHOLE_MODEL, TraceRecord

__all__ = ["MODE_ORDER", "NO_GRAPH", "SETTINGS_KEYS", "CudaGraphs", "Fallback", "GraphRow",
           "ModeTotals", "Settings", "cudagraphs", "fallbacks", "graph_rows", "mode_of",
           "mode_rank", "mode_totals", "size_ranges"]

MODE_ORDER = ("FULL", "PIECEWISE", "NONE")
NO_GRAPH = "NONE"


@dataclass(frozen=True)
class GraphRow:
    """One graph (or set of pieces) captured for one runtime mode at one size."""

    graph_id: str
    process: str
    mode: str
    size: int
    graphs: int
    """Captures: the pieces of a PIECEWISE size, 1 for a FULL one."""
    seconds: float
    """Warm-up plus capture (vLLM: the capture call)."""
    capture_seconds: float
    warmup_seconds: float | None
    pool_bytes: int
    """What the CUDA-graph pool grew by while capturing (the graphs' own memory)."""
    reserved_bytes: int | None
    """All memory reserved over warm-up and capture (static input buffers included)."""
    static_input_bytes: int | None
    held_bytes: int | None
    """``torch.cuda.memory_reserved()`` right after the last capture of this row."""
    replays: int
    """Forward calls that ran this row's graphs."""
    tokens: int | None
    """Real tokens summed over those calls (``None``: not recorded)."""
    padded_tokens: int | None
    """Padding: ``replays * size - tokens``."""

    @property
    def waste(self) -> float | None:
        """The share of the replayed slots that were padding."""
        slots = self.replays * self.size
        if self.padded_tokens is None or slots <= 0:
            return None
        return self.padded_tokens / slots


@dataclass(frozen=True)
class Fallback:
    """Calls that ran without a graph, and why (``above_largest_size``, ``static_input_moved``,
    ``not_capturable``; plain words may follow after ``": "``)."""

    graph_id: str
    process: str
    submod: str
    """The pieces (or ``<model>``) that counted these calls, comma-separated."""
    mode: str
    """The mode the call would have run in (it ran as ``NONE``); empty when not recorded."""
    reason: str
    calls: int
    tokens: int

    @property
    def code(self) -> str:
        """The reason's fixed part (before ``": "``)."""
        return self.reason.split(": ", 1)[0]


@dataclass(frozen=True)
class ModeTotals:
    """One runtime mode over all its sizes."""

    mode: str
    sizes: list[int]
    graphs: int
    seconds: float
    capture_seconds: float
    warmup_seconds: float | None
    pool_bytes: int
    held_bytes: int | None
    replays: int
    tokens: int | None
    padded_tokens: int | None

    @property
    def waste(self) -> float | None:
        """The share of the replayed slots that were padding."""
        return padding_share(self.tokens, self.padded_tokens)


@dataclass(frozen=True)
class CudaGraphs:
    """The CUDA-graphs view's data; ``rows`` in graph, mode, size order."""

    rows: list[GraphRow] = field(default_factory=list)
    modes: list[ModeTotals] = field(default_factory=list)
    fallbacks: list[Fallback] = field(default_factory=list)
    settings: list[Settings] = field(default_factory=list)
    mode_note: str = ""

    def __bool__(self) -> bool:
        return bool(self.rows or self.fallbacks or self.settings)

    @property
    def seconds(self) -> float:
        """Capture seconds (warm-up included), all modes."""
        return sum(r.seconds for r in self.rows)

    @property
    def pool_bytes(self) -> int:
        """Pool growth, all modes."""
        return sum(r.pool_bytes for r in self.rows)

    @property
    def replays(self) -> int:
        """Forward calls that ran a graph."""
        return sum(r.replays for r in self.rows)

    @property
    def fallback_calls(self) -> int:
        """Forward calls that ran without a graph."""
        return sum(f.calls for f in self.fallbacks)


def padding_share(tokens: int | None, padded_tokens: int | None) -> float | None:
    """The share of replayed slots (real + padded tokens) that were padding; ``None`` where a
    count is unknown or nothing was replayed."""
    if tokens is None or padded_tokens is None:
        return None
    slots = tokens + padded_tokens
    return padded_tokens / slots if slots > 0 else None


def mode_rank(mode: str) -> tuple[int, str]:
    """Sort key: FULL, PIECEWISE, NONE, then any other name."""
    return (MODE_ORDER.index(mode) if mode in MODE_ORDER else len(MODE_ORDER), mode)


def mode_of(capture: Any) -> str:
    """A capture's runtime mode; a trace from before modes captured pieces only (PIECEWISE), or
    the whole model (FULL)."""
    mode = str(getattr(capture, "mode", "") or "")
    if mode:
        return mode
    return "FULL" if capture.submod == WHOLE_MODEL else "PIECEWISE"


def field_of(item: Any, name: str) -> Any:
    """A record field, or the same name in its ``extra`` (a trace written by a newer or older
    compile_lens), or in a plain dict."""
    if isinstance(item, Mapping):
        return item.get(name)
    value = getattr(item, name, None)
    if value is None:
        value = (getattr(item, "extra", None) or {}).get(name)
    return value


def _tokens(capture: Any) -> tuple[int | None, int | None]:
    """Real and padded tokens over a capture's replays; ``None`` when not recorded (a call has at
    least one real token, so zero real tokens after a replay means nothing was counted)."""
    if not capture.replays:
        return 0, 0
    tokens, padded = as_int(field_of(capture, "tokens")), as_int(field_of(capture, "padded_tokens"))
    if not tokens:
        return None, None
    return tokens, padded or 0


def _processes(record: TraceRecord) -> dict[str, str]:
    return {g.id: g.process for g in record.graphs}


def _sum_opt(values: Iterable[float | int | None]) -> Any:
    seen = [v for v in values if v is not None]
    return sum(seen) if seen else None


def _row(graph_id: str, process: str, mode: str, size: int, caps: list[Any]) -> GraphRow:
    busiest = max(caps, key=lambda c: c.replays)
    tokens, padded = _tokens(busiest)
    held = [h for h in (as_int(field_of(c, "held_bytes")) for c in caps) if h]
    capture_s = [as_float(field_of(c, "capture_seconds")) for c in caps]
    return GraphRow(
        graph_id=graph_id, process=process, mode=mode, size=size, graphs=len(caps),
        seconds=round(sum(c.seconds for c in caps), 9),
        capture_seconds=round(sum(c.seconds if s is None else s
                                  for c, s in zip(caps, capture_s, strict=True)), 9),
        warmup_seconds=_round(_sum_opt(as_float(field_of(c, "warmup_seconds")) for c in caps)),
        pool_bytes=sum(c.memory_bytes for c in caps),
        reserved_bytes=_sum_opt(as_int(field_of(c, "reserved_bytes")) for c in caps),
        static_input_bytes=_sum_opt(as_int(field_of(c, "static_input_bytes")) for c in caps),
        held_bytes=held[-1] if held else None,
        replays=busiest.replays, tokens=tokens, padded_tokens=padded)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 9)


def graph_rows(record: TraceRecord) -> list[GraphRow]:
    """One row per ``(graph, mode, size)``, in graph order, then FULL, PIECEWISE, then size."""
    where = _processes(record)
    order = {g.id: i for i, g in enumerate(record.graphs)}
    groups: dict[tuple[str, str, int], list[Any]] = {}
    for c in record.captures:
        groups.setdefault((c.graph_id, mode_of(c), c.size), []).append(c)
    keys = sorted(groups, key=lambda k: (order.get(k[0], len(order)), k[0], mode_rank(k[1]),
                                         k[2]))
    return [_row(g, where.get(g, ""), m, s, groups[(g, m, s)]) for g, m, s in keys]


def mode_totals(rows: list[GraphRow]) -> list[ModeTotals]:
    """Per runtime mode: sizes, captures, seconds, pool growth, memory held, replays, padding."""
    by_mode: dict[str, list[GraphRow]] = {}
    for r in rows:
        by_mode.setdefault(r.mode, []).append(r)
    out = []
    for mode in sorted(by_mode, key=mode_rank):
        rs = by_mode[mode]
        out.append(ModeTotals(
            mode=mode, sizes=sorted({r.size for r in rs}), graphs=sum(r.graphs for r in rs),
            seconds=round(sum(r.seconds for r in rs), 9),
            capture_seconds=round(sum(r.capture_seconds for r in rs), 9),
            warmup_seconds=_round(_sum_opt(r.warmup_seconds for r in rs)),
            pool_bytes=sum(r.pool_bytes for r in rs),
            held_bytes=max((r.held_bytes for r in rs if r.held_bytes), default=None),
            replays=sum(r.replays for r in rs),
            tokens=_known(rs, "tokens"), padded_tokens=_known(rs, "padded_tokens")))
    return out


def _known(rows: list[GraphRow], name: str) -> int | None:
    """The sum over the rows that ran, ``None`` when one of them did not record it."""
    ran = [getattr(r, name) for r in rows if r.replays]
    return None if any(v is None for v in ran) else sum(ran)


def fallbacks(record: TraceRecord) -> list[Fallback]:
    """Forward calls that ran without a graph, per graph and reason, most first.

    Read from ``record.cudagraph_fallbacks`` (older writers: ``extra``). Each piece counts the
    calls it ran without a graph, so one call above the largest size is counted by every piece;
    like ``replays``, a reason's ``calls`` is the most any one piece (or ``<model>``) counted,
    and ``submod`` lists the pieces.
    """
    items = getattr(record, "cudagraph_fallbacks", None) or record.extra.get(
        "cudagraph_fallbacks") or []
    groups: dict[tuple[str, str], list[tuple[str, str, int, int]]] = {}
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, Mapping) and not hasattr(item, "reason"):
            continue
        key = (str(field_of(item, "graph_id") or ""), str(field_of(item, "reason") or "unknown"))
        groups.setdefault(key, []).append((
            str(field_of(item, "submod") or ""), str(field_of(item, "mode") or ""),
            as_int(field_of(item, "calls")) or 0, as_int(field_of(item, "tokens")) or 0))
    where = _processes(record)
    out = []
    for (graph_id, reason), rows in groups.items():
        busiest = max(rows, key=lambda r: (r[2], r[3]))
        out.append(Fallback(
            graph_id=graph_id, process=where.get(graph_id, ""), reason=reason,
            submod=", ".join(sorted({r[0] for r in rows if r[0]})),
            mode=", ".join(sorted({r[1] for r in rows if r[1]}, key=mode_rank)),
            calls=busiest[2], tokens=busiest[3]))
    return sorted(out, key=lambda f: (-f.calls, f.reason, f.graph_id, f.submod, f.mode))


def cudagraphs(record: TraceRecord) -> CudaGraphs:
    """Everything the CUDA-graphs view shows, from one trace."""
    rows = graph_rows(record)
    guessed = any(not c.mode for c in record.captures)
    note = ("this trace does not record runtime modes (written before they were): its piece "
            "captures are shown as PIECEWISE") if guessed else ""
    return CudaGraphs(rows=rows, modes=mode_totals(rows), fallbacks=fallbacks(record),
                      settings=settings(record, rows), mode_note=note)
