"""Analysis: how two traces' CUDA graphs differ: settings, runtime modes, the sizes captured in
only one, capture seconds and memory per mode, calls and padding.

Stage 3, pure. Both sides go through ``analysis.cudagraphs`` first, so a vLLM trace and an
embedded-backend trace compare on the same fields; graphs of one side are summed per
``(mode, size)`` (graph ids differ between runs and tools). Capture seconds are compared without
warm-up (vLLM times no separate warm-up), warm-up on its own line. ``compile_lens.diff`` carries
the result as ``DiffResult.cudagraphs``; ``views.cudagraph_diff_view`` renders it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from compile_lens.analysis.cudagraphs import (
    CudaGraphs,
    GraphRow,
    ModeTotals,
    Settings,
    cudagraphs,
    mode_rank,
    padding_share,
    size_ranges,
)
from compile_lens.model import TraceRecord

Pair = tuple[Any, Any]


@dataclass(frozen=True)
class SizeCell:
    """One side's ``(mode, size)``: its graphs summed."""

    graphs: int
    capture_seconds: float
    warmup_seconds: float | None
    pool_bytes: int
    replays: int
    tokens: int | None
    padded_tokens: int | None

    @property
    def waste(self) -> float | None:
        """Padding share of the replayed slots."""
        return padding_share(self.tokens, self.padded_tokens)


@dataclass(frozen=True)
class SizeDiff:
    """One ``(mode, size)`` captured in either run (``None``: not captured in that run)."""

    mode: str
    size: int
    a: SizeCell | None
    b: SizeCell | None


@dataclass(frozen=True)
class ModeDiff:
    """One runtime mode in either run: ``(A, B)`` per measure, sizes captured in one only."""

    mode: str
    sizes: Pair
    graphs: Pair
    capture_seconds: Pair
    warmup_seconds: Pair
    pool_bytes: Pair
    held_bytes: Pair
    replays: Pair
    waste: Pair
    only_a: list[int] = field(default_factory=list)
    only_b: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class SettingDiff:
    """A capture setting of the two runs (``cudagraph_mode``, capture sizes, full sizes)."""

    name: str
    a: str
    b: str

    @property
    def same(self) -> bool:
        """Whether both runs had it the same."""
        return self.a == self.b


@dataclass(frozen=True)
class CudaGraphDiff:
    """The CUDA-graph side of a ``compile_lens.diff`` of two traces."""

    settings: list[SettingDiff] = field(default_factory=list)
    modes: list[ModeDiff] = field(default_factory=list)
    sizes: list[SizeDiff] = field(default_factory=list)
    fallbacks: list[tuple[str, int, int]] = field(default_factory=list)
    """``(reason, calls in A, calls in B)`` for calls that ran without a graph."""

    @property
    def same_shape(self) -> bool:
        """True when both runs captured the same modes at the same sizes with the same settings."""
        return (all(s.same for s in self.settings)
                and all(not m.only_a and not m.only_b and m.sizes[0] and m.sizes[1]
                        for m in self.modes))


def _describe(settings: list[Settings]) -> dict[str, str]:
    if not settings:
        return {"source": "(not recorded)", "cudagraph_mode": "(not recorded)",
                "capture sizes": "(not recorded)", "full sizes": "(not recorded)"}
    sizes = sorted({s for x in settings for s in x.capture_sizes})
    full = sorted({s for x in settings for s in x.full_sizes})
    return {
        "source": ", ".join(sorted({x.source for x in settings})),
        "cudagraph_mode": ", ".join(sorted({x.cudagraph_mode or "?" for x in settings})),
        "capture sizes": f"{len(sizes)}: {size_ranges(sizes)}" if sizes else "(none)",
        "full sizes": f"{len(full)}: {size_ranges(full)}" if full else "(none)",
    }


def _cells(rows: list[GraphRow]) -> dict[tuple[str, int], SizeCell]:
    groups: dict[tuple[str, int], list[GraphRow]] = {}
    for r in rows:
        groups.setdefault((r.mode, r.size), []).append(r)
    out = {}
    for key, rs in groups.items():
        warm = [r.warmup_seconds for r in rs if r.warmup_seconds is not None]
        ran = [r for r in rs if r.replays]
        tokens = None if any(r.tokens is None for r in ran) else sum(r.tokens or 0 for r in ran)
        padded = None if any(r.padded_tokens is None for r in ran) else sum(
            r.padded_tokens or 0 for r in ran)
        out[key] = SizeCell(
            graphs=sum(r.graphs for r in rs),
            capture_seconds=round(sum(r.capture_seconds for r in rs), 9),
            warmup_seconds=round(sum(warm), 9) if warm else None,
            pool_bytes=sum(r.pool_bytes for r in rs), replays=sum(r.replays for r in rs),
            tokens=tokens, padded_tokens=padded)
    return out


def _mode(mode: str, a: ModeTotals | None, b: ModeTotals | None) -> ModeDiff:
    def pair(name: str) -> Pair:
        return (getattr(a, name) if a else None, getattr(b, name) if b else None)

    sa, sb = set(a.sizes if a else []), set(b.sizes if b else [])
    return ModeDiff(
        mode=mode, sizes=(len(sa), len(sb)), graphs=pair("graphs"),
        capture_seconds=pair("capture_seconds"), warmup_seconds=pair("warmup_seconds"),
        pool_bytes=pair("pool_bytes"), held_bytes=pair("held_bytes"), replays=pair("replays"),
        waste=(a.waste if a else None, b.waste if b else None),
        only_a=sorted(sa - sb) if b else [], only_b=sorted(sb - sa) if a else [])


def _fallbacks(a: CudaGraphs, b: CudaGraphs) -> list[tuple[str, int, int]]:
    calls: dict[str, list[int]] = {}
    for side, data in enumerate((a, b)):
        for f in data.fallbacks:
            calls.setdefault(f.code, [0, 0])[side] += f.calls
    return [(reason, c[0], c[1]) for reason, c in sorted(calls.items())]


def cudagraph_diff(a: TraceRecord, b: TraceRecord) -> CudaGraphDiff | None:
    """The CUDA-graph differences of two traces; ``None`` when neither has any CUDA graph."""
    da, db = cudagraphs(a), cudagraphs(b)
    if not da and not db:
        return None
    sa, sb = _describe(da.settings), _describe(db.settings)
    settings = [SettingDiff(name, sa[name], sb[name]) for name in sa]
    ma = {m.mode: m for m in da.modes}
    mb = {m.mode: m for m in db.modes}
    modes = [_mode(m, ma.get(m), mb.get(m)) for m in sorted(ma.keys() | mb.keys(), key=mode_rank)]
    ca, cb = _cells(da.rows), _cells(db.rows)
    keys = sorted(ca.keys() | cb.keys(), key=lambda k: (mode_rank(k[0]), k[1]))
    sizes = [SizeDiff(m, s, ca.get((m, s)), cb.get((m, s))) for m, s in keys]
    return CudaGraphDiff(settings=settings, modes=modes, sizes=sizes,
                         fallbacks=_fallbacks(da, db))
