"""Benchmark: the cost of tracing vLLM's real compilation (toy model and ``LLM(...)``, CPU).

Run in the vLLM venv: ``.venv-vllm/bin/python benchmarks/bench_vllm.py [--reps N] [--llm]``.
Each run is a fresh process (``tests/vllm_tier/_toy_run.py`` / ``_llm_run.py``) with its own
``VLLM_CACHE_ROOT``: cold, then warm over the same root, alternating untraced and traced so that
machine load drifts hit both alike. Reports wall times of the compile-and-run (toy) or engine
start + generate (LLM) part, the tracer's own accounted overhead (``RunInfo.tracer_overhead_s``),
its ``install`` part (entering ``trace()``) and the time spent computing standalone keys.
Writes ``benchmarks/results/vllm.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests" / "vllm_tier"


def _run(script: str, out: Path, cache: Path, traced: bool, env: dict[str, str]) -> dict[str, Any]:
    args = [sys.executable, str(TESTS / script), str(out)] + (["--trace"] if traced else [])
    full_env = {**os.environ, "VLLM_CACHE_ROOT": str(cache), **env}
    proc = subprocess.run(args, env=full_env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        msg = f"{script} failed:\n{(proc.stdout + proc.stderr)[-4000:]}"
        raise SystemExit(msg)
    result = json.loads((out / "result.json").read_text())
    if traced:
        trace = json.loads((out / "trace.json").read_text())
        result["tracer_overhead_s"] = trace["run"]["tracer_overhead_s"]
        result["install_s"] = trace["run"]["overhead_breakdown"].get("install", 0.0)
        result["key_seconds"] = sum(c.get("key_seconds", 0.0) for c in trace["compiles"])
        result["outcomes"] = sorted({c["outcome"] for c in trace["compiles"]})
    return result


def _series(script: str, reps: int, env: dict[str, str], field: str) -> dict[str, Any]:
    rows: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench_vllm_") as tmp:
        for rep in range(reps):
            for traced in (False, True):
                mode = "traced" if traced else "plain"
                cache = Path(tmp) / f"cache_{mode}_{rep}"
                for stage in ("cold", "warm"):
                    out = Path(tmp) / f"{mode}_{stage}_{rep}"
                    rows.setdefault(f"{stage}_{mode}", []).append(
                        _run(script, out, cache, traced, env))
    summary: dict[str, Any] = {}
    for name, results in sorted(rows.items()):
        times = [r[field] for r in results]
        summary[name] = {"median_s": round(statistics.median(times), 3),
                         "runs_s": [round(t, 3) for t in times]}
        if "tracer_overhead_s" in results[0]:
            summary[name]["tracer_overhead_s"] = round(
                statistics.median(r["tracer_overhead_s"] for r in results), 3)
            summary[name]["install_s"] = round(
                statistics.median(r["install_s"] for r in results), 3)
            summary[name]["standalone_key_s"] = round(
                statistics.median(r["key_seconds"] for r in results), 3)
            summary[name]["outcomes"] = results[0]["outcomes"]
    return summary


def main() -> int:
    """Run the series and print a table; see the module docstring."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--llm", action="store_true", help="also time LLM(...).generate")
    args = parser.parse_args()
    results = {"toy_inductor": _series("_toy_run.py", args.reps, {}, "compile_and_run_s")}
    if args.llm:
        env = {"PYTHONPATH": str(TESTS / "cpu_plugin"), "VLLM_CPU_KVCACHE_SPACE": "1"}
        results["llm_tiny_llama"] = _series("_llm_run.py", max(1, args.reps // 2), env, "llm_s")
    out = ROOT / "benchmarks" / "results" / "vllm.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    for bench, rows in results.items():
        print(f"\n{bench}")
        for name, row in rows.items():
            print(f"  {name:14s} {row}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
