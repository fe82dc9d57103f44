"""Wire the piecewise backend to CUDA graphs: which graphs and pieces get captured, and how.

Stage: backend. Called while a Dynamo graph is being compiled: ``plan_graph`` decides once per
graph (CUDA inputs and the mode's sizes given), ``wrap_piece`` once per compiled piece (its
shapes must depend on at most one symbol) with the PIECEWISE sizes, ``wrap_model`` once for the
whole graph with the FULL sizes (``full_graph.FullGraph``). Anything not captured says why in a
``compile_lens_note``.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.fx.node import map_arg

from compile_lens import _events
from compile_lens.backend.cudagraphs import STATIC_PIECE_SIZE, CudaGraphPiece
from compile_lens.backend.dispatch import NONE, CudaGraphSettings, Dispatcher
from compile_lens.backend.full_graph import FullGraph
from compile_lens.backend.graph_memory import GraphContext, is_static_address
from compile_lens.backend.padding import build_spec


@dataclass(frozen=True)
class GraphPlan:
    """CUDA-graph settings of one Dynamo graph compiled by the backend.

    ``sizes`` are the pieces' (PIECEWISE) capture sizes, empty when only FULL graphs are
    captured; ``full`` the settings when the whole graph is captured at its full sizes too.
    ``pieces`` collects the piece wrappers made for this graph.
    """

    graph_key: str
    sizes: list[int]
    context: GraphContext
    output_submods: frozenset[str]
    static_size: int
    full: CudaGraphSettings | None = None
    pieces: list[CudaGraphPiece] = field(default_factory=list)


def plan_graph(graph_key: str, split_gm: torch.fx.GraphModule, example_inputs: Sequence[Any],
               cg: CudaGraphSettings | Sequence[int], context: GraphContext, *,
               require_cuda: bool = True) -> GraphPlan | None:
    """The plan for this graph, or ``None`` (no graphs, or nothing on a CUDA device).

    ``cg`` may be plain sizes (PIECEWISE at those sizes, as before modes existed);
    ``require_cuda=False`` plans for any device (CPU tests replay graphs eagerly).
    """
    if not isinstance(cg, CudaGraphSettings):
        sizes = sorted({int(s) for s in cg})
        cg = CudaGraphSettings("PIECEWISE", tuple(sizes)) if sizes else CudaGraphSettings()
    if cg.mode == NONE:
        return None
    if require_cuda and not any(isinstance(t, torch.Tensor) and t.is_cuda
                                for t in example_inputs):
        _events.emit("note", {"message": (
            f"{graph_key}: cudagraph_sizes ignored, the graph's inputs are not on a CUDA device")})
        return None
    return GraphPlan(graph_key=graph_key, sizes=cg.piecewise_sizes, context=context,
                     output_submods=frozenset(output_submods(split_gm)),
                     static_size=static_size(example_inputs),
                     full=cg if cg.has_full else None)


def wrap_piece(plan: GraphPlan, submod: str, runner: Any, args: Sequence[Any],
               output: Any) -> Any:
    """``runner`` wrapped in a ``CudaGraphPiece``, or ``runner`` itself if it is not captured
    (no PIECEWISE sizes, or shapes it cannot be captured with).

    ``args``/``output`` are the fake inputs and outputs the split interpreter saw.
    """
    if not plan.sizes:
        return runner
    spec = build_spec(list(args), output)
    if spec.reason:
        _events.emit("note", {"message": (
            f"{plan.graph_key} {submod}: not captured in CUDA graphs: {spec.reason}")})
        return runner
    piece = CudaGraphPiece(
        runner, spec, plan.sizes, plan.context, graph_key=plan.graph_key, submod=submod,
        clone_outputs=submod in plan.output_submods,
        static_size=STATIC_PIECE_SIZE if spec.dynamic else plan.static_size,
        count_above=plan.full is None)
    plan.pieces.append(piece)
    return piece


def wrap_model(plan: GraphPlan, forward: Callable[..., Any], args: Sequence[Any], output: Any,
               split_ops: Sequence[str]) -> Callable[..., Any]:
    """``forward`` (the split graph) wrapped in a ``FullGraph``, or ``forward`` itself when the
    plan has no FULL sizes or the whole graph's shapes cannot be captured (a note says so, and
    the pieces then count their own fallbacks)."""
    if plan.full is None:
        return forward
    spec = build_spec(list(args), output)
    if spec.reason:
        _events.emit("note", {"message": (
            f"{plan.graph_key}: no full CUDA graphs (calls of the full sizes run piecewise or "
            f"without graphs): {spec.reason}")})
        for piece in plan.pieces:
            piece.count_above = True
        return forward
    return FullGraph(forward, spec, Dispatcher(plan.full), plan.context,
                     graph_key=plan.graph_key,
                     static_size=STATIC_PIECE_SIZE if spec.dynamic else plan.static_size,
                     split_ops=split_ops)


def output_submods(split_gm: torch.fx.GraphModule) -> set[str]:
    """Submodules whose results reach the graph's output (their outputs are returned cloned)."""
    output = next(n for n in split_gm.graph.nodes if n.op == "output")
    found: set[str] = set()

    def visit(node: torch.fx.Node) -> None:
        if node.op == "call_module":
            found.add(str(node.target))
        elif node.op == "call_function" and node.target is operator.getitem:
            source = node.args[0]
            if isinstance(source, torch.fx.Node):
                visit(source)

    map_arg(output.args, visit)
    return found


def static_size(example_inputs: Sequence[Any]) -> int:
    """The batch size of a graph without a dynamic dimension: dim 0 of its first data input."""
    for value in example_inputs:
        if isinstance(value, torch.Tensor) and value.dim() >= 1 and not is_static_address(value):
            size = value.shape[0]
            return size if isinstance(size, int) else STATIC_PIECE_SIZE
    return STATIC_PIECE_SIZE
