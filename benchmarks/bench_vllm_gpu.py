"""Benchmark: tracing real vLLM on a GPU (``LLM(...).generate``, tiny Llama, vLLM's defaults).

Run on the GPU machine with vLLM installed (docs/vllm.md, "On the GPU"):
``python benchmarks/bench_vllm_gpu.py [--pairs N] [--out FILE]``.

Each run is a fresh process (``tests/gpu_vllm/_llm_gpu_run.py``) with a **fresh**
``VLLM_CACHE_ROOT`` (a cold start), and untraced/traced runs alternate so that drifts of the machine
hit both alike. Reported, as traced/untraced ratios of medians measured side by side in one run:
engine start-up (``LLM(...)``), vLLM's own "torch.compile took X s", the per-token decode step,
plus the tracer's own accounted time (``RunInfo.tracer_overhead_s``) and the start method.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tests" / "gpu_vllm" / "_llm_gpu_run.py"
COMPILE_TOOK = re.compile(r"torch\.compile took ([\d.]+) s in total")


def _run(out: Path, cache: Path, traced: bool) -> dict[str, Any]:
    env = {**os.environ, "VLLM_CACHE_ROOT": str(cache)}
    env.pop("VLLM_WORKER_MULTIPROC_METHOD", None)
    args = [sys.executable, str(SCRIPT), str(out)] + (["--trace"] if traced else [])
    proc = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    log = proc.stdout + proc.stderr
    if proc.returncode != 0:
        msg = f"run failed:\n{log[-4000:]}"
        raise SystemExit(msg)
    result = json.loads((out / "result.json").read_text())
    took = COMPILE_TOOK.findall(log)
    result["compile_took_s"] = sum(float(x) for x in took) if took else None
    result["spawn_forced"] = "We must use the `spawn`" in log
    return result


def _ratio(traced: list[float], untraced: list[float]) -> float:
    return round(statistics.median(traced) / statistics.median(untraced), 4)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "vllm_gpu.json"))
    args = parser.parse_args()
    runs: dict[str, list[dict[str, Any]]] = {"untraced": [], "traced": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.pairs):
            for kind in ("untraced", "traced"):
                base = Path(tmp) / f"{kind}{i}"
                runs[kind].append(_run(base / "out", base / "cache", kind == "traced"))
                r = runs[kind][-1]
                print(f"{kind} {i}: start-up {r['startup_s']:.1f} s, compile "
                      f"{r['compile_took_s']} s, decode {r['decode_step_s'] * 1e3:.3f} ms",
                      flush=True)
    pick = {k: {m: [r[m] for r in v] for m in ("startup_s", "compile_took_s", "decode_step_s")}
            for k, v in runs.items()}
    traced_over = [r["tracer_overhead_s"] for r in runs["traced"]]
    summary = {
        "pairs": args.pairs,
        "startup_ratio": _ratio(pick["traced"]["startup_s"], pick["untraced"]["startup_s"]),
        "compile_took_ratio": _ratio(pick["traced"]["compile_took_s"],
                                     pick["untraced"]["compile_took_s"]),
        "decode_step_ratio": _ratio(pick["traced"]["decode_step_s"],
                                    pick["untraced"]["decode_step_s"]),
        "tracer_overhead_s_median": round(statistics.median(traced_over), 4),
        "tracer_overhead_share_of_startup": round(
            statistics.median(traced_over) / statistics.median(pick["traced"]["startup_s"]), 5),
        "spawn_forced": [r["spawn_forced"] for r in runs["traced"] + runs["untraced"]],
        "runs": runs,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(summary, indent=1, sort_keys=True))
    print(json.dumps({k: v for k, v in summary.items() if k != "runs"}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
