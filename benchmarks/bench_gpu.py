"""GPU benchmarks of piecewise CUDA graphs and of tracing overhead, ratios measured in one run.

    python benchmarks/bench_gpu.py --out DIR [--repeats 3] [--trace-out gpu_h100.json]

Measured (demo model, 4 layers, on the current CUDA device):

* cold compile with and without ``trace()``: each run in a fresh subprocess with fresh Inductor
  and Triton caches, traced and untraced interleaved (goal ≤ 2 %);
* steady-state decode step (batch 1) through piecewise CUDA graphs, inside and outside a
  ``trace()`` block, interleaved rounds, median of round medians (goal ≤ 0.5 %);
* batch-1 step: eager vs piecewise without graphs vs piecewise CUDA graphs vs
  ``torch.compile(mode="reduce-overhead")`` (goals: ≥ 5× eager, ≤ 1.5× reduce-overhead);
* capture time and memory per capture size (from the trace of the captures).

Writes ``DIR/gpu.json`` and prints a Markdown table for benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

LAYERS = 4
CAPTURE_SIZES = [1, 2, 4, 8, 16, 32, 64]


def compile_worker(spec: dict[str, Any]) -> dict[str, Any]:
    """One cold compile (runs in a fresh subprocess)."""
    import os

    os.environ["TORCHINDUCTOR_CACHE_DIR"] = spec["dir"] + "/inductor"
    os.environ["TRITON_CACHE_DIR"] = spec["dir"] + "/triton"
    import torch

    import compile_lens
    from compile_lens import demo_model

    model = demo_model.build(layers=LAYERS, device="cuda")
    backend = compile_lens.piecewise(compile_sizes=[4], cache_dir=spec["dir"] + "/artifacts")
    compiled = torch.compile(model, backend=backend)
    inputs = demo_model.example_inputs(8, device="cuda")
    torch.cuda.synchronize()
    out: dict[str, Any] = {}
    with torch.no_grad():
        start = time.perf_counter()
        if spec["traced"]:
            with compile_lens.trace() as t:
                compiled(*inputs)
        else:
            compiled(*inputs)
        torch.cuda.synchronize()
        out["compile_s"] = time.perf_counter() - start
    if spec["traced"]:
        out["tracer_overhead_s"] = t.record.run.tracer_overhead_s
        out["outcomes"] = t.summary().outcomes
    return out


def _subprocess(spec: dict[str, Any]) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, __file__, "--worker", json.dumps(spec)],
                          capture_output=True, text=True, check=False)
    if proc.returncode:
        sys.stderr.write(proc.stderr[-4000:])
        proc.check_returncode()
    return json.loads(proc.stdout.strip().splitlines()[-1])


def bench_cold_compile(tmp: Path, repeats: int) -> dict[str, Any]:
    """Traced / untraced cold compile, interleaved, fresh caches each."""
    runs = []
    for i in range(repeats):
        order = (False, True) if i % 2 == 0 else (True, False)
        row = {}
        for traced in order:
            result = _subprocess({"dir": str(tmp / f"c{i}{int(traced)}"), "traced": traced})
            row["traced" if traced else "untraced"] = result
        runs.append(row)
    ratios = [r["traced"]["compile_s"] / r["untraced"]["compile_s"] for r in runs]
    return {"ratio_median": statistics.median(ratios), "ratios": ratios,
            "untraced_s": [r["untraced"]["compile_s"] for r in runs],
            "traced_s": [r["traced"]["compile_s"] for r in runs],
            "tracer_self_s": [r["traced"]["tracer_overhead_s"] for r in runs],
            "outcomes": runs[0]["traced"]["outcomes"]}


def step_time(fn: Any, args: tuple[Any, ...], steps: int) -> float:
    """Seconds per call of ``fn(*args)``, ``steps`` calls then one synchronise."""
    import torch

    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        fn(*args)
    torch.cuda.synchronize()
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--worker")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--trace-out")
    parser.add_argument("--skip-compile", action="store_true")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(compile_worker(json.loads(args.worker))))
        return
    from bench_gpu_steps import bench_steps, environment, markdown

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"env": environment()}
    with tempfile.TemporaryDirectory(prefix="cl_gpu_bench_") as tmp_name:
        results.update(bench_steps(Path(tmp_name), args.trace_out))
        (out / "gpu.json").write_text(json.dumps(results, indent=1, default=str))
        if not args.skip_compile:
            results["cold_compile"] = bench_cold_compile(Path(tmp_name), args.repeats)
    (out / "gpu.json").write_text(json.dumps(results, indent=1, default=str))
    print(markdown(results))


if __name__ == "__main__":
    main()
