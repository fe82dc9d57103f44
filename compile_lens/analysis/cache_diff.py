"""Analysis: across two runs, what compiled in run B that came from a cache in run A, and why.

Stage 3, pure. Piece compiles pair by graph position, piece name and size. A pair is listed when
A got the piece from a cache (``loaded``, ``deduplicated``, ``cache_hit``) and B compiled it; the
entry carries B's cause from the compile ledger (each cache layer's answer in torch's or the
backend's words) and both keys, next to the factor changes ``diff`` already names.
"""

from __future__ import annotations

from dataclasses import dataclass

from compile_lens.analysis.ledger import BYPASS, MISS, LedgerRow, ledger
from compile_lens.model.events import CACHE_HIT, COMPILED, DEDUPLICATED, LOADED
from compile_lens.model.trace import TraceRecord

FROM_CACHE = (LOADED, DEDUPLICATED, CACHE_HIT)
COMPILED_CAUSES = (MISS, BYPASS, COMPILED)


@dataclass(frozen=True)
class FromCache:
    """A piece compile that came from a cache in run A and was compiled in run B."""

    graph: str
    submod: str
    size: str
    a_cause: str
    b_cause: str
    why: str
    a_key: str | None = None
    b_key: str | None = None
    seconds: float = 0.0


def _slots(record: TraceRecord) -> dict[tuple[int, str, str], LedgerRow]:
    order = {g.id: i for i, g in enumerate(record.graphs)}
    out: dict[tuple[int, str, str], LedgerRow] = {}
    for row in ledger(record):
        if row.kind == "piece":
            out.setdefault((order.get(row.graph_id, -1), row.submod, row.size), row)
    return out


def _key(record: TraceRecord, row: LedgerRow) -> str | None:
    c = next((c for c in record.compiles if (c.graph_id, c.submod, c.size)
              == (row.graph_id, row.submod, row.size)), None)
    return None if c is None else c.standalone_key or c.legacy_key


def from_cache(a: TraceRecord, b: TraceRecord) -> list[FromCache]:
    """Pieces B compiled that A took from a cache, in B's compile order."""
    slots_a = _slots(a)
    out = []
    for slot, row in sorted(_slots(b).items(), key=lambda kv: kv[1].index):
        before = slots_a.get(slot)
        if before is None or before.cause not in FROM_CACHE or row.cause not in COMPILED_CAUSES:
            continue
        out.append(FromCache(graph=row.graph_id, submod=row.submod, size=row.size,
                             a_cause=before.cause, b_cause=row.cause, why=row.why,
                             a_key=_key(a, before), b_key=_key(b, row), seconds=row.seconds))
    return out


def from_cache_lines(items: list[FromCache]) -> list[str]:
    """The text block ``str(diff)`` shows (empty when nothing moved from a cache to a compile)."""
    if not items:
        return []
    lines = ["Compiled in B, from a cache in A:"]
    for x in items:
        keys = f" (key {x.a_key or '?'} → {x.b_key or '?'})" if x.a_key != x.b_key else ""
        lines.append(f"  {x.submod} [{x.size}]: {x.a_cause} in A; in B {x.why}{keys}")
    return lines
