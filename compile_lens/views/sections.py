"""Views: the HTML body of each report section (and each explorer tab): pure, escaped, stable.

Stage 4. Every function takes a ``TraceRecord`` and returns safe HTML built with
``views._html`` (all user text escaped). ``views.report`` assembles them into one page;
``views.widgets`` reuses them inside ipywidgets. Plots come from ``views.plots``. Callers pass a
record already redacted (``views._redact.shown``); repeated parts stop at ``views._limits`` caps
with a note saying how much more the saved trace holds.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from compile_lens.analysis import aggregate
from compile_lens.analysis.summary import Summary, summarize
from compile_lens.model import DynamoGraph, Piece, TraceRecord
from compile_lens.model.redaction import redact_dump
from compile_lens.views import tables
from compile_lens.views._html import (
    badge,
    cards,
    code_block,
    content_id,
    esc,
    fold,
    hint,
    table,
)
from compile_lens.views._limits import REPORT, Limits, cut_rows, cut_text

_MAX_NAMES = 50
"""Differing factor names listed above a key-mismatch block."""
NODE_COLS = ["name", "op", "target", "shape", "dtype", "dynamic_dims", "module_path"]


def headline_cards(s: Summary) -> str:
    """The headline numbers as cards."""
    pct = 100.0 * s.tracer_overhead_seconds / s.wall_seconds if s.wall_seconds else 0.0
    outcomes = ", ".join(f"{n} {k}" for k, n in s.outcomes.items() if n) or "none"
    return cards([
        ("graphs", s.graphs),
        ("pieces unique / total", f"{s.pieces_unique} / {s.pieces_total}"),
        ("split ops (eager)", s.split_ops),
        ("piece compiles", s.compiles),
        ("outcomes", outcomes),
        ("keys matched / mismatched", f"{s.keys_matched} / {s.keys_mismatched}"),
        ("compile seconds", f"{s.compile_seconds:.2f}"),
        ("tracer overhead", f"{s.tracer_overhead_seconds:.3f} s ({pct:.1f} %)"),
    ])


def overview(record: TraceRecord, limits: Limits = REPORT, *, why_links: bool = True) -> str:
    """The why block, headline, run info, notes and instrumentation issues (the timeline plot is
    added apart). ``why_links``: the page also holds the compile ledger (``why_view``)."""
    from compile_lens.views.why_view import why_block

    r = record.run
    info = [("torch", r.torch_version), ("triton", r.triton_version), ("python", r.python_version),
            ("device", r.device), ("cuda", r.cuda_version), ("vllm", r.vllm_version),
            ("platform", r.platform), ("started at", r.started_at), ("wall seconds", r.wall_s),
            ("compile_lens", r.compile_lens_version)]
    parts = [why_block(record, links=why_links, limits=limits), headline_cards(summarize(record)),
             table(["run", "value"], [(k, v) for k, v in info if v not in (None, "")],
                   sortable=False)]
    if r.overhead_breakdown:
        rows = sorted(r.overhead_breakdown.items())
        parts.append(fold("tracer overhead breakdown", table(["part", "seconds"], rows)))
    notes, cut = cut_rows(r.notes, limits.notes, "notes")
    parts += [hint(f"note: {cut_text(n, 2000)}") for n in notes] + ([hint(cut)] if cut else [])
    if record.issues:
        issues, cut = cut_rows(record.issues, limits.notes, "instrumentation issues")
        rows = [(i.hook, i.error_type, cut_text(i.message, 2000), i.count) for i in issues]
        parts.append("<h3>Instrumentation issues (the compile went on)</h3>"
                     + (hint(cut) if cut else "")
                     + table(["hook", "error", "message", "count"], rows))
    return "".join(parts)


def piece_label(p: Piece) -> str:
    """``submod_3 (piece 1)`` or ``submod_2 (split op: …)``."""
    if p.is_split_op:
        return f"{p.submod} (split op: {p.split_op})"
    return f"{p.submod} (piece {p.compiled_index})"


def key_anchor(key: str) -> str:
    """DOM id of a key's factor-lines block."""
    return content_id("key", key)


def _key_link(key: str | None) -> str:
    if not key:
        return ""
    short = key if len(key) <= 16 else key[:15] + "…"
    return f'<a class="cl-mono" href="#{key_anchor(key)}" title="{esc(key)}">{esc(short)}</a>'


