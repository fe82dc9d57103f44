"""Views: the CUDA-graph part of a ``Diff`` (``analysis.cudagraph_diff``) as text lines, HTML
sections and DataFrame rows.

Stage 4, stdlib only. The three forms come from the same cells, so ``str(diff)``, the page and
``Diff.to_dataframe()`` say the same; HTML goes through ``views._html`` (escaped).
"""

from __future__ import annotations

from typing import Any

from compile_lens.analysis.cudagraph_diff import CudaGraphDiff, ModeDiff, SizeCell
from compile_lens.analysis.cudagraphs import size_ranges
from compile_lens.views import _html as h
from compile_lens.views._limits import REPORT, cut_rows
from compile_lens.views.diff_rows import _row as row

MIB = 2**20
ENTRY = "CUDA graphs"
_MAX_SIZES_TEXT = 24
"""Per-size lines in the text (the page and the DataFrame have all of them)."""


def _num(value: Any, unit: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}{unit}"
    if isinstance(value, int):
        return f"{value:,}{unit}"
    return f"{value}{unit}"


def _mib(value: int | None) -> float | None:
    return None if value is None else round(value / MIB, 3)


def _pct(value: float | None) -> str | None:
    return None if value is None else f"{100 * value:.1f}%"


def _change(a: Any, b: Any, unit: str = "") -> str:
    """``a → b`` with the ratio when both are positive numbers."""
    text = f"{_num(a, unit)} → {_num(b, unit)}"
    if isinstance(a, int | float) and isinstance(b, int | float) and a > 0 and b > 0 and a != b:
        text += f" (×{b / a:.2g})"
    return text


def _measures(m: ModeDiff) -> list[tuple[str, Any, Any, str]]:
    """``(name, A, B, unit)`` of one mode, in the order every form shows them."""
    return [
        ("sizes", m.sizes[0], m.sizes[1], ""),
        ("graphs", m.graphs[0], m.graphs[1], ""),
        ("capture seconds", _r(m.capture_seconds[0]), _r(m.capture_seconds[1]), " s"),
        ("warm-up seconds", _r(m.warmup_seconds[0]), _r(m.warmup_seconds[1]), " s"),
        ("pool growth MiB", _mib(m.pool_bytes[0]), _mib(m.pool_bytes[1]), " MiB"),
        ("held after MiB", _mib(m.held_bytes[0]), _mib(m.held_bytes[1]), " MiB"),
        ("calls", m.replays[0], m.replays[1], ""),
        ("padding", _pct(m.waste[0]), _pct(m.waste[1]), ""),
    ]


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def _presence(m: ModeDiff) -> str:
    if not m.sizes[0] and m.sizes[1]:
        return "only in B"
    if m.sizes[0] and not m.sizes[1]:
        return "only in A"
    return ""


def text_lines(cd: CudaGraphDiff | None) -> list[str]:
    """The block ``str(diff)`` prints (empty when neither trace has CUDA graphs)."""
    if cd is None:
        return []
    shape = "same modes and sizes" if cd.same_shape else "modes or sizes differ"
    out = [f"CUDA graphs ({shape}):"]
    for s in cd.settings:
        out.append(f"  {s.name}: {s.a}" if s.same else f"  {s.name}: {s.a} → {s.b}")
    for m in cd.modes:
        where = _presence(m)
        out.append(f"  {m.mode}" + (f" ({where})" if where else "") + ":")
        parts = [f"{name.removesuffix(' MiB')} {_change(a, b, unit)}"
                 for name, a, b, unit in _measures(m)
                 if a is not None or b is not None]
        out.append("    " + "; ".join(parts))
        if m.only_a:
            out.append(f"    sizes captured only in A: {size_ranges(m.only_a)}")
        if m.only_b:
            out.append(f"    sizes captured only in B: {size_ranges(m.only_b)}")
    for reason, ca, cb in cd.fallbacks:
        out.append(f"  calls without a graph ({reason}): {ca:,} → {cb:,}")
    busy = [s for s in cd.sizes if (s.a and s.a.replays) or (s.b and s.b.replays)]
    for s in busy[:_MAX_SIZES_TEXT]:
        pad = (_waste(s.a), _waste(s.b))
        out.append(f"  {s.mode} size {s.size}: calls {_change(_calls(s.a), _calls(s.b))}"
                   + (f", padding {_change(*pad)}" if pad != (None, None) else ""))
    if len(busy) > _MAX_SIZES_TEXT:
        out.append(f"  … {len(busy) - _MAX_SIZES_TEXT} more sizes that ran; all of them: "
                   "Diff.to_dataframe() or Diff.to_html()")
    return out


