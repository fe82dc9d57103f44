"""Views: the HTML sections of one ``Diff`` entry (hashes, causes, pieces, noise).

Stage 4, stdlib only; every value goes through ``compile_lens.views._html`` (escaped).
"""

from __future__ import annotations

from typing import Any

from compile_lens.views import _html as h
from compile_lens.views._limits import REPORT, cut_rows
from compile_lens.views.diff_rows import short, unified

ABSENT = "(absent)"


def _v(value: str | None) -> str:
    return ABSENT if value is None else str(short(value))


_MAX_PIECES = 60


def _causes(e: Any) -> str:
    rows = []
    n = 0
    causes, cut = cut_rows(e.causes, REPORT.rows, "causes")
    for c in causes:
        n = n if c.explained_by else n + 1
        num = f"↳ {n}" if c.explained_by else str(n)
        effect = c.effect + (f" (because {c.explained_by})" if c.explained_by else "")
        rows.append([num, c.layer, c.name, _v(c.old), _v(c.new), effect, "; ".join(c.evidence)])
    return (h.hint(cut) if cut else "") + h.table(
        ["#", "layer", "factor", "run A", "run B", "effect", "evidence"], rows, sortable=False
    )


def _hashes(e: Any) -> str:
    rows = [[x.name, x.old, x.new, x.effect] for x in e.hashes]
    return h.table(["hash", "run A", "run B", "effect"], rows, sortable=False)


_MAX_LINES = 200
"""Differing factor lines shown per piece (a key can differ in tens of thousands of lines)."""


def _piece(p: Any) -> str:
    if not p.lines:
        return h.hint(p.note or "no factor lines recorded")
    lines, cut = cut_rows(p.lines, _MAX_LINES, "differing factor lines")
    rows = [[line.name, _v(line.old), _v(line.new)] for line in lines]
    body = (h.hint(cut) if cut else "") + h.table(["factor line", "run A", "run B"], rows,
                                                  sortable=False)
    for line in lines:
        if line.name.split("[")[0] == "gm" and line.old and line.new:
            body += h.code_block(
                unified(line.old, line.new), summary=f"{line.name}: graph code diff"
            )
    return body


def _pieces(e: Any) -> str:
    pa = e.counts.get("pieces", (0, 0))
    uname, pb = next(
        ((k, v) for k, v in e.counts.items() if k.startswith("unique")), ("keys", (0, 0))
    )
    head = h.cards(
        [
            ("piece compiles A", pa[0]),
            ("piece compiles B", pa[1]),
            (f"{uname} A", pb[0]),
            (f"{uname} B", pb[1]),
        ]
    )
    pieces, cut = cut_rows(e.pieces, REPORT.rows, "pieces")
    rows = [
        [
            p.a,
            p.b,
            p.kind,
            "same" if p.same else "differs",
            short(p.old_key, 20),
            short(p.new_key, 20),
            p.note or len(p.lines),
        ]
        for p in pieces
    ]
    table = h.table(
        ["piece A", "piece B", "key", "state", "key A", "key B", "lines / note"],
        rows,
        table_id=h.content_id("pieces", e.label),
        filterable=True,
        scroll=True,
    )
    details = "".join(
        h.fold(f"{p.a or p.b}: {p.kind} key lines that differ", _piece(p))
        for p in [q for q in e.pieces if q.kind and not q.same and q.lines][:_MAX_PIECES]
    )
    return head + (h.hint(cut) if cut else "") + table + details


def _noise(e: Any) -> str:
    noise, cut = cut_rows(e.noise, REPORT.rows, "noise items")
    rows = [[c.layer, c.name, _v(c.old), _v(c.new), c.effect] for c in noise]
    return (h.hint(cut) if cut else "") + h.table(
        ["layer", "factor", "run A", "run B", "why it does not matter"], rows, sortable=False
    )


def entry_sections(e: Any) -> list[tuple[str, str]]:
    """``(heading, html)`` sections for one entry of a diff."""
    tag = f" [{e.label}]" if e.label else ""
    if e.only_in:
        side = "A" if e.only_in == "a" else "B"
        return [(f"Only in run {side}{tag}", h.hint("nothing to compare it with"))]
    out = []
    if e.hashes:
        out.append((f"Top-level hashes{tag}", _hashes(e)))
    if e.causes:
        out.append((f"Causes{tag}", _causes(e)))
    if e.pieces:
        out.append((f"Pieces{tag}", _pieces(e)))
    if e.noise:
        out.append((f"Not in the key{tag}", _noise(e)))
    if not out:
        out.append((f"Factors{tag}", h.hint("identical: nothing differs")))
    return out
