"""Views: turn a ``SplitDrawing`` into Graphviz source and inline SVG, with a plain fallback.

Stage 4. ``dot`` is an optional external program: when it is missing (or fails) the graph is drawn
as a plain SVG grid of pieces and ``render_svg`` returns a one-line hint saying how to get the
full drawing. Output is deterministic: ids come from content hashes, comments are stripped.
"""

from __future__ import annotations

import itertools
import re
import shutil
import subprocess

from compile_lens.model.safe_text import html_visible
from compile_lens.views._html import content_id, esc
from compile_lens.views.graphs import SPLIT_FILL, SPLIT_LINE, SplitDrawing

NO_DOT_HINT = (
    "Graphviz's dot program was not found, so this is a plain layout; install Graphviz "
    "(Debian/Ubuntu: apt-get install graphviz; conda: conda install graphviz) for the full graph."
)
_PIECE_G = re.compile(r'<g id="(clpiece_[0-9a-f]{10})(?:_\d+)?" class="(cluster|node)"')


def _q(text: object) -> str:
    """A quoted Graphviz string (backslashes, quotes and newlines escaped, controls visible)."""
    s = html_visible(str(text)).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{s}"'


def _short(text: str, limit: int = 42) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _piece_style(d: SplitDrawing, submod: str, is_split: bool) -> str:
    if is_split:
        return f'fillcolor="{SPLIT_FILL}", color="{SPLIT_LINE}", penwidth=2'
    group = d.groups.get(submod)
    return f'fillcolor="{group.color}"' if group else 'fillcolor="#ffffff"'


def _piece_label(d: SplitDrawing, submod: str) -> str:
    piece = next(p for p in d.pieces if p.submod == submod)
    if piece.is_split_op:
        return f"{submod}\nsplit op: {_short(piece.split_op or '')}"
    group = d.groups.get(submod)
    extra = f" · dedup group {group.label} of {len(group.members)}" if group else ""
    return f"{submod} · piece {piece.compiled_index}{extra}\n{piece.num_nodes} nodes"


def dot_source(d: SplitDrawing) -> str:
    """Graphviz source: node-level clusters for small graphs, one box per piece for big ones."""
    lines = [
        "digraph split {",
        '  graph [rankdir=TB, fontname="Helvetica", fontsize=10, nodesep=0.2, ranksep=0.25];',
        '  node [shape=box, style="rounded,filled", fillcolor="#ffffff", fontname="Helvetica", '
        "fontsize=9, height=0.25, margin=0.05];",
        '  edge [arrowsize=0.5, color="#8c959f"];',
    ]
    lines += _node_level(d) if d.node_level else _piece_level(d)
    lines.append("}")
    return "\n".join(lines) + "\n"


def _piece_level(d: SplitDrawing) -> list[str]:
    out = [
        f"  {_q('p:' + p.submod)} [id={_q(d.piece_id(p.submod))}, "
        f"label={_q(_piece_label(d, p.submod))}, {_piece_style(d, p.submod, p.is_split_op)}];"
        for p in d.pieces
    ]
    out += [f"  {_q('p:' + a)} -> {_q('p:' + b)};" for a, b in d.piece_edges]
    return out


def _node_level(d: SplitDrawing) -> list[str]:
    by_name = {n.name: n for n in d.graph.nodes}
    placed: set[str] = set()
    out: list[str] = []
    for p in d.pieces:
        out.append(f"  subgraph {_q('cluster_' + d.piece_id(p.submod))} {{")
        out.append(f"    id={_q(d.piece_id(p.submod))}; label={_q(_piece_label(d, p.submod))};")
        style = _piece_style(d, p.submod, p.is_split_op).replace(", ", "; ")
        out.append(f'    style="rounded,filled"; {style};')
        for k, name in enumerate(d.members.get(p.submod, [])):
            node_id = f"{d.piece_id(p.submod)}_{k}"  # clicking a node selects its piece
            out.append(f"    {_node_stmt(by_name[name], node_id)}")
            placed.add(name)
        out.append("  }")
    out += [f"  {_node_stmt(n)}" for n in d.graph.nodes
            if n.name not in placed and n.name not in d.hidden]
    edges = [(a, b) for a, b in d.edges if a not in d.hidden and b not in d.hidden]
    out += [f"  {_q('n:' + a)} -> {_q('n:' + b)};" for a, b in edges]
    if not edges:  # no data edges recorded: keep the execution order visible
        order = [n.name for n in d.graph.nodes if n.name not in d.hidden]
        out += [f"  {_q('n:' + a)} -> {_q('n:' + b)} [style=dashed];"
                for a, b in itertools.pairwise(order)]
    return out


