"""DataFrames of a trace: one row per record, fixed columns, split ops without compiles."""

from __future__ import annotations

from typing import Any

from compile_lens.views import tables


def test_frames_have_one_row_per_record(small_trace: Any) -> None:
    r = small_trace
    compiled = [p for p in r.pieces if not p.is_split_op]
    split = len(r.pieces) - len(compiled)
    assert len(tables.pieces_frame(r)) == len(r.compiles) + split
    assert list(tables.pieces_frame(r).columns) == tables.PIECE_COLUMNS
    assert len(tables.passes_frame(r)) == len(r.passes)
    assert len(tables.lowerings_frame(r)) == len(r.lowerings)
    assert len(tables.captures_frame(r)) == len(r.captures)
    assert len(tables.nodes_frame(r)) == len(r.graphs[0].nodes)
    assert tables.graphs_frame(r).loc[0, "pieces"] == len(r.pieces)


def test_split_ops_have_no_compile_columns(small_trace: Any) -> None:
    df = tables.pieces_frame(small_trace)
    split = df[df["is_split_op"]]
    assert split["outcome"].isna().all()
    assert split["legacy_key"].isna().all()
