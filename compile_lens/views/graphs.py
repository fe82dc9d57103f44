"""Views: the split graph as a picture: pieces as clusters, split ops highlighted, dedup groups.

Stage 4. Builds Graphviz ``dot`` source from a ``TraceRecord`` (stdlib only) and renders it to SVG
with the ``dot`` program when it is installed; otherwise ``views._layout`` draws a plain SVG grid
and the caller shows a one-line hint. Node membership and data edges are read from the recorded
code (FX keeps node names when it splits a graph), so the drawing needs no live torch objects.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field

from compile_lens.model import DynamoGraph, Piece, TraceRecord
from compile_lens.views._html import content_id

# Above this many FX nodes a graph is drawn one box per piece (dot gets slow, the page huge).
MAX_DRAWN_NODES = 300
PALETTE = ["#dbeafe", "#dcfce7", "#fef9c3", "#ede9fe", "#ffedd5", "#cffafe", "#fce7f3", "#e0e7ff",
           "#ecfccb", "#fae8ff", "#f1f5f9", "#d1fae5"]
SPLIT_FILL, SPLIT_LINE = "#ffe4e6", "#cf222e"
# Dynamo lifts module parameters/buffers to graph inputs (``l_self_modules_..._parameters_weight_``).
_WEIGHT_INPUT = re.compile(r"(^|_)(parameters|buffers)_")
_SIZE_SYMBOL = re.compile(r"^s\d+$")  # a SymInt input (the dynamic size), used by many nodes
_ASSIGN = re.compile(r"^\s*([A-Za-z_]\w*)\s*(?::\s*\"[^\"]*\")?\s*=\s*(.+)$")
_IDENT = re.compile(r"(?<![\w.])[A-Za-z_]\w*")  # names, not attributes (``x.view`` is not ``view``)


@dataclass(frozen=True)
class DedupGroup:
    """Pieces that share one cache key (one artifact), labelled ``A``, ``B``… in piece order."""

    label: str
    key: str
    members: list[str] = field(default_factory=list)
    color: str = ""


@dataclass(frozen=True)
class SplitDrawing:
    """Everything needed to draw one graph's split, independent of the output format."""

    graph: DynamoGraph
    pieces: list[Piece]
    groups: dict[str, DedupGroup]  # submod -> its group (only groups of 2+ pieces)
    members: dict[str, list[str]]  # submod -> node names in it
    edges: list[tuple[str, str]]  # node-level data edges (producer, consumer)
    piece_edges: list[tuple[str, str]]  # piece-level edges
    node_level: bool
    hidden: frozenset[str] = frozenset()  # weight and size-symbol inputs left out of the drawing

    def piece_id(self, submod: str) -> str:
        """Deterministic SVG/DOM id of a piece."""
        return content_id("clpiece", self.graph.id, submod).replace("-", "_")


def assignments(code: str) -> dict[str, str]:
    """``name -> right-hand side`` of every ``name = ...`` line of FX-printed code."""
    out: dict[str, str] = {}
    for line in code.splitlines():
        m = _ASSIGN.match(line)
        if m and m.group(1) not in out:
            out[m.group(1)] = m.group(2)
    return out


def dedup_groups(record: TraceRecord, graph_id: str) -> dict[str, DedupGroup]:
    """Group a graph's pieces by their key (general size first); only groups of 2+ are kept."""
    first: dict[str, tuple[str, str]] = {}
    for c in record.compiles:
        key = c.standalone_key or c.legacy_key
        if c.graph_id != graph_id or not key:
            continue
        if c.submod not in first or (c.size == "general" and first[c.submod][1] != "general"):
            first[c.submod] = (key, c.size)
    by_key: dict[str, list[str]] = {}
    for p in record.pieces:
        if p.graph_id == graph_id and p.submod in first:
            by_key.setdefault(first[p.submod][0], []).append(p.submod)
    out: dict[str, DedupGroup] = {}
    shared = [(k, m) for k, m in by_key.items() if len(m) > 1]
    for i, (key, members) in enumerate(shared):
        color = PALETTE[i % len(PALETTE)]
        group = DedupGroup(label=_label(i), key=key, members=members, color=color)
        out.update(dict.fromkeys(members, group))
    return out