def _node_stmt(node: object, node_id: str = "") -> str:
    name, op = getattr(node, "name", ""), getattr(node, "op", "")
    target, shape = getattr(node, "target", ""), getattr(node, "shape", None)
    label = f"{_short(str(name), 32)}\n{_short(str(target))}" + (f"\n{shape}" if shape else "")
    form = {"placeholder": "ellipse", "output": "doubleoctagon", "get_attr": "note"}.get(op, "box")
    id_attr = f"id={_q(node_id)}, " if node_id else ""
    return f"{_q('n:' + name)} [{id_attr}label={_q(label)}, shape={form}];"


def has_dot() -> bool:
    """Whether Graphviz's ``dot`` program is on ``PATH``."""
    return shutil.which("dot") is not None


def render_svg(d: SplitDrawing, *, use_dot: bool = True) -> tuple[str, str]:
    """Inline SVG of the drawing and a hint (empty when ``dot`` drew it).

    Args:
        d: what to draw.
        use_dot: try Graphviz first (tests pass ``False`` to exercise the fallback).

    Returns:
        ``(svg, hint)``; the SVG has ``data-piece`` attributes on every piece for selection.
    """
    dot = shutil.which("dot") if use_dot else None
    if dot is None:
        return fallback_svg(d), NO_DOT_HINT
    try:
        done = subprocess.run([dot, "-Tsvg"], input=dot_source(d).encode("utf-8"),
                              capture_output=True, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return fallback_svg(d), f"Graphviz's dot failed ({type(exc).__name__}); plain layout shown."
    if done.returncode != 0:
        first = done.stderr.decode("utf-8", "replace").strip().splitlines()[:1]
        return fallback_svg(d), f"Graphviz's dot failed ({' '.join(first)}); plain layout shown."
    return _tag_pieces(d, done.stdout.decode("utf-8", "replace")), ""


def _tag_pieces(d: SplitDrawing, svg: str) -> str:
    svg = svg[svg.find("<svg"):]
    svg = re.sub(r"<!--.*?-->\n?", "", svg, flags=re.DOTALL)
    ids = {d.piece_id(p.submod): p.submod for p in d.pieces}

    def tag(m: re.Match[str]) -> str:
        submod = esc(ids.get(m.group(1), ""))
        return f'{m.group(0)} data-piece="{submod}"'

    return _PIECE_G.sub(tag, svg)


def fallback_svg(d: SplitDrawing, columns: int = 6) -> str:
    """A plain grid of piece boxes in execution order (no Graphviz needed)."""
    w, h, gap = 180, 44, 22
    rows = max(1, -(-len(d.pieces) // columns))
    width, height = columns * (w + gap) + gap, rows * (h + gap) + gap
    marker = content_id("arrow", d.graph.id)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="Helvetica, sans-serif" font-size="10">',
             f'<defs><marker id="{marker}" markerWidth="8" markerHeight="8" refX="7" refY="3" '
             'orient="auto"><path d="M0,0 L0,6 L7,3 z" fill="#8c959f"/></marker></defs>']
    pos = {p.submod: (gap + (i % columns) * (w + gap), gap + (i // columns) * (h + gap))
           for i, p in enumerate(d.pieces)}
    for a, b in d.piece_edges:
        (x1, y1), (x2, y2) = pos[a], pos[b]
        parts.append(f'<line x1="{x1 + w}" y1="{y1 + h / 2}" x2="{x2}" y2="{y2 + h / 2}" '
                     f'stroke="#8c959f" marker-end="url(#{marker})"/>')
    for p in d.pieces:
        parts.append(_fallback_box(d, p.submod, p.is_split_op, pos[p.submod], (w, h)))
    parts.append("</svg>")
    return "".join(parts)


def _fallback_box(d: SplitDrawing, submod: str, is_split: bool, xy: tuple[int, int],
                  wh: tuple[int, int]) -> str:
    group = d.groups.get(submod)
    fill = SPLIT_FILL if is_split else (group.color if group else "#ffffff")
    stroke = SPLIT_LINE if is_split else "#57606a"
    line1, _, line2 = _piece_label(d, submod).partition("\n")
    (x, y), (w, h) = xy, wh
    return (f'<g id="{d.piece_id(submod)}" class="node" data-piece="{esc(submod)}">'
            f'<title>{esc(submod)}</title>'
            f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="6" fill="{fill}" '
            f'stroke="{stroke}"/><text x="{x + 6}" y="{y + 17}">{esc(_short(line1, 34))}'
            f'</text><text x="{x + 6}" y="{y + 33}" fill="#57606a">{esc(_short(line2, 34))}'
            "</text></g>")
