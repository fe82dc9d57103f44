"""The lean attention arm of ``benchmarks/bench_cudagraph_modes.py`` (issue 15): a custom op that
is the flash kernel alone, the transposes around it left to the piece graphs, so that an eager
call in piecewise mode costs what a C++ attention op of vLLM's costs.

On the CPU the op calls the CPU flash kernel (``_scaled_dot_product_flash_attention_for_cpu``), on
CUDA the CUDA one; the checks here are the same for both: it computes the SDPA op's attention,
the model built with it computes the SDPA model's logits, and its Meta impl (the same aten op on
meta tensors) gives the layout the real kernel returns, which Dynamo and AOTAutograd trace
through.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import torch

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
CUDA = torch.cuda.is_available()
HEADS, HIDDEN, VOCAB = 4, 128, 97


@pytest.fixture
def bm(monkeypatch: pytest.MonkeyPatch) -> Any:
    sys.path.insert(0, str(BENCH))
    try:
        import bench_cudagraph_modes as module
    finally:
        sys.path.remove(str(BENCH))
    monkeypatch.setattr(module, "DEVICE", "cuda" if CUDA else "cpu")
    return module


def _views(n: int, bm: Any, dtype: torch.dtype) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    g = torch.Generator().manual_seed(n)
    qkv = torch.randn(n, 3, HEADS, HIDDEN // HEADS, generator=g).to(bm.DEVICE, dtype).unbind(1)
    return list(qkv), [t.transpose(0, 1)[None] for t in qkv]


@pytest.mark.parametrize("n", [1, 3, 17, 130])
def test_the_lean_op_is_the_sdpa_ops_attention(bm: Any, n: int) -> None:
    bm.define_lean_attention()
    dtype = torch.float16 if bm.DEVICE == "cuda" else torch.float32
    qkv, views = _views(n, bm, dtype)
    lean = torch.ops.bench_cg.attention_lean(*views)[0].transpose(0, 1)
    sdpa = torch.ops.bench_cg.attention(*qkv)
    assert lean.shape == sdpa.shape
    assert torch.allclose(lean, sdpa, atol=1e-5 if dtype == torch.float32 else 2e-3)


def test_the_meta_impl_gives_the_kernels_layout(bm: Any) -> None:
    bm.define_lean_attention()
    dtype = torch.float16 if bm.DEVICE == "cuda" else torch.float32
    _, views = _views(9, bm, dtype)
    real = torch.ops.bench_cg.attention_lean(*views)
    meta = torch.ops.bench_cg.attention_lean(*(v.to("meta") for v in views))
    assert (meta.shape, meta.stride(), meta.dtype) == (real.shape, real.stride(), real.dtype)


def test_the_lean_model_is_the_sdpa_model_also_traced(bm: Any) -> None:
    """Same weights, same logits, eager and through Dynamo + AOTAutograd (fake tensors through
    the Meta impl), with the op left in the graph as the splitting op it is meant to be."""
    torch._dynamo.reset()
    lean = bm.build_model(2, HIDDEN, HEADS, VOCAB, lean=True)
    sdpa = bm.build_model(2, HIDDEN, HEADS, VOCAB)
    seen: list[Any] = []

    def keep(gm: torch.fx.GraphModule, example_inputs: list[Any]) -> Any:
        seen.append(gm)
        return gm.forward

    traced = torch.compile(lean, backend=keep)
    aot = torch.compile(lean, backend="aot_eager")
    tol = 2e-3 if bm.DEVICE == "cuda" else 1e-5
    with torch.no_grad():
        for n in (1, 5, 17):
            (ids,) = bm.inputs(n, VOCAB)
            want = sdpa(ids)
            for fn in (lean, traced, aot):
                assert torch.allclose(fn(ids), want, atol=tol), (fn, n)
    ops = [str(node.target) for node in seen[0].graph.nodes if node.op == "call_function"]
    assert sum(op.startswith("bench_cg.attention_lean") for op in ops) == 2, ops
    torch._dynamo.reset()


def test_the_lean_arm_in_ratios_and_tables(bm: Any) -> None:
    """Its ratio against its own ``reduce-overhead`` (goal 1.5), its rows and its op check."""
    results: dict[str, Any] = {
        "reduce_overhead_lean_attention": {"step_us": 300.0},
        "piecewise_lean_attention": {"step_us": 420.0, "breakdown": {"split_ops_eager_us": 80.0},
                                     "vs_reduce_overhead": {"step_us": 421.0,
                                                            "baseline_us": 301.0,
                                                            "paired_ratio_median": 1.4}},
        "lean_attention_check": {"op_vs_sdpa_max_abs_diff": {"1": 0.0, "513": 0.00049},
                                 "lean_op_us_per_call_1_token": 14.5, "part_s": 2.0}}
    ratios = bm.ratios(results)
    assert ratios["piecewise_lean_attention_vs_reduce_overhead_lean_attention"] == {
        "ratio": 1.4, "goal": 1.5}
    table = bm.markdown({"ratios": ratios, **results})
    assert "| piecewise_lean_attention | 420.0 |" in table
    assert "| piecewise_lean_attention | 421.0 | 301.0 | 1.400 |" in table
    assert "- op vs sdpa max abs diff: 1 tokens 0, 513 tokens 0.00049" in table
    assert "- lean op us per call 1 token: 14.5" in table
    assert "piecewise_lean_attention, batch-1 step" in table