def piece_detail(record: TraceRecord, graph: DynamoGraph, p: Piece, *, shown: bool,
                 members: list[str] | None = None, limits: Limits = REPORT) -> str:
    """One piece's panel: its compiles (keys, outcome), its code, its nodes.

    Args:
        record: the trace.
        graph: the Dynamo graph the piece belongs to.
        p: the piece.
        shown: whether the panel starts visible (the others show on selection).
        members: the piece's node names, when the caller already computed them.
        limits: caps on the code and node rows shown.
    """
    compiles = [c for c in record.compiles if c.graph_id == p.graph_id and c.submod == p.submod]
    rows = "".join(
        f"<tr><td>{esc(c.size)}</td><td>{esc(c.outcome)}</td><td>{esc(c.dedup_of or '')}</td>"
        f"<td>{_key_link(c.legacy_key)}</td><td>{_key_link(c.standalone_key)}</td>"
        f"<td>{_match_badge(c.key_match)}</td><td class=\"cl-n\">{c.seconds:.3f}</td></tr>"
        for c in compiles
    )
    head = "".join(f"<th>{h}</th>" for h in
                   ["size", "outcome", "dedup of", "legacy key", "standalone key", "match", "s"])
    comp = (f'<table class="cl-table"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'
            if compiles else hint("split op: runs eagerly between compiled pieces, no compile"))
    names = set(members if members is not None else _members(graph, p))
    nodes = [n for n in graph.nodes if n.name in names]
    shown_nodes, cut = cut_rows(nodes, limits.piece_nodes, "nodes")
    rows = [[_cell(getattr(n, c)) for c in NODE_COLS] for n in shown_nodes]
    cls = "cl-piece-detail cl-shown" if shown else "cl-piece-detail"
    code = code_block(p.code or "(no code recorded)", summary="code", open_=True,
                      limit=limits.piece_code)
    nodes_html = (hint(cut) if cut else "") + table(NODE_COLS, rows)
    return (f'<div class="{cls}" data-piece="{esc(p.submod)}"><h3>{esc(piece_label(p))}</h3>'
            f"{comp}{code}{fold(f'{len(nodes)} nodes', nodes_html)}</div>")


def _cell(v: Any) -> Any:
    return ", ".join(map(str, v)) if isinstance(v, list) else v


def _match_badge(match: bool | None) -> str:
    if match is None:
        return badge("n/a")
    return badge("match", "ok") if match else badge("MISMATCH", "bad")


def _members(graph: DynamoGraph, p: Piece) -> list[str]:
    from compile_lens.views.graphs import piece_members

    return piece_members(graph, [p]).get(p.submod, [])


def cross_check_status(record: TraceRecord) -> str:
    """One line: how many compiles' two keys matched, mismatched, or were not both computed."""
    s = summarize(record)
    return hint(f"cross-check: {s.keys_matched} matched, {s.keys_mismatched} mismatched, "
                f"{s.keys_unchecked} unchecked (deduplicated or loaded compiles have one key)")


def mismatches(record: TraceRecord, limits: Limits = REPORT) -> str:
    """One folded block per compile whose legacy and standalone keys differ (first one open)."""
    bad, cut = cut_rows([c for c in record.compiles if c.key_match is False], limits.mismatches,
                        "key mismatches")
    return "".join(fold(f"key mismatch: {c.submod} [{c.size}]",
                        mismatch_block(record, c, limits), open_=i == 0)
                   for i, c in enumerate(bad)) + (hint(cut) if cut else "")


def key_blocks(record: TraceRecord, limits: Limits = REPORT) -> str:
    """The factor lines of every distinct key, folded, each with an anchor the tables link to.

    Keys used by the most compiles come first when there are more than ``limits.key_blocks``.
    """
    uses = Counter(k for c in record.compiles for k in {c.legacy_key, c.standalone_key} if k)
    keys = sorted(record.key_lines)
    if len(keys) > limits.key_blocks:
        keys = sorted(sorted(keys, key=lambda k: -uses.get(k, 0))[: limits.key_blocks])
    blocks = "".join(
        f'<div id="{key_anchor(k)}">'
        + fold(f"{k}: used by {uses.get(k, 0)} compile(s), {len(record.key_lines[k])} factor lines",
               code_block("\n".join(record.key_lines[k]), limit=limits.key_chars))
        + "</div>"
        for k in keys
    )
    _, cut = cut_rows(list(record.key_lines), limits.key_blocks, "keys' factor lines")
    return ("<h3>Cache-key factor lines (one block per distinct key)</h3>" + (hint(cut) if cut else "")
            + (blocks or hint("no factor lines recorded")))


