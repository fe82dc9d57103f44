"""The fused attention arm of ``benchmarks/bench_cudagraph_modes.py``: its one Triton kernel
computes what the SDPA-based ``bench_cg::attention`` op computes, and the arm is skipped, with its
reason recorded, where it cannot run.

The kernel tests need Triton, which the normal suite and CI do not install, so they skip there.
With Triton: on CUDA they run the compiled kernel; on the CPU they run it under Triton's
interpreter (``TRITON_INTERPRET=1``, CPU tensors; the flag must be set before Triton is first
imported, which the fixture does, or the tests say to run the file alone), and compile it for an
H100 (sm_90, to a cubin, in a fresh process) so that what the interpreter runs also compiles for
the GPU.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
HAS_TRITON = importlib.util.find_spec("triton") is not None
CUDA = torch.cuda.is_available()
needs_triton = pytest.mark.skipif(not HAS_TRITON, reason="needs triton (not in the normal suite)")
TOKENS = (1, 3, 17, 64, 200, 513)
HEADS, HEAD_DIM = 2, 64


@pytest.fixture
def bm(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The benchmark module, its ops on this test's device (the interpreter on the CPU)."""
    sys.path.insert(0, str(BENCH))
    try:
        import bench_cudagraph_modes as module
    finally:
        sys.path.remove(str(BENCH))
    if HAS_TRITON and not CUDA:
        monkeypatch.setenv("TRITON_INTERPRET", "1")
        if "triton" in sys.modules and not _interpreted_library():
            pytest.skip("triton was imported before TRITON_INTERPRET=1 was set: run this file "
                        "on its own (TRITON_INTERPRET=1 python -m pytest tests/"
                        "test_bench_attention_kernel.py)")
    monkeypatch.setattr(module, "DEVICE", "cuda" if CUDA else "cpu")
    return module


def _interpreted_library() -> bool:
    """Whether Triton's own ``@jit`` library was made for the interpreter (decided at import)."""
    from triton.language import standard

    return type(standard.sum).__name__ == "InterpretedFunction"


def _qkv(n: int, dtype: torch.dtype, layout: str) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(n)
    device = "cuda" if CUDA else "cpu"
    if layout == "unbind":  # the model's: views of one [tokens, 3, heads, head_dim] projection
        return torch.randn(n, 3, HEADS, HEAD_DIM, generator=g).to(device, dtype).unbind(1)
    return tuple(torch.randn(n, HEADS, HEAD_DIM, generator=g).to(device, dtype)
                 for _ in range(3))


@needs_triton
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
@pytest.mark.parametrize("layout", ["unbind", "contiguous"])
def test_fused_kernel_matches_the_sdpa_op(bm: Any, dtype: torch.dtype, layout: str) -> None:
    bm.define_attention()  # the reference op, on this device
    tol = 1e-5 if dtype == torch.float32 else 4e-3
    for n in TOKENS:
        q, k, v = _qkv(n, dtype, layout)
        assert (layout == "unbind") == (q.stride(0) == 3 * HEADS * HEAD_DIM)
        # the reference in fp32 (SDPA in fp16 on the CPU is not what the GPU run compares with)
        want = torch.ops.bench_cg.attention(q.float(), k.float(), v.float())
        out = torch.full_like(q, float("nan"))
        bm.fused_attention(q, k, v, out)
        torch.testing.assert_close(out.float(), want, atol=tol, rtol=tol, msg=f"{n} tokens")
        # an output with other strides ([heads, tokens, head_dim] underneath) is honoured too
        out_t = torch.full((HEADS, n, HEAD_DIM), float("nan"), dtype=dtype,
                           device=q.device).transpose(0, 1)
        bm.fused_attention(q, k, v, out_t)
        torch.testing.assert_close(out_t.float(), want, atol=tol, rtol=tol, msg=f"{n} tokens")


@needs_triton
def test_registered_op_and_model_match_sdpa(bm: Any) -> None:
    """Through ``torch.ops.bench_cg.attention_fused`` (and its Meta impl), and the whole fused
    model against the SDPA model with the same weights."""
    bm.define_fused_attention()
    q, k, v = _qkv(17, torch.float32, "unbind")
    out = torch.empty_like(q)
    assert torch.ops.bench_cg.attention_fused(q, k, v, out) is None
    torch.testing.assert_close(out, torch.ops.bench_cg.attention(q, k, v), atol=1e-5, rtol=1e-5)
    meta = [t.to("meta") for t in (q, k, v, out)]
    torch.ops.bench_cg.attention_fused(*meta)  # shape propagation only: no kernel
    fused = bm.build_model(2, HEADS * HEAD_DIM, HEADS, 97, fused=True)
    sdpa = bm.build_model(2, HEADS * HEAD_DIM, HEADS, 97)
    tol = 1e-4 if bm.DEVICE == "cpu" else 2e-2  # fp32 on the CPU, fp16 on CUDA
    with torch.no_grad():
        for n in (1, 17):
            ids = bm.inputs(n, 97)
            torch.testing.assert_close(fused(*ids), sdpa(*ids), atol=tol, rtol=tol)


