"""Cold compile: plain ``torch.compile`` vs the embedded backend serial vs parallel (issue 12).

    python benchmarks/bench_parallel.py --out FILE [--layers 16] [--device cuda --dtype float16
        --hidden 1024] [--sizes 1,8] [--repeats 3] [--workers N] [--traced]

Every run is a fresh Python process with fresh Inductor and artifact caches (a true cold
compile of the first call); the three modes are interleaved per repeat so machine noise hits
all of them. The model is the demo Llama (``compile_lens.demo_model``) split at attention: three
unique pieces (first, middle, last layer boundary) per compile size, so with ``--sizes 1,8``
nine unique compiles for the parallel mode to spread. Outputs of the serial and parallel
runs are compared bitwise (they must be equal), and both with plain ``torch.compile`` (close).
Writes JSON to ``--out`` and prints a Markdown row for RESULTS.md.

On a machine with 1-2 cores the parallel mode only shows correctness (``parallel=True`` forces
one worker there; it competes with the parent for the same cores): speed needs cores.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODES = ("plain", "serial", "parallel")


def worker(spec: dict) -> dict:
    """One cold compile in this (fresh) process; returns its timings and an output digest."""
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = spec["inductor_dir"]
    import torch

    import compile_lens
    from compile_lens import demo_model
    from compile_lens.backend import parallel as parallel_compile

    device, dtype = spec["device"], getattr(torch, spec["dtype"])
    model = demo_model.build(layers=spec["layers"], device=device, hidden=spec["hidden"],
                             heads=spec["heads"], intermediate=4 * spec["hidden"]).to(dtype)
    backend = None
    if spec["mode"] == "plain":
        compiled = torch.compile(model)
    else:
        workers = (spec["workers"] or "auto") if spec["mode"] == "parallel" else False
        backend = compile_lens.piecewise(compile_sizes=spec["sizes"],
                                         cache_dir=spec["artifact_dir"], parallel=workers)
        compiled = torch.compile(model, backend=backend)
    inputs = demo_model.example_inputs(spec["tokens"], device=device)
    out: dict = {"mode": spec["mode"]}
    with torch.no_grad():
        start = time.perf_counter()
        if spec["traced"] and backend is not None:
            with compile_lens.trace() as t:
                result = compiled(*inputs)
            out["spans"] = {}
            for s in t.record.spans:
                out["spans"][s.category] = out["spans"].get(s.category, 0) + 1
            out["outcomes"] = t.summary().outcomes
            out["notes"] = t.record.run.notes
        else:
            result = compiled(*inputs)
        if device == "cuda":
            torch.cuda.synchronize()
        out["compile_s"] = time.perf_counter() - start
        checks = [result] + [compiled(*demo_model.example_inputs(n, device=device,
                                                                 mark_dynamic=False))
                             for n in (5, 13)]
    data = b"".join(c.float().cpu().numpy().tobytes() for c in checks)
    out["digest"] = hashlib.sha256(data).hexdigest()[:16]
    out["sample"] = [float(x) for x in checks[0].float().flatten()[:4].cpu()]
    if backend is not None:
        out["workers_started"] = len(backend.worker_pids)
        out["key_seconds"] = sum(backend.key_seconds)
    out["usable_cores"] = parallel_compile.usable_cores()
    out["torch"] = torch.__version__
    out["device_name"] = (torch.cuda.get_device_name() if device == "cuda" else "cpu")
    return out


def run(spec: dict) -> dict:
    """``worker(spec)`` in a fresh Python process."""
    proc = subprocess.run([sys.executable, __file__, "--worker", json.dumps(spec)],
                          capture_output=True, text=True, check=False)
    if proc.returncode:
        msg = f"benchmark worker failed for {spec['mode']}:\n{proc.stderr[-3000:]}"
        raise SystemExit(msg)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--worker")
    parser.add_argument("--out", help="JSON file to write (required unless --worker)")
    parser.add_argument("--layers", type=int, default=16)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--sizes", default="", help="compile sizes, e.g. 1,8 (default none)")
    parser.add_argument("--tokens", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=0,
                        help="worker processes of the parallel mode (default: automatic, "
                             "forced on with 1-2 cores)")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--traced", action="store_true",
                        help="embedded modes under trace() (records spans and outcomes)")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return
    if not args.out:
        parser.error("--out FILE is required")
    from compile_lens.backend.parallel import usable_cores

    workers: int | bool | None = args.workers or (True if usable_cores() <= 2 else None)
    base = {"layers": args.layers, "hidden": args.hidden, "heads": args.heads,
            "device": args.device, "dtype": args.dtype, "tokens": args.tokens,
            "sizes": [int(s) for s in args.sizes.split(",") if s], "workers": workers,
            "traced": args.traced}
    modes = [m for m in args.modes.split(",") if m in MODES]
    runs: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="cl_par_") as tmp:
        for repeat in range(args.repeats):
            for mode in modes:
                d = Path(tmp) / f"{mode}{repeat}"
                spec = {**base, "mode": mode, "inductor_dir": str(d / "inductor"),
                        "artifact_dir": str(d / "artifacts")}
                row = run(spec)
                row["repeat"] = repeat
                runs.append(row)
                print(f"  {mode:8s} repeat {repeat}: {row['compile_s']:.2f} s", file=sys.stderr)
    med = {m: statistics.median(r["compile_s"] for r in runs if r["mode"] == m) for m in modes}
    digests = {m: sorted({r["digest"] for r in runs if r["mode"] == m}) for m in modes}
    result = {
        "config": base, "repeats": args.repeats, "median_s": med, "runs": runs,
        "digests": digests,
        "serial_equals_parallel": ("serial" in digests and "parallel" in digests
                                   and digests["serial"] == digests["parallel"]
                                   and len(digests["serial"]) == 1),
        "env": {"python": sys.version.split()[0], "cpus": os.cpu_count(),
                "usable_cores": usable_cores(), "load_avg": os.getloadavg(),
                "torch": runs[0]["torch"], "device_name": runs[0]["device_name"]},
    }
    if "plain" in med:
        for m in ("serial", "parallel"):
            if m in med:
                result[f"{m}_over_plain"] = med[m] / med["plain"]
    if "serial" in med and "parallel" in med:
        result["parallel_over_serial"] = med["parallel"] / med["serial"]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    ratio = " · ".join(f"{k} {result[k]:.2f}" for k in
                       ("serial_over_plain", "parallel_over_plain", "parallel_over_serial")
                       if k in result)
    print(f"| {args.layers} layers, hidden {args.hidden}, {args.dtype} on {result['env']['device_name']}"
          f" ({result['env']['usable_cores']} cores, torch {result['env']['torch']}), sizes "
          f"{base['sizes'] or 'none'}, {args.repeats} repeats | "
          + " · ".join(f"{m} {med[m]:.1f} s" for m in modes)
          + f" | {ratio} | serial == parallel outputs: {result['serial_equals_parallel']} |")


if __name__ == "__main__":
    main()
