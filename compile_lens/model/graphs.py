"""Model: the Dynamo graphs and the pieces a piecewise backend split them into.

Stage 2 (model): stdlib only. Plain, frozen, JSON-serialisable records; no live torch objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, kw_only=True)
class GraphNode:
    """One FX node of a Dynamo graph, reduced to strings.

    ``shape`` is the printed size (``"[s0, 64]"``); ``dynamic_dims`` lists the indices of dims whose
    size is symbolic; ``module_path`` is the innermost ``nn.Module`` path (``"layers.0.attn"``).
    """

    name: str
    op: str
    target: str = ""
    shape: str | None = None
    dtype: str | None = None
    dynamic_dims: list[int] = field(default_factory=list)
    module_path: str = ""
    source: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class DynamoGraph:
    """A graph Dynamo produced for one compile id (``"0/0"``, printed ``[0/0]`` as tlparse does).

    ``id`` is unique inside a trace (``"g0"``; merged traces prefix the process). ``backend`` names
    the compiler Dynamo handed the graph to. ``bytecode_source`` is the depyf decompilation of the
    transformed frame when depyf could do it; ``bytecode_note`` says why not otherwise.
    """

    id: str
    compile_id: str
    name: str = ""
    backend: str = ""
    code: str = ""
    nodes: list[GraphNode] = field(default_factory=list)
    split_ops: list[str] = field(default_factory=list)
    bytecode_source: str | None = None
    bytecode_note: str = ""
    process: str = ""
    prefix: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Piece:
    """One submodule of a split graph.

    ``index`` is its position in the split graph; ``compiled_index`` its position among the pieces
    that get compiled (vLLM's ``piecewise_compile_index``), ``None`` for split ops, which run eagerly.
    A graph compiled without splitting is recorded as a single piece named ``"<graph>"``.
    """

    graph_id: str
    submod: str
    index: int
    compiled_index: int | None = None
    is_split_op: bool = False
    split_op: str | None = None
    num_nodes: int = 0
    code: str = ""
    input_shapes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


WHOLE_GRAPH = "<graph>"
"""The ``submod`` name of the single piece recorded for a graph that was not split."""
