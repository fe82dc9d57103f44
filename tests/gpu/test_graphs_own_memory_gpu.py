"""The embedded backend's CUDA graphs use only memory they own, so they survive another CUDA-graph
user in the same process (torch's ``reduce-overhead`` frees every cuBLAS workspace before each of
its recordings).

Found on an H100: the modes benchmark, timing ``full_and_piecewise`` against the same model's
``reduce-overhead`` in alternating rounds, died with an illegal memory access. The warm-ups ran on
the capture stream, so cuBLAS's workspace for that stream came from the general allocator and
every graph used it; ``reduce-overhead`` freed it. Each check runs in a child process: a graph that
reads freed memory can leave the CUDA context unusable for every later test.

Run on the GPU: ``python -m pytest tests/gpu/test_graphs_own_memory_gpu.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

pytestmark = [pytest.mark.gpu, pytest.mark.inductor,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]

ROOT = Path(__file__).resolve().parents[2]

CHILD = textwrap.dedent("""
    import json, os, sys
    import torch
    import compile_lens
    from compile_lens import demo_model

    mode = sys.argv[1]
    torch.manual_seed(0)
    model = demo_model.build(layers=2, device="cuda")
    backend = compile_lens.piecewise(
        cudagraph_sizes=[1, 2, 4], cudagraph_mode=mode,
        cudagraph_full_sizes=[1, 2] if mode == "full_and_piecewise" else None,
        cache_dir=os.path.join(sys.argv[2], "artifacts"))
    ours = torch.compile(model, backend=backend)

    def inputs(n):
        return demo_model.example_inputs(n, device="cuda", mark_dynamic=False)

    out = {}
    with torch.no_grad():
        ours(*demo_model.example_inputs(8, device="cuda"))  # compile (dynamic)
        for n in (4, 2, 1):
            ours(*inputs(n))  # capture
        torch.cuda.synchronize()
        # 1. no workspace-sized block on the capture stream outside the backend's pool (two
        #    512-byte blocks there are the CUDA generator's seed and offset for graphs, which
        #    torch allocates at the first capture and keeps with the generator)
        ctx = backend.graph_context
        capture_stream = ctx.stream().cuda_stream
        pool = tuple(ctx.pool())
        outside = [
            (seg["segment_pool_id"], block["size"])
            for seg in torch.cuda.memory_snapshot() if seg["stream"] == capture_stream
            for block in seg["blocks"] if block["state"] == "active_allocated"
            and tuple(seg["segment_pool_id"]) != pool and block["size"] > 4096]
        out["outside_pool"] = [[list(p), s] for p, s in outside]
        # 2. interleaved with reduce-overhead, whose recordings clear cuBLAS's workspaces
        eager = {n: model(*inputs(n)) for n in (1, 2, 4)}
        baseline = torch.compile(model, mode="reduce-overhead")
        worst = 0.0
        for _ in range(4):
            for n in (1, 2, 4):
                baseline(*inputs(n))
                torch._C._cuda_clearCublasWorkspaces()
                torch.cuda.empty_cache()
                junk = torch.full((64 << 20,), float("nan"), device="cuda")
                got = ours(*inputs(n))
                worst = max(worst, float((got - eager[n]).abs().max()))
                del junk
        torch.cuda.synchronize()
        out["max_abs_diff"] = worst
    print("RESULT " + json.dumps(out))
""")


@pytest.mark.parametrize("mode", ["piecewise", "full_and_piecewise"])
def test_graphs_survive_reduce_overhead_in_the_same_process(mode: str, tmp_path: Path) -> None:
    env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": str(tmp_path / "inductor"),
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", CHILD, mode, str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (line,) = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    result = json.loads(line.removeprefix("RESULT "))
    assert result["outside_pool"] == [], "a graph uses memory outside the backend's pool"
    assert result["max_abs_diff"] < 1e-3
