"""Per-block state: each ``trace()`` reports what happened inside it, nothing of an earlier block.

The embedded backend's CUDA-graph captures and replay counts belong to the block that compiled
the graph (issue 13, "one observer lifecycle"). CPU: the graphs are the eager-replay stand-ins
of ``test_cudagraph_padding`` (the real backend, eager pieces), so no Inductor and no GPU.
"""

from __future__ import annotations

import torch
from test_cudagraph_padding import EagerPieces, EagerReplayContext

import compile_lens
from compile_lens import demo_model

SIZES = [2, 4, 8]


def _compiled(layers: int) -> tuple[torch.nn.Module, object]:
    backend = EagerPieces(cudagraph_sizes=SIZES, use_artifact_cache=False)
    backend.graph_context = EagerReplayContext()
    return torch.compile(demo_model.build(layers=layers), backend=backend), backend


def _run(compiled: object, *sizes: int) -> None:
    for n in sizes:
        compiled(*demo_model.example_inputs(n, mark_dynamic=False))


def test_a_second_block_reports_only_its_own_graphs_and_replays():
    torch._dynamo.reset()
    quiet = {"strict": True, "factors": False, "bytecode": False}
    first, _ = _compiled(layers=1)
    second, _ = _compiled(layers=2)
    with torch.no_grad():
        with compile_lens.trace(**quiet) as t1:
            first(*demo_model.example_inputs(8))  # compiles, captures at 8
            _run(first, 3, 4)  # captures at 4, then replays it
        with compile_lens.trace(**quiet) as t2:
            _run(first, 2, 3, 4, 6)  # the first block's graph: a new capture (2) and replays
            second(*demo_model.example_inputs(8))  # compiles the second model, captures at 8
            _run(second, 5, 6)  # replays 8 twice
    torch._dynamo.reset()

    first_counts = {(c.submod, c.size): c.replays for c in t1.record.captures}
    assert first_counts == {("submod_0", 8): 1, ("submod_2", 8): 1,
                            ("submod_0", 4): 2, ("submod_2", 4): 2}
    # The second block compiled one graph: it reports that one only, with its own replays; the
    # first model's capture at size 2 and its replays are not a (phantom, 0-node) graph here.
    assert len(t2.record.graphs) == 1 and t2.record.graphs[0].nodes
    assert {c.graph_id for c in t2.record.captures} == {t2.record.graphs[0].id}
    assert {(c.submod, c.size): c.replays for c in t2.record.captures} == {
        (s, 8): 3 for s in ("submod_0", "submod_2", "submod_4")}
    assert t2.summary().graphs == 1 and t2.summary().captures == 3
