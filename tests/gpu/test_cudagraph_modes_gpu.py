"""CUDA-graph modes on a real GPU: outputs equal eager at every size in every mode, the captures,
replays, padding and fallbacks recorded per mode, and the errors of a full graph that cannot be
captured.

Run on the H100 (see docs/gpu.md): ``python -m pytest tests/gpu/test_cudagraph_modes_gpu.py``.
With ``$COMPILE_LENS_GPU_OUT`` set, each mode's trace is saved there (``gpu_modes_<mode>.json``).
The modes share one artifact cache, so only the first compiles with Inductor; the others load.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import torch
from _gpu_runs import inputs, save
from _runs import inductor_cache

import compile_lens
from compile_lens import demo_model
from compile_lens.backend import cudagraphs
from compile_lens.backend.dispatch import FULL, PIECEWISE, CudaGraphModeError
from compile_lens.backend.full_graph import CudaGraphCaptureError, FullGraph
from compile_lens.model import WHOLE_MODEL

pytestmark = [pytest.mark.gpu, pytest.mark.inductor,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]

MODES = ("none", "piecewise", "full", "full_and_piecewise")
SIZES = [2, 4, 8]
FULL_SIZES = [2]
CALLS = list(range(1, 11))
LAYERS = 2
PIECES = ("submod_0", "submod_2", "submod_4")


@dataclass
class ModeRun:
    record: Any
    backend: Any
    outputs: dict[int, list[torch.Tensor]] = field(default_factory=dict)
    eager: dict[int, torch.Tensor] = field(default_factory=dict)
    wrappers: list[Any] = field(default_factory=list)


def _run(model: torch.nn.Module, mode: str, root: Path) -> ModeRun:
    torch._dynamo.reset()
    backend = compile_lens.piecewise(
        cudagraph_sizes=SIZES, cudagraph_mode=mode,  # type: ignore[arg-type]
        cudagraph_full_sizes=FULL_SIZES if mode == "full_and_piecewise" else None,
        cache_dir=str(root / "artifacts"))
    compiled = torch.compile(model, backend=backend)
    run = ModeRun(record=None, backend=backend)
    since = cudagraphs.capture_seq()
    with torch.no_grad(), compile_lens.trace(strict=True, factors=False) as t:
        run.outputs[8] = [compiled(*inputs(8, dynamic=True))]
        for _ in range(2):
            for n in CALLS:
                run.outputs.setdefault(n, []).append(compiled(*inputs(n)))
        cudagraphs.report_replays(since=since)
    with torch.no_grad():
        run.eager = {n: model(*inputs(n)) for n in CALLS}
    torch.cuda.synchronize()
    run.wrappers = [p for p in list(cudagraphs._LIVE) if p.context is backend.graph_context]
    run.record = t.record
    save(t, f"gpu_modes_{mode}.json")
    return run


@pytest.fixture(scope="module")
def mode_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ModeRun]:
    root = tmp_path_factory.mktemp("gpu_modes")
    runs = {}
    with inductor_cache(root / "inductor"):
        torch.manual_seed(0)
        model = demo_model.build(layers=LAYERS, device="cuda")
        for mode in MODES:
            runs[mode] = _run(model, mode, root)
    return runs


def _rows(record: Any, graph_id: str = "g0") -> dict[tuple[str, str, int], tuple[int, int, int]]:
    return {(c.mode, c.submod, c.size): (c.replays, c.tokens, c.padded_tokens)
            for c in record.captures if c.graph_id == graph_id}


def _fallbacks(record: Any) -> list[tuple[str, str, str, str, int, int]]:
    return [(f.graph_id, f.submod, f.mode, f.reason, f.calls, f.tokens)
            for f in record.cudagraph_fallbacks]


@pytest.mark.parametrize("mode", MODES)
def test_outputs_equal_eager_at_every_size(mode_runs, mode):
    run = mode_runs[mode]
    for n, outs in run.outputs.items():
        for out in outs:  # earlier results survive later replays
            torch.testing.assert_close(out, run.eager[n], rtol=1e-4, atol=1e-5)


def test_none_captures_nothing(mode_runs):
    run = mode_runs["none"]
    assert run.record.captures == []
    assert run.wrappers == []
    assert run.record.run.extra["cudagraphs"]["cudagraph_mode"] == "NONE"


# Calls per capture size: 8 once (compile) + 5..8 twice; 4: 3, 4 twice; 2: 2 twice.
AT_8, AT_4, AT_2 = (9, 60, 12), (4, 14, 2), (2, 4, 0)


def test_piecewise_replays_padding_and_fallbacks_per_piece(mode_runs):
    record = mode_runs["piecewise"].record
    assert _rows(record) == {(PIECEWISE, p, s): row for p in PIECES
                             for s, row in ((8, AT_8), (4, AT_4), (2, AT_2))}
    assert _rows(record, "g1") == {(PIECEWISE, p, 1): (2, 2, 0) for p in PIECES}
    assert _fallbacks(record) == [("g0", p, PIECEWISE, "above_largest_size", 4, 38)
                                  for p in PIECES]


def test_full_captures_the_whole_graph_per_size(mode_runs):
    run = mode_runs["full"]
    assert _rows(run.record) == {(FULL, WHOLE_MODEL, 8): AT_8, (FULL, WHOLE_MODEL, 4): AT_4,
                                 (FULL, WHOLE_MODEL, 2): AT_2}
    assert _rows(run.record, "g1") == {(FULL, WHOLE_MODEL, 1): (2, 2, 0)}
    assert _fallbacks(run.record) == [("g0", WHOLE_MODEL, FULL, "above_largest_size", 4, 38)]
    assert all(isinstance(w, FullGraph) for w in run.wrappers)
    for c in run.record.captures:
        assert c.seconds > c.extra["capture_seconds"] > 0
        assert c.extra["warmup_seconds"] > 0
        assert c.held_bytes > 0
        assert c.memory_bytes >= 0
    assert sum(c.memory_bytes for c in run.record.captures) > 0


def test_full_and_piecewise_full_at_decode_sizes_pieces_at_the_others(mode_runs):
    run = mode_runs["full_and_piecewise"]
    pieces = {(PIECEWISE, p, s): row for p in PIECES for s, row in ((8, AT_8), (4, AT_4))}
    assert _rows(run.record) == {(FULL, WHOLE_MODEL, 2): AT_2, **pieces}
    assert _rows(run.record, "g1") == {(FULL, WHOLE_MODEL, 1): (2, 2, 0)}
    assert _fallbacks(run.record) == [("g0", WHOLE_MODEL, FULL, "above_largest_size", 4, 38)]
    # the pieces passed through while the full graphs were captured: no graphs at 1 or 2
    assert all(set(w.entries) <= {4, 8} for w in run.wrappers if not isinstance(w, FullGraph))
    assert run.record.run.extra["cudagraphs"] == {
        "cudagraph_mode": "FULL_AND_PIECEWISE", "capture_sizes": SIZES, "full_sizes": FULL_SIZES}


def test_one_pool_for_full_and_piecewise_graphs(mode_runs):
    run = mode_runs["full_and_piecewise"]
    graphs = [(w.mode, e.graph) for w in run.wrappers for e in w.entries.values()]
    assert {mode for mode, _ in graphs} == {FULL, PIECEWISE}
    assert {g.pool() for _, g in graphs} == {run.backend.graph_context._pool}


# -- a parameter that moved, splitting ops a full graph cannot capture ------------------------
def test_a_moved_parameter_runs_without_the_full_graph(tmp_path):
    with inductor_cache(tmp_path / "inductor"):
        model = demo_model.build(layers=1, device="cuda")
        backend = compile_lens.piecewise(cudagraph_sizes=[4], cudagraph_mode="full",
                                         use_artifact_cache=False)
        compiled = torch.compile(model, backend=backend)
        since = cudagraphs.capture_seq()
        with torch.no_grad(), compile_lens.trace(strict=True, factors=False) as t:
            compiled(*inputs(4, dynamic=True))
            model.lm_head.weight.data = model.lm_head.weight.data.clone() * 2
            out = compiled(*inputs(3))
            cudagraphs.report_replays(since=since)
        with torch.no_grad():
            torch.testing.assert_close(out, model(*inputs(3)), rtol=1e-4, atol=1e-5)
    assert [(f.reason, f.calls, f.tokens) for f in t.record.cudagraph_fallbacks] == [
        ("static_input_moved", 1, 3)]


_UNSAFE = getattr(torch.Tag, "cudagraph_unsafe", None)
_LIB = torch.library.Library("cl_gpu_modes", "FRAGMENT")
_LIB.define("unsafe(Tensor x) -> Tensor", tags=(_UNSAFE,) if _UNSAFE is not None else ())
_LIB.define("syncs(Tensor x) -> Tensor")


def _syncs(x: torch.Tensor) -> torch.Tensor:
    # reads a value back to the host: fine eagerly, refused inside a CUDA-graph capture
    return x * 2 if float(x.abs().sum().item()) >= 0 else x


for _name in ("unsafe", "syncs"):
    _LIB.impl(_name, _syncs, "CompositeExplicitAutograd")
    _LIB.impl(_name, torch.empty_like, "Meta")


class _SyncNet(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.randn(16, 16) / 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(torch.ops.cl_gpu_modes.syncs(x @ self.w) + 1)


@pytest.mark.skipif(_UNSAFE is None, reason="this torch has no cudagraph_unsafe tag")
def test_a_tagged_unsafe_splitting_op_is_refused_for_full_graphs():
    with pytest.raises(CudaGraphModeError, match="cl_gpu_modes::unsafe is tagged"):
        compile_lens.piecewise(splitting_ops=["cl_gpu_modes::unsafe"], cudagraph_mode="full",
                               cudagraph_sizes=[2, 4])


def test_a_full_capture_that_fails_names_the_splitting_op_and_piecewise_still_works(tmp_path):
    x = torch.randn(3, 16, device="cuda")
    torch._dynamo.mark_dynamic(x, 0)
    with inductor_cache(tmp_path / "inductor"):
        torch.manual_seed(0)
        model = _SyncNet().cuda()
        piecewise = torch.compile(model, backend=compile_lens.piecewise(
            splitting_ops=["cl_gpu_modes::syncs"], cudagraph_sizes=[4], use_artifact_cache=False))
        with torch.no_grad():
            torch.testing.assert_close(piecewise(x), model(x), rtol=1e-4, atol=1e-5)
        torch._dynamo.reset()
        full = torch.compile(model, backend=compile_lens.piecewise(
            splitting_ops=["cl_gpu_modes::syncs"], cudagraph_sizes=[4], cudagraph_mode="full",
            use_artifact_cache=False))
        with torch.no_grad(), pytest.raises(CudaGraphCaptureError, match=(
                r"capturing the full CUDA graph at size 4 failed .*splitting ops too "
                r"\(cl_gpu_modes::syncs\)")):
            full(x)
        torch.cuda.synchronize()
        with torch.no_grad():  # the device is still usable
            assert torch.isfinite(model(x)).all()
        # and so is its RNG: a failed capture leaves the generator in capture mode unless the
        # backend takes it out ("Offset increment outside graph capture" on every later randn)
        assert torch.randn(4, device="cuda").isfinite().all()