def _calls(cell: SizeCell | None) -> int | None:
    return None if cell is None else cell.replays


def _waste(cell: SizeCell | None) -> str | None:
    return None if cell is None else _pct(cell.waste)


def html_sections(cd: CudaGraphDiff | None) -> list[tuple[str, str]]:
    """``(heading, html)``: settings and modes, then one row per mode and size."""
    if cd is None:
        return []
    settings = h.table(["setting", "run A", "run B"],
                       [[s.name, s.a, s.b] for s in cd.settings], sortable=False)
    head = ["mode", "in"] + [name for name, *_ in _measures(cd.modes[0])] if cd.modes else []
    modes = h.table(head, [[m.mode, _presence(m) or "both"]
                           + [_change(a, b, unit) for _, a, b, unit in _measures(m)]
                           for m in cd.modes], sortable=False) if cd.modes else ""
    only = "".join(
        h.hint(f"{m.mode}: sizes captured only in {side}: {size_ranges(sizes)}")
        for m in cd.modes for side, sizes in (("A", m.only_a), ("B", m.only_b)) if sizes)
    fall = h.table(["calls without a graph: why", "run A", "run B"],
                   [list(f) for f in cd.fallbacks], sortable=False) if cd.fallbacks else ""
    shown, cut = cut_rows(cd.sizes, REPORT.rows, "mode and size rows")
    rows = [[s.mode, s.size, *_cell(s.a), *_cell(s.b)] for s in shown]
    sizes = (h.hint(cut) if cut else "") + h.table(
        ["mode", "size", "capture s A", "pool MiB A", "calls A", "padding A",
         "capture s B", "pool MiB B", "calls B", "padding B"], rows, scroll=True)
    verdict = h.hint("Both runs captured the same modes at the same sizes."
                     if cd.same_shape else "The runs captured different modes or sizes.")
    return [("CUDA graphs: A vs B", verdict + settings + modes + only + fall),
            ("CUDA graphs per mode and size", sizes)]


def _cell(cell: SizeCell | None) -> list[Any]:
    if cell is None:
        return ["not captured", None, None, None]
    return [round(cell.capture_seconds, 6), _mib(cell.pool_bytes), cell.replays,
            _pct(cell.waste)]


def frame_rows(cd: CudaGraphDiff | None) -> list[dict[str, Any]]:
    """Rows for ``Diff.to_dataframe()`` (``diff_rows.COLUMNS``, never in a key): settings,
    per-mode measures, sizes in one run only, fallbacks, per-size calls and padding."""
    if cd is None:
        return []
    out = [row(ENTRY, "cudagraphs", "settings", s.name, "same" if s.same else "changed", s.a,
               s.b, "capture setting", in_key=False) for s in cd.settings]
    for m in cd.modes:
        for name, a, b, unit in _measures(m):
            if a is None and b is None:
                continue
            out.append(row(ENTRY, "cudagraphs", m.mode, name, _presence(m) or (
                "same" if a == b else "changed"), a, b, _change(a, b, unit), in_key=False))
        for side, sizes in (("A", m.only_a), ("B", m.only_b)):
            if sizes:
                out.append(row(ENTRY, "cudagraphs", m.mode, "sizes captured", f"only in {side}",
                               size_ranges(sizes) if side == "A" else None,
                               size_ranges(sizes) if side == "B" else None,
                               f"{len(sizes)} size(s) captured only in run {side}",
                               in_key=False))
    for reason, ca, cb in cd.fallbacks:
        out.append(row(ENTRY, "cudagraphs", "NONE", f"calls without a graph: {reason}",
                       "same" if ca == cb else "changed", ca, cb, _change(ca, cb), in_key=False))
    for s in cd.sizes:
        a, b = _cell(s.a), _cell(s.b)
        change = "only in A" if s.b is None else "only in B" if s.a is None else (
            "same" if a == b else "changed")
        out.append(row(ENTRY, "cudagraphs size", s.mode, f"size {s.size}", change,
                   _cell_text(a), _cell_text(b), "capture s, pool MiB, calls, padding",
                   in_key=False))
    return out


def _cell_text(cells: list[Any]) -> str:
    if cells[0] == "not captured":
        return "not captured"
    return ", ".join(_num(c) if not isinstance(c, str) else c for c in cells)
