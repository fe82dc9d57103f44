"""At scale (issue 12, item 4): a Llama-8B-shaped model, cold compile traced vs untraced, and the
report of the traced run.

    # the H100 (defaults: 32 layers, hidden 4096, fp16, random weights, split at SDPA)
    python benchmarks/bench_scale.py --out "$OUT" --backends piecewise --rounds 2 --budget-s 500
    python benchmarks/bench_scale.py --out "$OUT" --backends inductor --rounds 1 --budget-s 500
    # CPU smoke test (tiny model)
    python benchmarks/bench_scale.py --tiny --out /tmp/scale

Per round and backend (``torch.compile`` with plain Inductor, and ``compile_lens.piecewise``), one
untraced and one traced cold compile, each a fresh process with fresh Inductor, Triton and
artifact caches, in alternating order so machine drift hits both. The traced run also builds the
report (``t.to_html(path)``): its seconds and bytes. ``--budget-s`` starts no round that would
end past it (the last round's length as the estimate), so a run fits the device's time limit.

Writes ``OUT/scale.json`` (merging with what is there: one file for several invocations) and
prints Markdown rows for benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
LLAMA_8B = {"layers": 32, "hidden": 4096, "heads": 32, "intermediate": 14336, "vocab": 128256}
TINY = {"layers": 2, "hidden": 64, "heads": 4, "intermediate": 128, "vocab": 256}


def worker(spec: dict[str, Any]) -> dict[str, Any]:
    """One cold compile as ``spec`` says (runs in a fresh process)."""
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = spec["dir"] + "/inductor"
    os.environ["TRITON_CACHE_DIR"] = spec["dir"] + "/triton"
    import torch

    import compile_lens
    from compile_lens import demo_model

    device, dtype = spec["device"], getattr(torch, spec["dtype"])
    shape = spec["model"]
    start = time.perf_counter()
    previous = torch.get_default_dtype()
    torch.manual_seed(0)
    torch.set_default_dtype(dtype)  # random weights made in place, in their dtype, on the device
    try:
        with torch.device(device):
            model = demo_model.TinyLlama(**shape).eval()
    finally:
        torch.set_default_dtype(previous)
    build_s = time.perf_counter() - start
    if spec["backend"] == "piecewise":
        backend: Any = compile_lens.piecewise(compile_sizes=spec["sizes"],
                                              cache_dir=spec["dir"] + "/artifacts")
    else:
        backend = "inductor"
    compiled = torch.compile(model, backend=backend)
    inputs = demo_model.example_inputs(spec["tokens"], vocab=shape["vocab"], device=device)
    timer = None
    out: dict[str, Any] = {"build_model_s": build_s}
    with torch.no_grad():
        _sync(torch, device)
        start = time.perf_counter()
        if spec["traced"]:
            import contextlib

            with contextlib.ExitStack() as stack:
                if spec.get("payload_cost"):
                    from bench_compile import PayloadTimer

                    from compile_lens.instrument import payloads

                    timer = PayloadTimer()
                    stack.enter_context(payloads.intercepted(timer.wrap))
                with compile_lens.trace(payloads=spec["payloads"], progress=False) as t:
                    compiled(*inputs)
                    _sync(torch, device)
        else:
            compiled(*inputs)
            _sync(torch, device)
        out["compile_s"] = time.perf_counter() - start
    if spec["traced"]:
        record = t.record
        out["tracer_overhead_s"] = record.run.tracer_overhead_s
        out["overhead_breakdown"] = record.run.overhead_breakdown
        out["outcomes"] = t.summary().outcomes
        out["pieces"] = len(record.pieces)
        out["payloads_not_built"] = record.run.extra.get("payloads_not_built", {})
        report = Path(spec["dir"]) / "report.html"
        start = time.perf_counter()
        t.to_html(str(report))
        out["report_s"] = time.perf_counter() - start
        out["report_bytes"] = report.stat().st_size
        if timer is not None:
            out["payload_cost"] = timer.rows()
    return out


def _sync(torch: Any, device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def run(spec: dict[str, Any]) -> dict[str, Any]:
    """``worker(spec)`` in a fresh Python process (this file's directory on its path)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(HERE), *filter(None, [os.environ.get("PYTHONPATH")])])}
    proc = subprocess.run([sys.executable, __file__, "--worker", json.dumps(spec)],
                          capture_output=True, text=True, check=False, env=env)
    if proc.returncode:
        msg = f"bench_scale worker failed for {spec}:\n{proc.stderr[-4000:]}"
        raise SystemExit(msg)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def bench(tmp: Path, args: argparse.Namespace, shape: dict[str, int]) -> dict[str, Any]:
    """Interleaved traced/untraced rounds per backend, within ``args.budget_s``."""
    started = time.perf_counter()
    results: dict[str, Any] = {}
    for backend in args.backends.split(","):
        rounds: list[dict[str, Any]] = []
        last = 0.0
        for i in range(args.rounds):
            elapsed = time.perf_counter() - started
            if rounds and elapsed + last > args.budget_s:
                break
            begin = time.perf_counter()
            order = (False, True) if i % 2 == 0 else (True, False)
            row: dict[str, Any] = {}
            for traced in order:
                spec = {"dir": str(tmp / f"{backend}{i}{int(traced)}"), "traced": traced,
                        "backend": backend, "payloads": args.payloads, "model": shape,
                        "device": args.device, "dtype": args.dtype, "tokens": args.tokens,
                        "sizes": args.sizes, "payload_cost": args.payload_cost}
                row["traced" if traced else "untraced"] = run(spec)
            rounds.append(row)
            last = time.perf_counter() - begin
        results[backend] = summarize(rounds)
    return results


def summarize(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    ratios = [r["traced"]["compile_s"] / r["untraced"]["compile_s"] for r in rounds]
    traced = [r["traced"] for r in rounds]
    return {
        "rounds": len(rounds), "ratio_median": statistics.median(ratios), "ratios": ratios,
        "untraced_s": [r["untraced"]["compile_s"] for r in rounds],
        "traced_s": [t["compile_s"] for t in traced],
        "tracer_self_s": [t["tracer_overhead_s"] for t in traced],
        "tracer_self_pct": [100 * t["tracer_overhead_s"] / t["compile_s"] for t in traced],
        "report_s": [t["report_s"] for t in traced],
        "report_mb": [t["report_bytes"] / 1e6 for t in traced],
        "outcomes": traced[0]["outcomes"], "pieces": traced[0]["pieces"], "runs": rounds}


def markdown(results: dict[str, Any]) -> str:
    env = results["env"]
    lines = [f"Machine: {env['device']}, {env['cpus']} CPU cores, torch {env['torch']}; model "
             f"{results['model']} {results['dtype']}, payloads={results['payloads']!r}", "",
             "| measure | result | goal |", "|---|---|---|"]
    for backend, r in results["backends"].items():
        lines.append(
            f"| cold compile traced/untraced, `{backend}` (median of {r['rounds']}) "
            f"| **{r['ratio_median']:.3f}** ({', '.join(f'{x:.3f}' for x in r['ratios'])}; untraced "
            f"{', '.join(f'{x:.1f}' for x in r['untraced_s'])} s) | ≤ 1.01 |")
        lines.append(
            f"| tracer self-time, `{backend}` | {statistics.median(r['tracer_self_pct']):.2f} % "
            f"({', '.join(f'{x:.2f}' for x in r['tracer_self_s'])} s) | ≤ 1 % |")
        lines.append(
            f"| report `to_html`, `{backend}` ({r['pieces']} pieces, {r['outcomes']}) "
            f"| {max(r['report_s']):.2f} s, {max(r['report_mb']):.2f} MB | ≤ 2 s, ≤ 10 MB |")
    return "\n".join(lines)


def environment(device: str) -> dict[str, Any]:
    import torch

    name = torch.cuda.get_device_name() if device.startswith("cuda") else "cpu"
    return {"torch": torch.__version__, "python": sys.version.split()[0], "device": name,
            "cpus": os.cpu_count()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker")
    parser.add_argument("--out", required=False, help="directory for scale.json")
    parser.add_argument("--tiny", action="store_true",
                        help="CPU smoke test: a 2-layer hidden-64 fp32 model, one round")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--dtype", default="float16")
    parser.add_argument("--backends", default="piecewise,inductor",
                        help="comma-separated: piecewise (compile_lens.piecewise), inductor")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--budget-s", type=float, default=480.0,
                        help="start no round expected to end past this many seconds")
    parser.add_argument("--tokens", type=int, default=8)
    parser.add_argument("--sizes", type=int, nargs="*", default=[],
                        help="piecewise compile sizes besides the general graph")
    parser.add_argument("--payloads", default="read", choices=("read", "all"))
    parser.add_argument("--payload-cost", action="store_true",
                        help="time every structured-trace event of the traced runs")
    for name, value in LLAMA_8B.items():
        parser.add_argument(f"--{name}", type=int, default=None, help=f"default {value}")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return
    if not args.out:
        parser.error("--out is required")
    shape = dict(TINY if args.tiny else LLAMA_8B)
    if args.tiny:
        args.device, args.dtype, args.rounds = "cpu", "float32", 1
    shape.update({k: getattr(args, k) for k in LLAMA_8B if getattr(args, k) is not None})
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="cl_scale_") as tmp_name:
        backends = bench(Path(tmp_name), args, shape)
    path = out / "scale.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    results.update({"env": environment(args.device), "model": shape, "dtype": args.dtype,
                    "payloads": args.payloads, "sizes": args.sizes, "tokens": args.tokens})
    results.setdefault("backends", {}).update(backends)
    path.write_text(json.dumps(results, indent=1, default=str))
    print(markdown({**results, "backends": backends}))


if __name__ == "__main__":
    main()