# run in a fresh process: Triton decides at import whether its own library is interpreted, so a
# process that imported it with TRITON_INTERPRET=1 cannot compile for the GPU
SM90 = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
import triton
from triton.backends.compiler import GPUTarget
import bench_cudagraph_modes as bm

kernel = bm._fused_kernel()
rows = []
for block_m, dtype in ((16, "fp16"), (64, "fp16"), (64, "fp32")):
    consts = {"HEAD_DIM": 64, "BLOCK_D": 64, "BLOCK_M": block_m, "BLOCK_N": 64,
              "PRECISION": "ieee" if dtype == "fp32" else "tf32"}
    signature = {p.name: "constexpr" if p.is_constexpr else f"*{dtype}"
                 if p.name.endswith("_ptr") else "fp32" if p.name == "scale_log2" else "i32"
                 for p in kernel.params}
    compiled = triton.compile(triton.compiler.ASTSource(kernel, signature, consts),
                              target=GPUTarget("cuda", 90, 32), options={"num_warps": 4})
    rows.append({"block_m": block_m, "dtype": dtype, "cubin_bytes": len(compiled.asm["cubin"]),
                 "while_loop": "scf.while" in compiled.asm["ttir"],
                 "constexprs": sorted(k for k, v in signature.items() if v == "constexpr")})
print(json.dumps(rows))
"""


@needs_triton
def test_kernel_compiles_for_sm90(tmp_path: Path) -> None:
    """The interpreter runs Python; this compiles the same kernel for an H100 to a cubin (both
    query-block sizes the op picks, fp16 and fp32), with the ``ptxas`` Triton ships."""
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env["TRITON_CACHE_DIR"] = str(tmp_path)
    done = subprocess.run([sys.executable, "-c", SM90, str(BENCH)], env=env, capture_output=True,
                          text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = json.loads(done.stdout.strip().splitlines()[-1])
    assert [(r["block_m"], r["dtype"]) for r in rows] == [(16, "fp16"), (64, "fp16"),
                                                          (64, "fp32")]
    for row in rows:
        assert row["cubin_bytes"] > 0
        assert row["while_loop"], "one loop over key blocks, bound at run time"
        assert row["constexprs"] == ["BLOCK_D", "BLOCK_M", "BLOCK_N", "HEAD_DIM", "PRECISION"]


def test_fused_arm_records_why_it_is_skipped() -> None:
    """Without Triton or CUDA (the normal suite, CI) the arm writes a reason into each of its
    parts and the tables show it; nothing of the arm runs."""
    sys.path.insert(0, str(BENCH))
    try:
        import bench_cudagraph_modes as bm
    finally:
        sys.path.remove(str(BENCH))
    reason = bm.fused_attention_unavailable()
    if reason is None:
        pytest.skip("Triton and CUDA are both here: the arm runs")
    assert reason.startswith("skipped: ") and ("triton" in reason or "CUDA" in reason)
    results: dict[str, Any] = {}
    saves: list[int] = []

    def must_not_run(*args: Any) -> None:
        msg = "the arm ran without Triton or CUDA"
        raise AssertionError(msg)

    bm.fused_arm(results, argparse.Namespace(), Path("."), lambda: saves.append(1),
                 must_not_run, None)
    assert {k: v["skipped"] for k, v in results.items()} == dict.fromkeys(bm.FUSED_KEYS, reason)
    assert saves, "the skip reasons are written to the JSON"
    with pytest.raises(RuntimeError, match="attention_fused: skipped"):
        bm.define_fused_attention()
    table = bm.markdown({"ratios": bm.ratios(results), **results})
    assert f"| piecewise_fused_attention | {reason}" in table
    assert "fused_attention_vs" not in table


def test_fused_arm_in_ratios_and_tables() -> None:
    """A run's fused parts give their ratio (goal 1.5), their table rows, the kernel check and
    the breakdown (pure functions of the JSON; no Triton needed)."""
    sys.path.insert(0, str(BENCH))
    try:
        import bench_cudagraph_modes as bm
    finally:
        sys.path.remove(str(BENCH))
    results: dict[str, Any] = {
        "reduce_overhead_fused_attention": {"step_us": 300.0},
        "piecewise_fused_attention": {"step_us": 390.0, "breakdown": {"split_ops_eager_us": 96.0}},
        "fused_attention_check": {"kernel_vs_sdpa_max_abs_diff": {"1": 0.0, "513": 0.00098},
                                  "fused_op_us_per_call_1_token": 12.25, "part_s": 3.0}}
    ratio = bm.ratios(results)["piecewise_fused_attention_vs_reduce_overhead_fused_attention"]
    assert ratio == {"ratio": 1.3, "goal": 1.5}
    table = bm.markdown({"ratios": bm.ratios(results), **results})
    assert "| piecewise fused attention vs reduce overhead fused attention | 1.300 | 1.5 |" in table
    assert "| reduce_overhead_fused_attention | 300.0 |" in table
    assert "| piecewise_fused_attention | 390.0 |" in table
    assert "- kernel vs sdpa max abs diff: 1 tokens 0, 513 tokens 0.00098" in table
    assert "- fused op us per call 1 token: 12.2" in table
    assert "piecewise_fused_attention, batch-1 step" in table and "split ops eager us: 96.0" in table
