"""Piecewise CUDA graphs on a real GPU: captures per piece and size, padding, one pool, replays.

Run on the H100 (see docs/gpu.md): ``python -m pytest tests/gpu -q``.
"""

from __future__ import annotations

import pytest
import torch
from _gpu_runs import CALLS

import compile_lens
from compile_lens.backend import cudagraphs

pytestmark = [pytest.mark.gpu, pytest.mark.inductor,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]

PIECES = ("submod_0", "submod_2", "submod_4", "submod_6")
# Calls per capture size: the capture itself replays once; then 8 is called 1 + 1 (capture
# order 8, 4, 2, 1) + 4 × 2 (5..8, twice); 4 once + 2 × 2; 2 once + 1 × 2; 1 once + 2.
EXPECTED_REPLAYS = {8: 10, 4: 5, 2: 3}


def test_outputs_match_eager_at_every_size(graphs_run):
    for n in CALLS:
        for out in graphs_run.outputs[n]:  # earlier results survive later replays
            torch.testing.assert_close(out, graphs_run.eager[n], rtol=1e-4, atol=1e-5)


def test_one_capture_per_piece_and_size_with_exact_replay_counts(graphs_run):
    record = graphs_run.trace.record
    dynamic = {(c.submod, c.size): c for c in record.captures if c.graph_id == "g0"}
    assert set(dynamic) == {(p, s) for p in PIECES for s in (2, 4, 8)}
    for (_, size), capture in dynamic.items():
        assert capture.replays == EXPECTED_REPLAYS[size]
        assert capture.seconds > capture.extra["capture_seconds"] > 0
        assert capture.memory_bytes >= 0
        assert capture.extra["allocated_bytes"] > 0
    assert {c.extra["artifact"] for (_, s), c in dynamic.items() if s == 4} == {"exact"}
    assert {c.extra["artifact"] for (_, s), c in dynamic.items() if s != 4} == {"general"}
    # One token recompiles to a static graph (Dynamo specialises size 1): captured once.
    static = [c for c in record.captures if c.graph_id != "g0"]
    assert sorted(c.submod for c in static) == list(PIECES)
    assert {(c.size, c.replays) for c in static} == {(1, 3)}
    assert sum(c.memory_bytes for c in record.captures) > 0


def test_one_memory_pool_shared_by_all_pieces_and_sizes(graphs_run):
    context = graphs_run.backend.graph_context
    assert len(graphs_run.pieces) == 2 * len(PIECES)  # the dynamic graph and the one-token graph
    assert all(p.context is context for p in graphs_run.pieces)
    assert context._pool is not None
    # Later (smaller) captures are served from memory the pool already holds.
    later = [c for c in graphs_run.trace.record.captures if c.size in (1, 2)]
    assert min(c.memory_bytes for c in later) == 0


def test_sizes_above_the_largest_run_without_graphs(graphs_run):
    dynamic = [p for p in graphs_run.pieces if p.spec.dynamic]
    assert dynamic
    assert all(p.eager_calls == 4 for p in dynamic)
    assert all(set(p.entries) == {2, 4, 8} for p in dynamic)


def test_capture_phases_are_on_the_timeline_after_the_compiles(graphs_run):
    spans = graphs_run.trace.record.spans
    captures = [s for s in spans if s.category == "capture"]
    assert len(captures) == len(graphs_run.trace.record.captures)
    first_compile_end = min(s.end_s for s in spans if s.category == "compile")
    assert all(s.end_s > s.start_s >= first_compile_end for s in captures)


def test_static_inputs_are_read_in_place_or_reused(graphs_run):
    captures = [c for c in graphs_run.trace.record.captures if c.graph_id == "g0"]
    for c in captures:
        if c.submod == "submod_0":
            assert c.extra["copied"] == 2  # token ids and positions
        else:  # residual from the previous graph's output; positions copied once already
            assert c.extra["adopted"] == 1
            assert c.extra["copied"] == 1
            assert c.extra["in_place"] >= 6


# -- splitting ops run eagerly between replays -------------------------------------------------
CALLS_OF_MIX = [0]
_LIB = torch.library.Library("cl_gpu", "FRAGMENT")
_LIB.define("mix(Tensor a, Tensor b) -> Tensor")


def _mix(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    CALLS_OF_MIX[0] += 1
    return a * 2 + b


_LIB.impl("mix", _mix, "CompositeExplicitAutograd")
_LIB.impl("mix", lambda a, b: torch.empty_like(a), "Meta")


class _SplitNet(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w1 = torch.nn.Parameter(torch.randn(16, 16) / 4)
        self.w2 = torch.nn.Parameter(torch.randn(16, 16) / 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(x @ self.w1) + 1
        y = torch.ops.cl_gpu.mix(h, x)
        return torch.tanh(y @ self.w2) * 2


def test_split_op_runs_eagerly_on_every_replay(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "inductor"))
    torch._dynamo.reset()
    torch.manual_seed(0)
    model = _SplitNet().cuda()
    backend = compile_lens.piecewise(splitting_ops=["cl_gpu::mix"], cudagraph_sizes=[2, 4],
                                     use_artifact_cache=False)
    compiled = torch.compile(model, backend=backend)
    first = torch.randn(3, 16, device="cuda")
    torch._dynamo.mark_dynamic(first, 0)
    with torch.no_grad():
        compiled(first)
        before = CALLS_OF_MIX[0]
        for n in [2, 3, 4, 5, 6, 2, 3, 4]:
            x = torch.randn(n, 16, device="cuda")
            torch.testing.assert_close(compiled(x), model(x), rtol=1e-4, atol=1e-5)
    pieces = [p for p in list(cudagraphs._LIVE) if p.context is backend.graph_context]
    torch._dynamo.reset()
    assert CALLS_OF_MIX[0] - before == 2 * 8  # once per compiled call and once per eager check
    assert {p.submod for p in pieces} == {"submod_0", "submod_2"}
    assert all({s: e.replays for s, e in p.entries.items()} == {4: 5, 2: 2} for p in pieces)
    assert all(p.eager_calls == 2 for p in pieces)  # 5 and 6 tokens
