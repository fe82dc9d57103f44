"""Views: render a ``Diff`` as text, a DataFrame, notebook output and a one-file HTML page.

Stage 4. Text and HTML come from the same rows, so the terminal, the notebook and the page say
the same thing in the same order. Output is deterministic; every value is escaped in HTML.
(``compile-lens diff A B [--html OUT]`` is ``cli.cli_diff``.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from compile_lens.analysis.cache_diff import from_cache_lines
from compile_lens.model.safe_text import visible
from compile_lens.views import _html as h
from compile_lens.views.diff_rows import COLUMNS, entry_rows, short, unified, verdict

_MAX_PIECE_ROWS = 40
_MAX_TEXT_ITEMS = 40
"""Causes (and noise items) printed per entry; the DataFrame and the HTML list more."""


def diff_frame(d: Any) -> Any:
    """One row per hash change, cause, noise item and differing piece key."""
    try:
        import pandas as pd
    except ImportError as exc:  # pragma: no cover - pandas is a core dependency
        from compile_lens.errors import missing_dependency

        err = missing_dependency("pandas", "Diff.to_dataframe()", "notebook")
        raise err from exc
    from compile_lens.views.cudagraph_diff_view import frame_rows

    rows = [row for e in d.entries for row in entry_rows(e)]
    rows += frame_rows(getattr(d, "cudagraphs", None))
    return pd.DataFrame(rows, columns=list(COLUMNS))


def _q(value: str | None) -> str:
    return "(absent)" if value is None else repr(short(value, 100))


def _change_lines(n: int, c: Any, indent: str = "  ") -> list[str]:
    head = f"{indent}{n}. " if n else f"{indent}   ↳ "
    out = [f"{head}{c.layer} {c.name}: {_q(c.old)} → {_q(c.new)}"]
    pad = indent + "      "
    out.append(f"{pad}{c.effect}" + (f" (because {c.explained_by})" if c.explained_by else ""))
    out.extend(f"{pad}evidence: {ev}" for ev in c.evidence)
    return out


def _piece_header(e: Any, changed: list[Any]) -> str:
    pieces = e.counts.get("pieces", (0, 0))
    uname, unique = next(
        ((k, v) for k, v in e.counts.items() if k.startswith("unique")), ("", None)
    )
    moved = len({(p.a, p.b) for p in changed})
    kinds = ", ".join(sorted({p.kind for p in changed}))
    matched = len({(p.a, p.b) for p in e.pieces if p.a and p.b})
    return (
        f"Piece compiles: {pieces[0]} vs {pieces[1]}"
        + (f" ({uname} {unique[0]} vs {unique[1]})" if unique else "")
        + "; "
        f"keys changed in {moved} of {matched} matched piece(s)" + (f" ({kinds})" if kinds else "")
    )


def _factor_lines(group: list[Any]) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    for p in group:
        for line in p.lines:
            if line.name in seen or len(seen) >= 12:
                continue
            seen.add(line.name)
            if line.name.split("[")[0] == "gm" and line.old and line.new:
                out.append(f"      {line.name} (the traced graph's code):")
                out.extend("        " + t for t in unified(line.old, line.new).splitlines()[:16])
            else:
                out.append(f"      {line.name}: {_q(line.old)} → {_q(line.new)}")
    return out


def _piece_lines(e: Any) -> list[str]:
    """One line per changed piece (its keys per kind), then the factor lines that differ."""
    changed = [p for p in e.pieces if p.kind and not p.same]
    lines = [_piece_header(e, changed)] if e.counts else []
    groups: dict[tuple[str, str], list[Any]] = {}
    for p in [*changed, *(p for p in e.pieces if not p.kind)]:
        groups.setdefault((p.a, p.b), []).append(p)
    for (a, b), group in list(groups.items())[:_MAX_PIECE_ROWS]:
        keys = ", ".join(
            f"{p.kind} {short(p.old_key, 14)} → {short(p.new_key, 14)}" for p in group if p.kind
        )
        notes = sorted({p.note for p in group if p.note and not p.kind})
        detail = keys or "; ".join(notes)
        lines.append(f"  {a or b}: {detail}")
        lines.extend(_factor_lines(group))
    return lines


def _entry_text(e: Any) -> list[str]:
    out = [f"[{e.label}]"] if e.label else []
    if e.only_in:
        side = "A" if e.only_in == "a" else "B"
        return [*out, f"  only in run {side}: nothing to compare it with"]
    if e.hashes:
        out.append("Top-level hashes that differ:")
        out.extend(
            f"  {x.name:<9}{short(x.old, 16)} → {short(x.new, 16)}   {x.effect}" for x in e.hashes
        )
    if e.causes:
        out.append("Causes (most consequential first):")
        n = 0
        for c in e.causes[:_MAX_TEXT_ITEMS]:
            n = n if c.explained_by else n + 1
            out.extend(_change_lines(0 if c.explained_by else n, c))
        out.extend(_more(len(e.causes), "causes"))
    out.extend(_piece_lines(e))
    if e.noise:
        out.append("Not in the key (noise):")
        out.extend(
            f"  {c.layer} {c.name}: {_q(c.old)} → {_q(c.new)}  ({c.effect})"
            for c in e.noise[:_MAX_TEXT_ITEMS]
        )
        out.extend(_more(len(e.noise), "noise items"))
    return out


def _more(total: int, what: str) -> list[str]:
    if total <= _MAX_TEXT_ITEMS:
        return []
    return [f"  … {total - _MAX_TEXT_ITEMS} more {what}; all of them: Diff.to_dataframe() or "
            "Diff.to_html()"]


def diff_text(d: Any) -> str:
    """The readable explanation ``str(diff)`` prints (control characters shown as escapes)."""
    lines = [f"compile_lens diff: {d.a_name}  vs  {d.b_name}", verdict(d), ""]
    for e in d.entries:
        lines.extend(_entry_text(e))
        lines.append("")
    from compile_lens.views.cudagraph_diff_view import text_lines

    moved = from_cache_lines(getattr(d, "from_cache", []))
    lines.extend([*moved, ""] if moved else [])
    graphs = text_lines(getattr(d, "cudagraphs", None))
    lines.extend([*graphs, ""] if graphs else [])
    return visible("\n".join(lines).rstrip() + "\n")


def _sections(d: Any) -> list[tuple[str, str]]:
    from compile_lens.views.diff_html import entry_sections

    summary = h.cards(
        [
            ("entries", len(d.entries)),
            ("causes", sum(1 for c in d.causes if not c.explained_by)),
            ("keys agree", "yes" if d.equal else "no"),
        ]
    )
    head = summary + f"<p>{h.badge(verdict(d), 'ok' if d.equal else 'bad')}</p>"
    sections = [("Verdict", head)]
    for e in d.entries:
        sections.extend(entry_sections(e))
    moved = getattr(d, "from_cache", [])
    if moved:
        rows = [[x.submod, x.size, x.a_cause, x.why, x.a_key, x.b_key] for x in moved]
        sections.append(("Compiled in B, from a cache in A", h.table(
            ["piece", "size", "in A", "in B (why)", "key in A", "key in B"], rows,
            short=[4, 5])))
    from compile_lens.views.cudagraph_diff_view import html_sections

    sections.extend(html_sections(getattr(d, "cudagraphs", None)))
    return sections


def diff_html(d: Any, path: str | None = None) -> str:
    """A self-contained page (``render_page``); written to ``path`` when given."""
    from compile_lens.views.page import render_page

    page = render_page("compile_lens diff", _sections(d), subtitle=f"{d.a_name}  vs  {d.b_name}")
    if path is not None:
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(page, encoding="utf-8")
    return page


def diff_mimebundle(d: Any, include: Any = None, exclude: Any = None) -> dict[str, str]:
    """``text/plain`` (the text) and ``text/html`` (a notebook fragment in the report's style)."""
    from compile_lens.views.mimebundle import mimebundle
    from compile_lens.views.page import render_fragment

    return mimebundle(lambda: diff_text(d),
                      lambda: render_fragment("compile_lens diff", _sections(d), open_=3),
                      include, exclude)
