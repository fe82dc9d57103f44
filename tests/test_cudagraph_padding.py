"""Piecewise CUDA-graph runtime logic on CPU: padding, static buffers, slicing, counts, events.

CUDA graphs themselves need a GPU (tests/gpu/ runs them on the H100). Here the graph is replaced
by ``EagerReplayContext``: "capture" records the call, "replay" re-runs it on the same static
inputs and writes into the same output tensors, which is what a replayed graph does to memory.
Everything else is the real backend (split, keys, runners) with eager pieces, so no Inductor.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

import compile_lens
from compile_lens import demo_model
from compile_lens.backend import cudagraphs
from compile_lens.backend.graph_memory import GraphContext, flat
from compile_lens.backend.graph_plan import GraphPlan, output_submods, static_size
from compile_lens.backend.padding import build_spec, evaluate
from compile_lens.backend.piecewise import PiecewiseBackend

SIZES = [2, 4, 8]


class _EagerGraph:
    """A "graph" that re-runs ``fn`` on its static inputs into its static outputs. A FULL graph
    (captured while ``context.full_active``) re-runs with the flag set again: a real replay runs
    no Python, so the pieces inside must not see the call."""

    def __init__(self, fn: Any, args: list[Any], out: Any, context: GraphContext) -> None:
        self.fn, self.args, self.out = fn, args, out
        self.context, self.full = context, context.full_active

    def replay(self) -> None:
        single = not isinstance(self.out, tuple | list)
        before, self.context.full_active = self.context.full_active, self.full
        try:
            new_out = flat(self.fn(*self.args), single)
        finally:
            self.context.full_active = before
        for old, new in zip(flat(self.out, single), new_out, strict=True):
            if isinstance(old, torch.Tensor):
                old.copy_(new)


class EagerReplayContext(GraphContext):
    """A graph context whose "graphs" re-run the piece on the captured static inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.captured = 0

    def memory(self) -> tuple[int, int]:
        return 0, 0

    def warm_up(self, fn: Any, args: list[Any]) -> None:
        fn(*args)

    def capture(self, fn: Any, args: list[Any]) -> tuple[Any, Any]:
        self.captured += 1
        out = fn(*args)
        return _EagerGraph(fn, args, out, self), out


class EagerPieces(PiecewiseBackend):
    """The real backend with eager pieces (no Inductor) and CPU "graphs"."""

    def _compile_artifact(self, gm: Any, args: list[Any], dynamic_shapes: str) -> Any:
        return gm

    def _graph_plan(self, graph_key: str, split_gm: Any, example_inputs: Any) -> GraphPlan:
        return GraphPlan(graph_key=graph_key, sizes=self.cudagraph_sizes,
                         context=self.graph_context, output_submods=frozenset(
                             output_submods(split_gm)), static_size=static_size(example_inputs))


@pytest.fixture(scope="module")
def replayed():
    """The demo model run at sizes 1..10 (and again) through eager-replay "graphs", traced."""
    torch._dynamo.reset()
    model = demo_model.build(layers=2)
    backend = EagerPieces(cudagraph_sizes=SIZES, use_artifact_cache=False)
    backend.graph_context = EagerReplayContext()
    compiled = torch.compile(model, backend=backend)
    outputs: dict[int, list[torch.Tensor]] = {}
    seq0 = cudagraphs.capture_seq()
    with torch.no_grad(), compile_lens.trace(strict=True, factors=False, bytecode=False) as t:
        compiled(*demo_model.example_inputs(8))
        for _ in range(2):
            for n in range(1, 11):
                ids, pos = demo_model.example_inputs(n, mark_dynamic=False)
                outputs.setdefault(n, []).append(compiled(ids, pos))
        cudagraphs.report_replays(since=seq0)
    with torch.no_grad():
        eager = {n: model(*demo_model.example_inputs(n, mark_dynamic=False)) for n in outputs}
    pieces = [p for p in list(cudagraphs._LIVE) if p.context is backend.graph_context]
    torch._dynamo.reset()
    return t.record, outputs, eager, pieces


def test_padded_replays_match_eager_and_outputs_are_not_overwritten(replayed):
    _, outputs, eager, _ = replayed
    for n, outs in outputs.items():
        for out in outs:  # the first call's result survives later replays (outputs are cloned)
            torch.testing.assert_close(out, eager[n], rtol=1e-5, atol=1e-6)


def test_captures_per_piece_and_size_with_replay_counts(replayed):
    record, *_ = replayed
    dynamic = {(c.submod, c.size): c for c in record.captures if c.graph_id == "g0"}
    pieces = {"submod_0", "submod_2", "submod_4"}
    assert set(dynamic) == {(p, s) for p in pieces for s in SIZES}
    # Sizes 3, 4 pad to 4 (2 calls each, twice), and the capture call replays too.
    assert {c.replays for (_, s), c in dynamic.items() if s == 4} == {4}
    assert {c.replays for (_, s), c in dynamic.items() if s == 8} == {8 + 1}  # 5..8 twice, + n=8 first
    assert all(c.extra["first_tokens"] <= c.size for c in dynamic.values())
    static = [c for c in record.captures if c.graph_id != "g0"]  # n=1 recompiled as a static graph
    assert {(c.submod, c.size) for c in static} == {(p, 1) for p in pieces}
    assert all(c.replays == 2 for c in static)
    assert all(s.category == "capture" for s in record.spans if s.name.startswith("capture"))


def test_static_inputs_are_reused_not_copied(replayed):
    record, *_ = replayed
    by_piece = {(c.submod, c.size): c.extra for c in record.captures if c.graph_id == "g0"}
    for size in SIZES:
        first, middle, last = (by_piece[(p, size)] for p in ("submod_0", "submod_2", "submod_4"))
        # The first piece copies the token ids and positions into its static buffers.
        assert first["copied"] == 2
        assert first["adopted"] == 0
        # Later pieces read the residual stream from the previous piece's static output, reuse
        # the positions the first piece copied, and read the weights in place.
        assert middle["adopted"] == 1
        assert middle["shared"] == 1
        assert middle["in_place"] == 6
        assert last["adopted"] == 1
        assert last["shared"] == 0
        assert last["in_place"] == 6
        # Only the attention output (made eagerly between the graphs) is copied.
        assert middle["copied"] == last["copied"] == 1


def test_sizes_above_the_largest_run_without_graphs(replayed):
    *_, pieces = replayed
    assert pieces
    assert all(p.eager_calls == 4 for p in pieces if p.spec.dynamic)


def test_spec_of_a_dynamic_piece():
    shapes = torch.fx.experimental.symbolic_shapes
    env = shapes.ShapeEnv()
    mode = torch._subclasses.fake_tensor.FakeTensorMode(shape_env=env)
    x = mode.from_tensor(torch.randn(8, 4), symbolic_context=shapes.StatelessSymbolicContext(
        dynamic_sizes=[shapes.DimDynamic.DYNAMIC, shapes.DimDynamic.STATIC]))
    n = x.shape[0]
    with mode:
        out = torch.cat([x, x]).sum(1)
    spec = build_spec([x, n, torch.ones(3)], (out, n * 2))
    assert spec.dynamic
    assert spec.locate == (1, None)
    assert not spec.single_output
    assert spec.args[0].dynamic_dims == (0,)
    assert spec.args[2].dynamic_dims == ()
    assert evaluate(spec.outs[0].shape[0], spec.symbol, 5) == 10
    assert evaluate(spec.outs[1].expr, spec.symbol, 3) == 6
