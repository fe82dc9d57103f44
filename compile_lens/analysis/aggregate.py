"""Analysis: per-name totals the views show as tables (passes, CUDA-graph captures, lowerings).

Pure functions of a ``TraceRecord`` returning plain rows, sorted deterministically; the views only
lay them out (``views.sections.pass_table`` …), so a notebook, the report and the explorer sum
the same way.
"""

from __future__ import annotations

from collections import Counter, defaultdict

from compile_lens.model import TraceRecord


def pass_totals(record: TraceRecord) -> list[tuple[str, str, float, int, float]]:
    """``(pass, phase, total s, runs, max s)`` over all piece compiles, slowest first."""
    total: dict[str, list[float]] = defaultdict(lambda: [0.0, 0, 0.0])
    phase: dict[str, str] = {}
    for p in record.passes:
        t = total[p.name]
        t[0] += p.seconds
        t[1] += p.count
        t[2] = max(t[2], p.seconds)
        phase.setdefault(p.name, p.phase)
    return sorted(((n, phase[n], round(t[0], 6), int(t[1]), round(t[2], 6))
                   for n, t in total.items()), key=lambda r: (-r[2], r[0]))


def capture_totals(record: TraceRecord) -> list[tuple[int, int, float, float]]:
    """``(size, pieces captured, seconds, memory MiB)`` per CUDA-graph capture size."""
    agg: dict[int, list[float]] = defaultdict(lambda: [0, 0.0, 0])
    for c in record.captures:
        a = agg[c.size]
        a[0] += 1
        a[1] += c.seconds
        a[2] += c.memory_bytes
    return [(size, int(a[0]), round(a[1], 6), round(a[2] / 2**20, 3))
            for size, a in sorted(agg.items())]


def lowering_counts(record: TraceRecord) -> tuple[list[str], list[list[str | int]]]:
    """``(kinds, rows)``: per piece (in first-seen order), how many kernels / extern calls /
    fallbacks of each kind; a row is ``[graph, piece, count per kind…]``."""
    counts: Counter[tuple[str, str, str]] = Counter(
        (low.graph_id, low.submod, low.kind) for low in record.lowerings)
    kinds = sorted({k for _, _, k in counts})
    pieces = list(dict.fromkeys((low.graph_id, low.submod) for low in record.lowerings))
    return kinds, [[g, s] + [counts.get((g, s, k), 0) for k in kinds] for g, s in pieces]
