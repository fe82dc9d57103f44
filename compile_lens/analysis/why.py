"""Analysis: the "why" block, the short answer a trace opens with.

Stage 3, pure. Groups the compile ledger's rows by cause (recompiles of a frame by failing guard,
recompile-limit hits, graph breaks, cache bypasses by layer and reason, cache misses, failures)
into a few lines, most costly first (compile seconds), each pointing at its first ledger row.
A hint is attached only where torch names the remedy: the ``Hint:`` lines torch writes into graph-break and
recompile-limit messages, and, for a recompile on a tensor size change, marking that dimension
dynamic (torch's documentation on recompilations and dynamic shapes, ``mark_dynamic``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from compile_lens.analysis import torch_text
from compile_lens.analysis.ledger import (
    BYPASS,
    FAILED,
    LAYER_NAMES,
    LIMIT,
    MISS,
    RECOMPILE,
    LedgerRow,
    ledger,
)
from compile_lens.model.trace import TraceRecord

MARK_DYNAMIC = ("mark the dimension dynamic before the first call: "
                "torch._dynamo.mark_dynamic({tensor}, {index}) (torch docs: dynamic shapes)")


@dataclass(frozen=True, kw_only=True)
class WhyItem:
    """One line of the why block: ``text``, the ledger rows it covers, a remedy torch names."""

    text: str
    cause: str
    rows: list[int]
    seconds: float = 0.0
    hint: str = ""


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s" if not word.endswith("s") else f"{n} {word}es"


def _recompiles(rows: list[LedgerRow]) -> list[WhyItem]:
    groups: dict[tuple[str, str], list[LedgerRow]] = defaultdict(list)
    for r in rows:
        if r.cause == RECOMPILE:
            groups[(r.name, r.guard)].append(r)
    out = []
    for (name, guard), rs in groups.items():
        first = rs[0]
        failed = f"guard `{guard}` failed" if guard else "guards failed"
        changed = f": {first.changed}" if first.changed else ""
        hint = ""
        failure = torch_text.guard_failure(first.reasons[0]) if first.reasons else None
        if failure is not None and failure.what == "size" and failure.tensor:
            hint = MARK_DYNAMIC.format(tensor=failure.tensor, index=failure.index or 0)
        out.append(WhyItem(text=f"{_plural(len(rs), 'recompile')} of `{name}` ({failed}{changed})",
                           cause=RECOMPILE, rows=[r.index for r in rs],
                           seconds=sum(r.seconds for r in rs), hint=hint))
    return out


def _limits(record: TraceRecord, rows: list[LedgerRow]) -> list[WhyItem]:
    out = []
    for r in rows:
        if r.cause == LIMIT:
            last = f"; last guard failure: `{r.guard}`" if r.guard else ""
            text = f"recompile limit hit for `{r.name}`: {r.why}{last}"
            frame = next((f for f in record.frame_compiles if f.compile_id == r.compile_id
                          and f.process == r.process and f.fail_reason), None)
            found = torch_text.hints(frame.fail_reason) if frame is not None else []
            out.append(WhyItem(text=text, cause=LIMIT, rows=[r.index], seconds=r.seconds,
                               hint=found[0] if found else ""))
    return out


def _breaks(record: TraceRecord, rows: list[LedgerRow]) -> list[WhyItem]:
    """Graph breaks grouped by torch's break type (a storm of one kind is one line)."""
    frames = {(f.process, f.compile_id): f for f in record.frame_compiles if f.graph_breaks}
    groups: dict[str, list[tuple[LedgerRow, str, str]]] = defaultdict(list)
    for r in rows:
        frame = frames.get((r.process, r.compile_id))
        if r.kind != "frame" or frame is None:
            continue
        for payload in frame.graph_breaks:
            at, reason = torch_text.graph_break(payload)
            groups[torch_text.break_type(reason)].append((r, at, reason))
    out = []
    for kind, hits in groups.items():
        first, at, reason = hits[0]
        where = f" at {at}" if at else ""
        text = (f"{_plural(len(hits), 'graph break')} ({kind}): first in `{first.name}`{where}")
        found = torch_text.hints(reason)
        rows_hit = list(dict.fromkeys(r.index for r, _, _ in hits))
        out.append(WhyItem(text=text, cause="graph_break", rows=rows_hit,
                           seconds=sum(r.seconds for r in {r.index: r for r, _, _ in hits}.values()),
                           hint=found[0] if found else ""))
    return out


def _caches(rows: list[LedgerRow]) -> list[WhyItem]:
    """Bypasses by layer and torch's reason; compiles after misses by the layers that missed."""
    bypass: dict[tuple[str, str], list[LedgerRow]] = defaultdict(list)
    missed: dict[tuple[str, ...], list[LedgerRow]] = defaultdict(list)
    for r in rows:
        for d in r.decisions:
            if d.answer == "bypass":
                bypass[(d.layer, d.reason)].append(r)
        layers = tuple(dict.fromkeys(d.layer for d in r.decisions if d.answer == "miss"))
        if layers and r.cause in (MISS, BYPASS):
            missed[layers].append(r)
    out = []
    for (layer, reason), rs in bypass.items():
        name = LAYER_NAMES.get(layer, layer)
        text = f"{_plural(len(rs), f'{name} bypass')}: {torch_text.first_line(reason)}"
        out.append(WhyItem(text=text, cause=BYPASS, rows=[r.index for r in rs],
                           seconds=sum(r.seconds for r in rs)))
    for layers, rs in missed.items():
        names = ", ".join(LAYER_NAMES.get(x, x) for x in layers)
        text = f"{_plural(len(rs), 'compile')} after cache misses: {names}"
        out.append(WhyItem(text=text, cause=MISS, rows=[r.index for r in rs],
                           seconds=sum(r.seconds for r in rs)))
    return out


def _failures(rows: list[LedgerRow]) -> list[WhyItem]:
    """Failed compiles; a piece failure its frame row already explains is not repeated."""
    explained = {(r.process, r.compile_id) for r in rows
                 if r.kind == "frame" and r.cause in (FAILED, LIMIT)}
    return [WhyItem(text=f"`{r.name}` [{r.compile_id}]: {r.why}", cause=FAILED, rows=[r.index],
                    seconds=r.seconds) for r in rows if r.cause == FAILED
            and (r.kind == "frame" or (r.process, r.compile_id) not in explained)]


def why(record: TraceRecord, rows: list[LedgerRow] | None = None) -> list[WhyItem]:
    """The why block of ``record``: empty when nothing recompiled, broke, bypassed or missed."""
    rows = ledger(record) if rows is None else rows
    items = (_limits(record, rows) + _recompiles(rows) + _breaks(record, rows) + _failures(rows)
             + _caches(rows))
    # Costly causes first; a recompile-limit hit (the frame now runs eagerly) always leads.
    order = {LIMIT: 0, RECOMPILE: 1, "graph_break": 2, FAILED: 3, BYPASS: 4, MISS: 5}
    return sorted(items, key=lambda i: (i.cause != LIMIT, -round(i.seconds, 3),
                                        order.get(i.cause, 9), i.rows[0]))


def why_text(items: list[WhyItem]) -> list[str]:
    """The block as text lines (the summary's first lines), hints indented under their cause."""
    lines = []
    for item in items:
        lines.append(f"  {item.text}")
        if item.hint:
            lines.append(f"    hint: {item.hint}")
    return lines