def _label(i: int) -> str:
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return letters[i] if i < len(letters) else f"{letters[i % 26]}{i // 26}"


def piece_members(graph: DynamoGraph, pieces: list[Piece]) -> dict[str, list[str]]:
    """Node names of each piece.

    In order of preference: ``GraphNode.extra['piece']`` when the recorder tagged nodes; the
    graph's compute nodes dealt out in order by each piece's ``num_nodes`` (a split keeps node
    order, so pieces are consecutive runs); names shared between the piece code and the graph.
    """
    out: dict[str, list[str]] = {p.submod: [] for p in pieces}
    tagged = [(n.name, n.extra.get("piece")) for n in graph.nodes if n.extra.get("piece")]
    if tagged:
        for name, submod in tagged:
            out.setdefault(str(submod), []).append(name)
        return out
    calls = [n.name for n in graph.nodes if n.op not in ("placeholder", "output")]
    ordered = sorted(pieces, key=lambda p: p.index)
    if calls and sum(p.num_nodes for p in ordered) == len(calls):
        it = iter(calls)
        return {p.submod: [next(it) for _ in range(p.num_nodes)] for p in ordered}
    names, seen = set(calls), set()
    for p in ordered:
        for name in assignments(p.code):
            if name in names and name not in seen:
                out[p.submod].append(name)
                seen.add(name)
    return out


def data_edges(graph: DynamoGraph) -> list[tuple[str, str]]:
    """Producer → consumer edges: ``extra['inputs']`` if recorded, else read from the graph code."""
    names = [n.name for n in graph.nodes]
    known = set(names)
    if any("inputs" in n.extra for n in graph.nodes):
        return [(str(i), n.name) for n in graph.nodes for i in n.extra.get("inputs", [])
                if str(i) in known]
    rhs = assignments(graph.code)
    outputs = [n.name for n in graph.nodes if n.op == "output"]
    returns = [line.strip()[len("return"):] for line in graph.code.splitlines()
               if line.strip().startswith("return")]
    if outputs and returns:  # the graph's results feed its output node
        rhs.setdefault(outputs[0], returns[-1])
    edges: list[tuple[str, str]] = []
    for name in names:
        used = dict.fromkeys(t for t in _IDENT.findall(rhs.get(name, "")) if t in known)
        edges += [(u, name) for u in used if u != name]
    return edges


def _piece_edges(pieces: list[Piece], members: dict[str, list[str]],
                 edges: list[tuple[str, str]]) -> list[tuple[str, str]]:
    owner = {n: s for s, ns in members.items() for n in ns}
    found = dict.fromkeys(
        (owner[a], owner[b]) for a, b in edges
        if a in owner and b in owner and owner[a] != owner[b]
    )
    if found:
        return list(found)
    order = [p.submod for p in pieces]
    return list(itertools.pairwise(order))


def split_drawing(record: TraceRecord, graph: DynamoGraph,
                  max_nodes: int = MAX_DRAWN_NODES) -> SplitDrawing:
    """Collect pieces, dedup groups, node membership and edges of ``graph``."""
    pieces = sorted((p for p in record.pieces if p.graph_id == graph.id), key=lambda p: p.index)
    members = piece_members(graph, pieces)
    edges = data_edges(graph)
    hidden = frozenset(n.name for n in graph.nodes if n.op == "placeholder" and (
        _WEIGHT_INPUT.search(n.name) or _SIZE_SYMBOL.match(n.name)))
    return SplitDrawing(
        graph=graph, pieces=pieces, groups=dedup_groups(record, graph.id), members=members,
        edges=edges, piece_edges=_piece_edges(pieces, members, edges),
        node_level=0 < len(graph.nodes) - len(hidden) <= max_nodes, hidden=hidden,
    )
