"""Views: pandas DataFrames of a trace, one row per record.

Stage 4: pandas is imported lazily; column order is fixed so frames print the same every time.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from compile_lens.errors import missing_dependency
from compile_lens.model import TraceRecord

if TYPE_CHECKING:
    import pandas as pd


def _frame(rows: Iterable[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a hard dependency
        err = missing_dependency("pandas", "trace tables")
        raise err from None
    return pd.DataFrame(list(rows), columns=columns)


GRAPH_COLUMNS = ["graph_id", "compile_id", "name", "backend", "process", "prefix", "nodes",
                 "pieces", "split_ops"]


def graphs_frame(record: TraceRecord) -> pd.DataFrame:
    """One row per Dynamo graph."""
    pieces_per_graph: dict[str, int] = {}
    for p in record.pieces:
        pieces_per_graph[p.graph_id] = pieces_per_graph.get(p.graph_id, 0) + 1
    rows = (
        {
            "graph_id": g.id,
            "compile_id": f"[{g.compile_id}]",
            "name": g.name,
            "backend": g.backend,
            "process": g.process,
            "prefix": g.prefix,
            "nodes": len(g.nodes),
            "pieces": pieces_per_graph.get(g.id, 0),
            "split_ops": ", ".join(g.split_ops),
        }
        for g in record.graphs
    )
    return _frame(rows, GRAPH_COLUMNS)


NODE_COLUMNS = ["graph_id", "name", "op", "target", "shape", "dtype", "dynamic_dims",
                "module_path", "source"]


def nodes_frame(record: TraceRecord) -> pd.DataFrame:
    """One row per FX node of every graph."""
    rows = (
        {
            "graph_id": g.id,
            "name": n.name,
            "op": n.op,
            "target": n.target,
            "shape": n.shape,
            "dtype": n.dtype,
            "dynamic_dims": list(n.dynamic_dims),
            "module_path": n.module_path,
            "source": n.source,
        }
        for g in record.graphs
        for n in g.nodes
    )
    return _frame(rows, NODE_COLUMNS)


PIECE_COLUMNS = ["graph_id", "submod", "index", "compiled_index", "is_split_op", "split_op",
                 "size", "outcome", "dedup_of", "legacy_key", "standalone_key", "key_match",
                 "seconds", "num_nodes"]


def pieces_frame(record: TraceRecord) -> pd.DataFrame:
    """One row per piece and compile size; split ops get one row with no compile."""
    return _frame(pieces_rows(record), PIECE_COLUMNS)


def pieces_rows(record: TraceRecord) -> list[dict[str, Any]]:
    """The rows of ``pieces_frame`` as plain dicts (the report uses them without pandas)."""
    compiles: dict[tuple[str, str], list[Any]] = {}
    for c in record.compiles:
        compiles.setdefault((c.graph_id, c.submod), []).append(c)
    rows: list[dict[str, Any]] = []
    for p in record.pieces:
        base = {
            "graph_id": p.graph_id,
            "submod": p.submod,
            "index": p.index,
            "compiled_index": p.compiled_index,
            "is_split_op": p.is_split_op,
            "split_op": p.split_op,
            "num_nodes": p.num_nodes,
        }
        for c in compiles.get((p.graph_id, p.submod), []) or [None]:
            row = dict(base)
            if c is not None:
                row.update(
                    size=c.size,
                    outcome=c.outcome,
                    dedup_of=c.dedup_of,
                    legacy_key=c.legacy_key,
                    standalone_key=c.standalone_key,
                    key_match=c.key_match,
                    seconds=c.seconds,
                )
            rows.append(row)
    return rows


PASS_COLUMNS = ["graph_id", "submod", "size", "phase", "name", "seconds", "count", "compile_id"]


def passes_frame(record: TraceRecord) -> pd.DataFrame:
    """One row per pass or phase per piece compile."""
    rows = (
        {
            "graph_id": p.graph_id,
            "submod": p.submod,
            "size": p.size,
            "phase": p.phase,
            "name": p.name,
            "seconds": p.seconds,
            "count": p.count,
            "compile_id": p.compile_id,
        }
        for p in record.passes
    )
    return _frame(rows, PASS_COLUMNS)


LOWERING_COLUMNS = ["graph_id", "submod", "size", "kind", "name", "ops", "nodes"]


def lowerings_frame(record: TraceRecord) -> pd.DataFrame:
    """One row per generated kernel, extern call or fallback."""
    return _frame(lowerings_rows(record), LOWERING_COLUMNS)


def lowerings_rows(record: TraceRecord) -> list[dict[str, Any]]:
    """The rows of ``lowerings_frame`` as plain dicts."""
    return [
        {
            "graph_id": low.graph_id,
            "submod": low.submod,
            "size": low.size,
            "kind": low.kind,
            "name": low.name,
            "ops": ", ".join(low.ops),
            "nodes": ", ".join(low.nodes),
        }
        for low in record.lowerings
    ]


CAPTURE_COLUMNS = ["graph_id", "submod", "size", "mode", "seconds", "memory_bytes", "replays"]


def captures_frame(record: TraceRecord) -> pd.DataFrame:
    """One row per CUDA-graph capture."""
    rows = (
        {
            "graph_id": c.graph_id,
            "submod": c.submod,
            "size": c.size,
            "mode": c.mode,
            "seconds": c.seconds,
            "memory_bytes": c.memory_bytes,
            "replays": c.replays,
        }
        for c in record.captures
    )
    return _frame(rows, CAPTURE_COLUMNS)