def pieces_and_keys(record: TraceRecord, limits: Limits = REPORT) -> str:
    """The pieces table (sortable, filterable), the cross-check status and the key factor lines."""
    all_rows = tables.pieces_rows(record)
    rows, cut = cut_rows(all_rows, limits.rows, "piece rows")
    cols = tables.PIECE_COLUMNS
    tid = content_id("tbl", "pieces", len(all_rows))
    keys = [i for i, c in enumerate(cols) if c.endswith("_key")]
    body = table(cols, ([r.get(c) for c in cols] for r in rows), table_id=tid, filterable=True,
                 scroll=True, short=keys)
    return (cross_check_status(record) + (hint(cut) if cut else "") + body
            + mismatches(record, limits) + key_blocks(record, limits))


def mismatch_block(record: TraceRecord, c: Any, limits: Limits = REPORT) -> str:
    """Why a piece's two keys differ: the factors ``t.cross_check()`` lists (the same
    ``analysis.cross_check.key_lines_of`` diff), then each key's lines of those factors.

    Each key's lines are walked once, so the block is linear in the number of lines (a key can
    carry tens of thousands).
    """
    from compile_lens.analysis.cross_check import key_lines_of

    d = key_lines_of(record, c)
    names, cut = cut_rows([ch.name for ch in d.changes], _MAX_NAMES, "factors")
    differ = hint(f"{len(d.changes)} factor(s) differ: {', '.join(names)}"
                  + (f" ({cut})" if cut else ""))
    body = (code_block("\n".join(d.only_old) or "(none recorded)", summary="only in the legacy key",
                       open_=True, limit=limits.key_chars)
            + code_block("\n".join(d.only_new) or "(none recorded)",
                         summary="only in the standalone key", open_=True,
                         limit=limits.key_chars))
    return f"<p>{badge('MISMATCH', 'bad')} {esc(c.submod)} [{esc(c.size)}]</p>{differ}{body}"


def pass_table(record: TraceRecord) -> str:
    """Per-pass totals over all piece compiles (the full table is ``Trace.passes``)."""
    return table(["pass", "phase", "total s", "runs", "max s"], aggregate.pass_totals(record),
                 table_id=content_id("tbl", "passes"), filterable=True)


def lowering_table(record: TraceRecord, limits: Limits = REPORT) -> str:
    """Counts of kernels / extern calls / fallbacks per piece, then every lowering (folded)."""
    kinds, rows = aggregate.lowering_counts(record)
    summary = table(["graph", "piece", *kinds], rows)
    cols = tables.LOWERING_COLUMNS
    shown, cut = cut_rows(tables.lowerings_rows(record), limits.rows, "lowerings")
    full = (hint(cut) if cut else "") + table(
        cols, ([r[c] for c in cols] for r in shown), table_id=content_id("tbl", "lowerings"),
        filterable=True, scroll=True)
    return summary + fold(f"all {len(record.lowerings)} lowerings", full)


def capture_table(record: TraceRecord) -> str:
    """Per capture size: pieces captured, total seconds and memory."""
    return table(["size", "pieces", "seconds", "memory MiB"], aggregate.capture_totals(record))


def factor_rows(record: TraceRecord, *, redact: bool = True) -> list[tuple[str, str, str]]:
    """``(layer, name, value)`` rows of the factor dump, secrets redacted unless ``redact`` is
    false (redacting an already redacted dump changes nothing)."""
    f = record.factors
    if f is None:
        return []
    f = redact_dump(f) if redact else f
    rows = [("env", k, v) for k, v in sorted(f.env.items())]
    for module, values in sorted(f.config.items()):
        rows += [(f"config.{module}", k, repr(v)) for k, v in sorted(values.items())]
    for layer, values in (("code", f.code), ("system", f.system), ("hashes", f.hashes)):
        rows += [(layer, k, str(v)) for k, v in sorted(values.items())]
    return rows


def factors(record: TraceRecord, limits: Limits = REPORT, *, redacted: bool = True) -> str:
    """The factor dump as one searchable table."""
    all_rows = factor_rows(record, redact=redacted)
    if not all_rows:
        return hint("no factor dump in this trace")
    rows, cut = cut_rows(all_rows, limits.rows, "factors")
    src = record.factors.source if record.factors else ""
    note = hint(f"source: {src}; {len(all_rows)} factors"
                + ("; secrets redacted (keyed fingerprints, see docs/security.md)"
                   if redacted else "; NOT redacted"))
    return note + (hint(cut) if cut else "") + table(
        ["layer", "name", "value"], rows, table_id=content_id("tbl", "factors"), filterable=True,
        scroll=True)
