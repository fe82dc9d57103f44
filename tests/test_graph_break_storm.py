"""A graph-break storm is counted as torch compiled it (issue 9, item 9).

Twelve ``torch._dynamo.graph_break()`` calls make Dynamo compile 13 graphs. Each break makes it
restart the frame's analysis: attempt ``[n/0]`` is abandoned and retried as ``[n/0_1]``, and the
abandoned attempt's stream events (``compile_attempt_0``, the start of ``entire_frame_compile``)
must not become graphs of their own (they were 12 phantom 0-node graphs: "25 graphs").
Real ``torch.compile`` with the eager backend: Dynamo's events are the same as with Inductor.
"""

from __future__ import annotations

import torch

import compile_lens

BREAKS = 12


def _storm(x: torch.Tensor) -> torch.Tensor:
    x = torch.sin(x) + 0
    torch._dynamo.graph_break()
    x = torch.sin(x) + 1
    torch._dynamo.graph_break()
    x = torch.sin(x) + 2
    torch._dynamo.graph_break()
    x = torch.sin(x) + 3
    torch._dynamo.graph_break()
    x = torch.sin(x) + 4
    torch._dynamo.graph_break()
    x = torch.sin(x) + 5
    torch._dynamo.graph_break()
    x = torch.sin(x) + 6
    torch._dynamo.graph_break()
    x = torch.sin(x) + 7
    torch._dynamo.graph_break()
    x = torch.sin(x) + 8
    torch._dynamo.graph_break()
    x = torch.sin(x) + 9
    torch._dynamo.graph_break()
    x = torch.sin(x) + 10
    torch._dynamo.graph_break()
    x = torch.sin(x) + 11
    torch._dynamo.graph_break()
    return x * 2


def test_a_graph_break_storm_counts_the_graphs_torch_compiled():
    torch._dynamo.reset()
    x = torch.randn(4)
    with compile_lens.trace(strict=True, factors=False, bytecode=False) as t:
        out = torch.compile(_storm, backend="eager")(x)
    torch._dynamo.reset()
    torch.testing.assert_close(out, _storm(x))
    record = t.record
    assert record.counters.get("stats.unique_graphs") == BREAKS + 1, "torch's own count"
    assert len(record.graphs) == BREAKS + 1
    assert all(g.nodes for g in record.graphs), [g.compile_id for g in record.graphs if not g.nodes]
    assert len({g.compile_id for g in record.graphs}) == BREAKS + 1
    summary = t.summary()
    assert (summary.graphs, summary.pieces_total) == (BREAKS + 1, BREAKS + 1)
    frames = [s.name for s in record.spans if s.category == "dynamo"]
    assert sorted(frames) == sorted(f"[{g.compile_id}] Dynamo frame compile" for g in record.graphs)
