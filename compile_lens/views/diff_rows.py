"""Views: a ``Diff`` as flat rows (the DataFrame and the HTML tables share them) and its verdict.

Stage 4, stdlib only.
"""

from __future__ import annotations

import difflib
from typing import Any

COLUMNS = (
    "entry",
    "section",
    "layer",
    "name",
    "change",
    "old",
    "new",
    "in_key",
    "effect",
    "evidence",
)


MAX_VALUE = 160


def short(value: str | None, limit: int = MAX_VALUE) -> str | None:
    """One-line, length-limited form of a value for tables and text."""
    if value is None:
        return None
    flat = " ".join(str(value).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def unified(old: str | None, new: str | None, name: str = "gm") -> str:
    """A unified diff of two multi-line values (the traced graph code, ``gm``)."""
    a = (old or "").splitlines(keepends=True)
    b = (new or "").splitlines(keepends=True)
    return "".join(difflib.unified_diff(a, b, fromfile=f"a/{name}", tofile=f"b/{name}", n=2))


def verdict(d: Any) -> str:
    """One sentence: do the keys agree, and if not, the first cause."""
    noise = sum(len(e.noise) for e in d.entries)
    if d.equal:
        extra = f" ({noise} difference(s) outside the key, listed as noise)" if noise else ""
        return "The cache keys agree: nothing that goes into a key differs" + extra + "."
    causes = d.causes
    first = f"; first: {causes[0].layer} {causes[0].name}" if causes else ""
    hashes = sum(len(e.hashes) for e in d.entries)
    primary = sum(1 for c in causes if not c.explained_by)
    parts = [f"{primary} cause(s)"]
    if len(causes) > primary:
        parts[0] += f" (+{len(causes) - primary} consequence(s))"
    parts += [f"{hashes} top-level hash(es)"] if hashes else []
    only = [e.label for e in d.entries if e.only_in]
    if only:
        parts.append(f"{len(only)} entry(ies) on one side only")
    return f"The cache keys differ: {', '.join(parts)}{first}."


def _row(
    entry: str,
    section: str,
    layer: str,
    name: str,
    change: str,
    old: Any,
    new: Any,
    effect: str,
    evidence: str = "",
    in_key: bool | None = True,
) -> dict[str, Any]:
    values = (entry, section, layer, name, change, old, new, in_key, effect, evidence)
    return dict(zip(COLUMNS, values, strict=True))


def _change_row(label: str, section: str, c: Any) -> dict[str, Any]:
    effect = c.effect + (f" (because {c.explained_by})" if c.explained_by else "")
    return _row(
        label,
        section,
        c.layer,
        c.name,
        c.kind,
        short(c.old),
        short(c.new),
        effect,
        "; ".join(c.evidence),
        c.in_key,
    )


def _piece_row(label: str, p: Any) -> dict[str, Any]:
    names = ", ".join(line.name for line in p.lines[:8])
    effect = p.note or f"{len(p.lines)} factor line(s) differ"
    return _row(
        label,
        "piece",
        p.kind or "piece",
        p.a or p.b,
        "changed" if p.kind else p.note,
        p.old_key,
        p.new_key,
        effect,
        names,
    )


def entry_rows(e: Any) -> list[dict[str, Any]]:
    """Rows for one entry: hashes, causes (explained ones marked), pieces, noise."""
    if e.only_in:
        side = "A" if e.only_in == "a" else "B"
        return [
            _row(
                e.label,
                "entry",
                "",
                e.label,
                f"only in {side}",
                None,
                None,
                "nothing to compare it with",
            )
        ]
    rows = [
        _row(e.label, "hash", "hash", x.name, "changed", x.old, x.new, x.effect) for x in e.hashes
    ]
    rows += [_change_row(e.label, "explained" if c.explained_by else "cause", c) for c in e.causes]
    rows += [_piece_row(e.label, p) for p in e.pieces if not (p.kind and p.same)]
    rows += [_change_row(e.label, "noise", c) for c in e.noise]
    return rows
