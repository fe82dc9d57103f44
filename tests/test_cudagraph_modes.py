"""CUDA-graph modes of the embedded backend on CPU: settings, the per-call choice, what runs in
which graph, the records, and the error for a splitting op a full graph cannot capture.

The graphs are the eager-replay stand-ins of ``test_cudagraph_padding`` (a capture records the
call; a replay re-runs it on the same static inputs into the same outputs; a FULL replay runs
with the pieces passing through, as a real replay runs no Python). Everything else is the real
backend (split, keys, dispatch, wrappers) with eager pieces, so no Inductor. tests/gpu/
test_cudagraph_modes_gpu.py runs the same on real CUDA graphs.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from test_cudagraph_padding import EagerPieces, EagerReplayContext

import compile_lens
from compile_lens import demo_model
from compile_lens.backend import cudagraphs
from compile_lens.backend.dispatch import (
    FULL,
    NONE,
    PIECEWISE,
    VLLM_DEFAULT_CAPTURE_SIZES,
    CudaGraphModeError,
    Dispatcher,
    settings,
)
from compile_lens.backend.full_graph import CudaGraphCaptureError, FullGraph, unsafe_ops
from compile_lens.backend.graph_plan import GraphPlan, plan_graph
from compile_lens.model import WHOLE_MODEL

SIZES = [2, 4, 8]
PIECES = ("submod_0", "submod_2", "submod_4")
CALLS = list(range(1, 11))


# -- settings and the per-call choice (pure) ---------------------------------------------------
def test_settings_keep_the_old_default_and_name_vllms_modes():
    assert settings(None, [4, 2]).mode == PIECEWISE  # cudagraph_sizes alone: as before
    assert settings(None, []).mode == NONE
    assert settings("none", [2, 4]).capture_sizes == ()
    full = settings("FULL", [2, 4])
    assert (full.mode, full.capture_sizes, full.full_sizes) == (FULL, (2, 4), frozenset({2, 4}))
    assert full.piecewise_sizes == []
    mixed = settings("full_and_piecewise", [4, 8], [1, 2])
    assert mixed.capture_sizes == (1, 2, 4, 8)
    assert mixed.piecewise_sizes == [4, 8]
    assert mixed.payload() == {"cudagraph_mode": "FULL_AND_PIECEWISE",
                               "capture_sizes": [1, 2, 4, 8], "full_sizes": [1, 2]}


def test_the_public_factory_passes_the_modes_through():
    for ops in (None, ["cl_modes::plain"]):
        backend = compile_lens.piecewise(splitting_ops=ops, cudagraph_sizes=[4, 2],
                                         cudagraph_mode="full_and_piecewise",
                                         cudagraph_full_sizes=[1])
        assert backend.cudagraphs.payload() == {"cudagraph_mode": "FULL_AND_PIECEWISE",
                                                "capture_sizes": [1, 2, 4], "full_sizes": [1]}
    assert compile_lens.piecewise(cudagraph_sizes=[2]).cudagraphs.mode == PIECEWISE
    with pytest.raises(CudaGraphModeError, match="needs cudagraph_full_sizes"):
        compile_lens.piecewise(cudagraph_sizes=[2], cudagraph_mode="full_and_piecewise")


@pytest.mark.parametrize(("args", "message"), [
    (("fast", [2]), "cudagraph_mode='fast' is not one of 'none', 'piecewise'"),
    (("full", []), "needs cudagraph_sizes"),
    (("full_and_piecewise", [2, 4]), "needs cudagraph_full_sizes"),
    (("piecewise", [2], [1]), "cudagraph_full_sizes=[1] needs cudagraph_mode='full_and_piecewise'"),
    (("piecewise", [0, 2]), "must be positive"),
])
def test_bad_settings_are_one_clear_error(args, message):
    with pytest.raises(CudaGraphModeError, match=message.replace("[", r"\[").replace("]", r"\]")
                       ) as caught:
        settings(*args)
    assert isinstance(caught.value, compile_lens.CompileLensError)
    assert "\n" not in str(caught.value)


def test_dispatch_pads_to_the_next_size_in_that_sizes_mode():
    d = Dispatcher(settings("full_and_piecewise", [4, 8], [1, 2]))
    assert [d.choose(n) for n in (1, 2, 3, 4, 5, 8)] == [
        (FULL, 1), (FULL, 2), (PIECEWISE, 4), (PIECEWISE, 4), (PIECEWISE, 8), (PIECEWISE, 8)]
    assert d.choose(9) == (NONE, None)
    assert Dispatcher(settings("none", [2])).choose(1) == (NONE, None)
    assert Dispatcher(settings("full", [2, 4])).choose(3) == (FULL, 4)


def test_vllms_default_capture_sizes():
    sizes = VLLM_DEFAULT_CAPTURE_SIZES
    assert sizes[:6] == (1, 2, 4, 8, 16, 24)
    assert sizes[sizes.index(248):sizes.index(248) + 3] == (248, 256, 272)
    assert sizes[-1] == 512
    assert len(sizes) == 51


# -- splitting ops a full graph cannot capture --------------------------------------------------
_LIB = torch.library.Library("cl_modes", "FRAGMENT")
_LIB.define("unsafe(Tensor x) -> Tensor", tags=(torch.Tag.cudagraph_unsafe,))
_LIB.define("plain(Tensor x) -> Tensor")
for _name in ("unsafe", "plain"):
    _LIB.impl(_name, lambda x: x * 2, "CompositeExplicitAutograd")
    _LIB.impl(_name, torch.empty_like, "Meta")


def test_the_cudagraph_unsafe_tag_is_read_by_name_packet_and_overload():
    ops = torch.ops.cl_modes
    assert unsafe_ops(["cl_modes::unsafe", ops.unsafe, ops.unsafe.default, "cl_modes.unsafe"]
                      ) == ["cl_modes::unsafe", "cl_modes::unsafe", "cl_modes::unsafe",
                            "cl_modes.unsafe"]
    assert unsafe_ops(["cl_modes::plain", ops.plain, "no_such::op", "unsafe",
                       torch.nn.functional.scaled_dot_product_attention]) == []


@pytest.mark.parametrize("mode", ["full", "full_and_piecewise"])
def test_a_full_mode_refuses_an_unsafe_splitting_op_up_front(mode):
    with pytest.raises(CudaGraphModeError, match=(
            rf"cudagraph_mode='{mode}' captures the splitting ops inside full CUDA graphs, but "
            r"cl_modes::unsafe is tagged torch.Tag.cudagraph_unsafe")):
        compile_lens.piecewise(splitting_ops=["cl_modes::unsafe"], cudagraph_mode=mode,
                               cudagraph_sizes=[2], cudagraph_full_sizes=[2])
    # piecewise runs splitting ops eagerly: nothing to refuse
    compile_lens.piecewise(splitting_ops=["cl_modes::unsafe"], cudagraph_sizes=[2])


class _UsesLateOp(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for _ in range(2):  # two layers: the op is named once
            x = torch.ops.cl_modes.late(x + 1) - 1
        return x


def test_an_op_tagged_after_the_backend_was_made_is_refused_when_compiling():
    torch._dynamo.reset()
    backend = EagerModes(splitting_ops=["cl_modes::late"], cudagraph_mode="full",
                         cudagraph_sizes=[2], use_artifact_cache=False)
    backend.graph_context = EagerReplayContext()
    # registered only now: the backend could not see its tag when it was made
    _LIB.define("late(Tensor x) -> Tensor", tags=(torch.Tag.cudagraph_unsafe,))
    _LIB.impl("late", lambda x: x * 2, "CompositeExplicitAutograd")
    _LIB.impl("late", torch.empty_like, "Meta")
    with pytest.raises(Exception, match=r"but cl_modes::late is tagged torch.Tag.cudagraph_unsafe"
                       ) as caught:
        torch.compile(_UsesLateOp(), backend=backend)(torch.ones(2, 3))
    # Dynamo reports a backend's error as BackendCompilerFailed around it
    assert isinstance(getattr(caught.value, "inner_exception", caught.value), CudaGraphModeError)
    torch._dynamo.reset()


def test_a_failed_full_capture_names_the_splitting_ops():
    torch._dynamo.reset()
    backend = EagerModes(splitting_ops=["cl_modes::plain"], cudagraph_mode="full",
                         cudagraph_sizes=[2], use_artifact_cache=False)
    backend.graph_context = _FailingCapture()
    with pytest.raises(CudaGraphCaptureError, match=(
            r"capturing the full CUDA graph at size 2 failed \(RuntimeError: operation not "
            r"permitted when stream is capturing\)\. A full graph captures the splitting ops too "
            r"\(cl_modes::plain")) as caught:
        torch.compile(_UsesPlain(), backend=backend)(torch.ones(2, 3))
    assert isinstance(caught.value.__cause__, RuntimeError)
    assert not backend.graph_context.full_active  # restored
    torch._dynamo.reset()


class _UsesPlain(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.cl_modes.plain(x + 1) - 1


class _FailingCapture(EagerReplayContext):
    """A capture that fails the way CUDA refuses a synchronising op inside a capture."""

    def capture(self, fn: Any, args: list[Any]) -> tuple[Any, Any]:
        msg = "operation not permitted when stream is capturing"
        raise RuntimeError(msg)


# -- what runs where, recorded ------------------------------------------------------------------
class EagerModes(EagerPieces):
    """The real backend and planning, on CPU: eager pieces and eager-replay "graphs"."""

    def _graph_plan(self, graph_key: str, split_gm: Any, example_inputs: Any) -> GraphPlan | None:
        return plan_graph(graph_key, split_gm, example_inputs, self.cudagraphs,
                          self.graph_context, require_cuda=False)


class _Run:
    def __init__(self, record: Any, outputs: dict[int, list[torch.Tensor]],
                 eager: dict[int, torch.Tensor], wrappers: list[Any], returned: list[Any]) -> None:
        self.record, self.outputs, self.eager = record, outputs, eager
        self.wrappers, self.returned = wrappers, returned


def _run(mode: str, full_sizes: list[int] | None = None) -> _Run:
    torch._dynamo.reset()
    model = demo_model.build(layers=2)
    backend = EagerModes(cudagraph_sizes=SIZES, cudagraph_mode=mode,
                         cudagraph_full_sizes=full_sizes, use_artifact_cache=False)
    backend.graph_context = EagerReplayContext()
    returned: list[Any] = []
    original = backend.__call__

    def keep(gm: Any, inputs: Any) -> Any:
        returned.append(original(gm, inputs))
        return returned[-1]

    compiled = torch.compile(model, backend=keep)
    outputs: dict[int, list[torch.Tensor]] = {}
    seq0 = cudagraphs.capture_seq()
    with torch.no_grad(), compile_lens.trace(strict=True, factors=False, bytecode=False) as t:
        outputs[8] = [compiled(*demo_model.example_inputs(8))]
        for _ in range(2):
            for n in CALLS:
                ids, pos = demo_model.example_inputs(n, mark_dynamic=False)
                outputs.setdefault(n, []).append(compiled(ids, pos))
        cudagraphs.report_replays(since=seq0)
    with torch.no_grad():
        eager = {n: model(*demo_model.example_inputs(n, mark_dynamic=False)) for n in outputs}
    wrappers = [p for p in list(cudagraphs._LIVE) if p.context is backend.graph_context]
    torch._dynamo.reset()
    return _Run(t.record, outputs, eager, wrappers, returned)


@pytest.fixture(scope="module")
def mixed() -> _Run:
    return _run("full_and_piecewise", full_sizes=[2])


@pytest.fixture(scope="module")
def full() -> _Run:
    return _run("full")


def _rows(record: Any, graph_id: str = "g0") -> dict[tuple[str, str, int], tuple[int, int, int]]:
    return {(c.mode, c.submod, c.size): (c.replays, c.tokens, c.padded_tokens)
            for c in record.captures if c.graph_id == graph_id}


def _match_eager(run: _Run) -> None:
    for n, outs in run.outputs.items():
        for out in outs:  # earlier results survive later replays (outputs are cloned)
            torch.testing.assert_close(out, run.eager[n], rtol=1e-5, atol=1e-6)


def test_full_and_piecewise_outputs_equal_eager_at_every_size(mixed):
    _match_eager(mixed)


def test_full_and_piecewise_runs_full_graphs_at_decode_sizes_and_pieces_at_the_others(mixed):
    # 8 (first call, then 5..8 twice) and 3, 4 (twice) replay the pieces' graphs; 2 replays the
    # whole graph, never the pieces' (they passed through while it was captured)
    piece_rows = {(PIECEWISE, p, 8): (9, 8 + 2 * 26, 9 * 8 - 60) for p in PIECES}
    piece_rows |= {(PIECEWISE, p, 4): (4, 2 * 7, 4 * 4 - 14) for p in PIECES}
    assert _rows(mixed.record) == {(FULL, WHOLE_MODEL, 2): (2, 4, 0), **piece_rows}
    # one token: Dynamo's static graph, captured whole at its one size
    assert _rows(mixed.record, "g1") == {(FULL, WHOLE_MODEL, 1): (2, 2, 0)}
    # 9 and 10 tokens (twice) are above the largest size: counted once, for the whole model
    fallbacks = [(f.graph_id, f.submod, f.mode, f.reason, f.calls, f.tokens)
                 for f in mixed.record.cudagraph_fallbacks]
    assert fallbacks == [("g0", WHOLE_MODEL, FULL, "above_largest_size", 4, 38)]
    assert mixed.record.run.extra["cudagraphs"] == {
        "cudagraph_mode": "FULL_AND_PIECEWISE", "capture_sizes": [2, 4, 8], "full_sizes": [2]}


def test_full_and_piecewise_captures_carry_mode_phases_and_static_input_counts(mixed):
    by_key = {(c.graph_id, c.submod, c.size): c for c in mixed.record.captures}
    model = by_key[("g0", WHOLE_MODEL, 2)]
    assert model.mode == FULL
    assert model.extra["first_tokens"] == 2
    assert model.extra["copied"] == 2  # token ids and positions
    assert model.extra["in_place"] > 10  # every weight of the model, read in place
    assert "artifact" not in model.extra
    assert {"warmup_seconds", "capture_seconds"} <= set(model.extra)
    assert {c.mode for c in mixed.record.captures if c.submod != WHOLE_MODEL} == {PIECEWISE}
    spans = [s.name for s in mixed.record.spans if s.category == "capture"]
    assert f"capture FULL {WHOLE_MODEL} [2]" in spans
    assert "capture PIECEWISE submod_0 [4]" in spans


def test_the_backend_returns_one_full_wrapper_per_graph(mixed):
    assert [type(r) for r in mixed.returned] == [FullGraph, FullGraph]
    pieces = [w for w in mixed.wrappers if not isinstance(w, FullGraph)]
    assert {p.submod for p in pieces} == set(PIECES)
    assert all(set(p.entries) <= {4, 8} for p in pieces)
    assert all(p.eager_calls == 0 for p in pieces)  # the model counted the calls above 8


def test_full_mode_outputs_equal_eager_and_every_size_is_one_whole_graph(full):
    _match_eager(full)
    assert _rows(full.record) == {
        (FULL, WHOLE_MODEL, 8): (9, 60, 12), (FULL, WHOLE_MODEL, 4): (4, 14, 2),
        (FULL, WHOLE_MODEL, 2): (2, 4, 0)}
    assert all(isinstance(w, FullGraph) for w in full.wrappers)  # no piece is wrapped
    assert [(f.submod, f.calls) for f in full.record.cudagraph_fallbacks] == [(WHOLE_MODEL, 4)]
    assert full.record.run.extra["cudagraphs"]["full_sizes"] == SIZES


def test_none_mode_captures_nothing_and_says_so():
    run = _run("none")
    _match_eager(run)
    assert run.record.captures == []
    assert run.wrappers == []
    assert run.record.run.extra["cudagraphs"]["cudagraph_mode"] == NONE


def test_steps_of_a_graph_compiled_outside_a_block_send_no_event_inside_it():
    """Counters only: replays and fallbacks cost an integer, never an event per step."""
    import logging

    from compile_lens.instrument.structured_log import TRACE_LOGGER, StructuredTraceHandler

    torch._dynamo.reset()
    backend = EagerModes(cudagraph_sizes=SIZES, cudagraph_mode="full_and_piecewise",
                         cudagraph_full_sizes=[2], use_artifact_cache=False)
    backend.graph_context = EagerReplayContext()
    compiled = torch.compile(demo_model.build(layers=1), backend=backend)
    sizes = (2, 3, 8, 9)  # a full graph, two piecewise ones, one call above the largest
    with torch.no_grad():
        compiled(*demo_model.example_inputs(8))
        for n in sizes:
            compiled(*demo_model.example_inputs(n, mark_dynamic=False))
        with compile_lens.trace(strict=True, factors=False, bytecode=False) as t:
            handler = next(h for h in logging.getLogger(TRACE_LOGGER).handlers
                           if isinstance(h, StructuredTraceHandler))
            before = handler.count
            for _ in range(5):
                for n in sizes:
                    compiled(*demo_model.example_inputs(n, mark_dynamic=False))
            during = handler.count - before
    torch._dynamo.reset()
    assert during == 0
    assert t.record.captures == [] and t.record.cudagraph_fallbacks == []


@pytest.mark.parametrize("mode", ["full", "full_and_piecewise"])
def test_a_moved_parameter_runs_without_any_graph_and_is_counted(mode):
    torch._dynamo.reset()
    model = demo_model.build(layers=1)
    backend = EagerModes(cudagraph_sizes=[4, 6, 8], cudagraph_mode=mode, cudagraph_full_sizes=[4],
                         use_artifact_cache=False)
    backend.graph_context = EagerReplayContext()
    compiled = torch.compile(model, backend=backend)
    seq0 = cudagraphs.capture_seq()
    with torch.no_grad(), compile_lens.trace(strict=True, factors=False, bytecode=False) as t:
        compiled(*demo_model.example_inputs(8))
        compiled(*demo_model.example_inputs(4, mark_dynamic=False))  # the full graph at 4
        model.lm_head.weight.data = model.lm_head.weight.data.clone() * 2  # a new address
        out = compiled(*demo_model.example_inputs(3, mark_dynamic=False))
        cudagraphs.report_replays(since=seq0)
    pieces = [p for p in list(cudagraphs._LIVE)
              if p.context is backend.graph_context and not isinstance(p, FullGraph)]
    with torch.no_grad():
        torch.testing.assert_close(out, model(*demo_model.example_inputs(3, mark_dynamic=False)))
    torch._dynamo.reset()
    assert [(f.submod, f.reason, f.calls, f.tokens) for f in t.record.cudagraph_fallbacks] == [
        (WHOLE_MODEL, "static_input_moved", 1, 3)]
    assert any("moved since its CUDA graph was captured" in n for n in t.record.run.notes)
    # the pieces ran through (without, they would have padded 3 to 6 and captured there)
    assert all(set(p.entries) == {8} for p in pieces)
    assert len(pieces) == (0 if mode == "full" else 2)


class _TwoSizes(torch.nn.Module):
    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.ops.cl_modes.plain(x + 1).sum(0) + y.sum(0)


def test_a_graph_with_two_dynamic_sizes_gets_no_full_graph_and_says_why():
    torch._dynamo.reset()
    backend = EagerModes(splitting_ops=["cl_modes::plain"], cudagraph_sizes=[2, 4],
                         cudagraph_mode="full_and_piecewise", cudagraph_full_sizes=[2],
                         use_artifact_cache=False)
    backend.graph_context = EagerReplayContext()
    compiled = torch.compile(_TwoSizes(), backend=backend)
    x, y = torch.randn(3, 4), torch.randn(5, 4)
    torch._dynamo.mark_dynamic(x, 0)
    torch._dynamo.mark_dynamic(y, 0)
    seq0 = cudagraphs.capture_seq()
    with torch.no_grad(), compile_lens.trace(strict=True, factors=False, bytecode=False) as t:
        out = compiled(x, y)
        cudagraphs.report_replays(since=seq0)
    torch._dynamo.reset()
    torch.testing.assert_close(out, _TwoSizes()(x, y))
    notes = t.record.run.notes
    assert any("no full CUDA graphs" in n and "several symbols" in n for n in notes), notes
    # the piece that depends on x only still gets its piecewise graph (3 pads to 4)
    assert {(c.mode, c.submod, c.size) for c in t.record.captures} == {(PIECEWISE, "submod_0", 4)}


# -- a splitting op that writes into an output the piece before allocated (vLLM's attention) ---
_LIB.define("scale_into(Tensor x, Tensor(a!) out) -> ()")


def _scale_into(x: torch.Tensor, out: torch.Tensor) -> None:
    out.copy_(x * 2)


_LIB.impl("scale_into", _scale_into, "CompositeExplicitAutograd")
_LIB.impl("scale_into", lambda x, out: None, "Meta")


class _WritesInto(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.randn(8, 8) / 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for _ in range(2):
            out = torch.empty_like(x)
            torch.ops.cl_modes.scale_into(torch.tanh(x @ self.w), out)
            x = x + out
        return x


@pytest.mark.parametrize("mode", ["piecewise", "full_and_piecewise"])
def test_an_op_writing_into_the_previous_pieces_output_is_read_in_place(mode):
    torch._dynamo.reset()
    torch.manual_seed(0)
    model = _WritesInto()
    backend = EagerModes(splitting_ops=["cl_modes::scale_into"], cudagraph_sizes=[2, 4, 8],
                         cudagraph_mode=mode, use_artifact_cache=False,
                         cudagraph_full_sizes=[2] if mode == "full_and_piecewise" else None)
    backend.graph_context = EagerReplayContext()
    compiled = torch.compile(model, backend=backend)
    first = torch.randn(8, 8)
    torch._dynamo.mark_dynamic(first, 0)
    seq0 = cudagraphs.capture_seq()
    with torch.no_grad(), compile_lens.trace(strict=True, factors=False, bytecode=False) as t:
        compiled(first)
        for n in (3, 2, 5, 8, 3):
            x = torch.randn(n, 8)
            torch.testing.assert_close(compiled(x), model(x))
        cudagraphs.report_replays(since=seq0)
    torch._dynamo.reset()
    pieces = {(c.submod, c.size): c.extra for c in t.record.captures if c.mode == PIECEWISE}
    assert {s for _, s in pieces} == ({2, 4, 8} if mode == "piecewise" else {4, 8})
    for (submod, _), extra in pieces.items():
        if submod != "submod_0":  # the op wrote into the previous graph's output: no copy
            assert extra["copied"] == 0
            assert extra["adopted"] >= 1
