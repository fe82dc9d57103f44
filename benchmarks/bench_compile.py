"""Compile-side benchmarks of the foundation (issue 2), ratios measured in one run.

    python benchmarks/bench_compile.py            # full: ~15-25 min on a 2-core CPU
    python benchmarks/bench_compile.py --quick    # smaller models, one repeat
    python benchmarks/bench_compile.py --parts payloads [--quick] [--out FILE]   # issue 12
    python benchmarks/bench_compile.py --parts keycost [--device cuda] [--out FILE]  # issue 12
    python benchmarks/bench_compile.py --parts keycost --probe [--emulate-211]  # the 2.11 probe

Each measurement runs in a fresh subprocess with fresh Inductor and artifact caches (a true cold
compile) unless it is the warm start, which reuses the cold run's caches. Traced and untraced runs
are interleaved so machine noise hits both. Writes benchmarks/results/compile.json and prints a
Markdown table for RESULTS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent


def worker(spec: dict) -> dict:
    """Run one compile as ``spec`` says; return timings (executed in a subprocess)."""
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = spec["inductor_dir"]
    os.environ["TRITON_CACHE_DIR"] = spec["inductor_dir"] + "/triton"  # cold on GPUs too
    import torch

    import compile_lens
    from compile_lens import demo_model

    if spec.get("caches_off"):
        torch._inductor.config.force_disable_caches = True
    device = spec.get("device", "cpu")
    model = demo_model.build(layers=spec["layers"], device=device)
    backend = compile_lens.piecewise(compile_sizes=spec["sizes"], dedup=spec.get("dedup", True),
                                     cache_dir=spec["artifact_dir"])
    compiled = torch.compile(model, backend=backend)
    inputs = demo_model.example_inputs(8, device=device)
    out: dict = {}
    timer = PayloadTimer() if spec.get("payload_cost") else None
    with contextlib.ExitStack() as stack:
        if timer is not None:  # outermost: trace()'s payload filter, if on, wraps this timer
            from compile_lens.instrument import payloads

            stack.enter_context(payloads.intercepted(timer.wrap))
        with torch.no_grad():
            start = time.perf_counter()
            if spec["traced"]:
                with compile_lens.trace(payloads=spec.get("payloads", "read")) as t:
                    compiled(*inputs)
            else:
                compiled(*inputs)
            out["compile_s"] = time.perf_counter() - start
    if timer is not None:
        out["payload_cost"] = timer.rows()
    out["untraced_key_seconds"] = backend.key_seconds
    if spec["traced"]:
        record = t.record
        out["tracer_overhead_s"] = record.run.tracer_overhead_s
        out["overhead_breakdown"] = record.run.overhead_breakdown
        out["key_seconds"] = [c.key_seconds for c in record.compiles if c.outcome == "compiled"]
        out["outcomes"] = t.summary().outcomes
        out["payloads_not_built"] = record.run.extra.get("payloads_not_built", {})
    return out


class PayloadTimer:
    """Per structured-trace event name: calls, seconds inside ``trace_structured`` (metadata,
    context, payload, md5, every handler's ``emit``), seconds in ``payload_fn`` alone, and payload
    characters. Installed around ``trace()``, so with ``payloads="read"`` a payload the filter
    skips costs nothing here either."""

    def __init__(self) -> None:
        self.table: dict[str, list[float]] = {}

    def wrap(self, original):  # type: ignore[no-untyped-def]
        def trace_structured(name, *args, **kwargs):  # type: ignore[no-untyped-def]
            key = name
            if name == "artifact":
                metadata_fn = args[0] if args else kwargs.get("metadata_fn", dict)
                metadata = metadata_fn()
                if args:
                    args = (lambda: metadata, *args[1:])
                else:
                    kwargs["metadata_fn"] = lambda: metadata
                key = f"artifact:{metadata.get('name', '')}" if isinstance(metadata, dict) else name
            row = self.table.setdefault(key, [0, 0.0, 0.0, 0])
            payload_fn = kwargs.get("payload_fn")
            if payload_fn is not None:
                def timed_payload():  # type: ignore[no-untyped-def]
                    start = time.perf_counter()
                    try:
                        body = payload_fn()
                    finally:
                        row[2] += time.perf_counter() - start
                    row[3] += len(body) if isinstance(body, str) else 0
                    return body

                kwargs["payload_fn"] = timed_payload
            start = time.perf_counter()
            try:
                return original(name, *args, **kwargs)
            finally:
                row[0] += 1
                row[1] += time.perf_counter() - start

        return trace_structured

    def rows(self) -> dict[str, dict]:
        return {k: {"n": int(n), "call_s": round(call, 6), "payload_fn_s": round(fn, 6),
                    "chars": int(chars)}
                for k, (n, call, fn, chars) in sorted(self.table.items())}


def keycost_worker(spec: dict) -> dict:
    """Key cost per piece inside a real cold compile, and where it goes (issue 12).

    At every piece and size the backend reaches, the standalone key is timed on the piece it really
    keys (``keys.compute_standalone_key``: deep copy, then torch's key), then the deep copy alone,
    and GC runs during the keys are counted by generation (a suspect that the figures cleared).
    Untraced; the backend's own key and the real compile follow.

    With the probe (torch without the key API, e.g. 2.11, or ``spec["probe"]`` on a torch that
    has it) the key is ``keys.probe_standalone_key`` as the backend calls it (``key``), and at the
    same piece, in alternating order, the probe as it was before issue 12 (``key_before``: a deep
    copy of its own, and the factor lines whatever torch computes) with both keys compared.
    ``spec["emulate_211"]`` makes torch 2.13 do before the key what 2.11 does: the pre-grad passes
    (``pre_grad_pass_timing="early"``) and the factor lines on every key (the AOTAutograd cache
    logger at DEBUG, filtered so nothing prints); the probe then decides about its lines as an
    untraced 2.11 run does (none). Emulated keys differ from the real compile's (the timing
    option enters them); only the timings are meant.
    """
    import contextlib
    import copy
    import gc

    os.environ["TORCHINDUCTOR_CACHE_DIR"] = spec["inductor_dir"]
    import torch
    from torch._inductor import config as inductor_config

    from compile_lens import demo_model
    from compile_lens._torch import keys
    from compile_lens.backend.piecewise import PiecewiseBackend
    from compile_lens.instrument import hooks

    times: dict[str, list[float]] = {"key": [], "deepcopy": []}
    collections = [0, 0, 0]  # GC runs that started during a key, by generation
    keying: list[bool] = []
    api = keys.standalone_key_api() is not None
    probe = not api or bool(spec.get("probe"))
    emulate = bool(spec.get("emulate_211"))
    same_keys = [0, 0]  # probe: pieces whose key equals the pre-issue-12 probe's, pieces compared
    with_lines: dict[str, int] = {}  # keys that came with factor lines, per timed variant
    patch: dict = {"pre_grad_pass_timing": "early"} if emulate and hasattr(
        inductor_config, "pre_grad_pass_timing") else {}  # 2.11 has no such option: always early
    lines_after = keys.factor_lines_wanted()  # decided before the emulation's DEBUG level

    def count(phase: str, info: dict) -> None:
        if phase == "start" and keying:
            collections[info["generation"]] += 1

    def after(gm, args, dynamic_shapes):  # type: ignore[no-untyped-def]
        if not probe:
            return keys.compute_standalone_key(gm, args, dynamic_shapes)
        return keys.probe_standalone_key(gm, args, dynamic_shapes,
                                         factor_lines=lines_after if emulate else None)

    def before(gm, args, dynamic_shapes):  # type: ignore[no-untyped-def]
        return keys.probe_standalone_key(copy.deepcopy(gm), args, dynamic_shapes,
                                         factor_lines=True)

    timed = {"key": after, "key_before": before} if probe else {"key": after}
    if probe:
        times["key_before"] = []

    class Timed(PiecewiseBackend):
        def _standalone_key(self, gm, args, dynamic_shapes):  # type: ignore[no-untyped-def]
            with inductor_config.patch({**self.inductor_config, **patch}):
                order = list(timed) if len(times["key"]) % 2 == 0 else list(timed)[::-1]
                got = {}
                for name in order:
                    keying.append(True)
                    start = time.perf_counter()
                    got[name] = timed[name](gm, args, dynamic_shapes)
                    times[name].append(time.perf_counter() - start)
                    keying.clear()
                    with_lines[name] = with_lines.get(name, 0) + bool(got[name][1])
                if probe:
                    same_keys[0] += got["key"][0] == got["key_before"][0]
                    same_keys[1] += 1
                start = time.perf_counter()
                copy.deepcopy(gm)
                times["deepcopy"].append(time.perf_counter() - start)
            return super()._standalone_key(gm, args, dynamic_shapes)

    gc.callbacks.append(count)
    try:
        with contextlib.ExitStack() as stack:
            if emulate:
                stack.callback(hooks.enable_aot_factor_lines())
            # Serial: worker processes starting during the keys would only add noise.
            backend = Timed(compile_sizes=spec["sizes"], cache_dir=spec["artifact_dir"],
                            parallel=False)
            backend.key_api = not probe
            device = spec.get("device", "cpu")
            compiled = torch.compile(demo_model.build(layers=spec["layers"], device=device),
                                     backend=backend)
            with torch.no_grad():
                compiled(*demo_model.example_inputs(8, device=device))
    finally:
        gc.callbacks.remove(count)
    label = "standalone_key API" if not probe else (
        "probe (torch 2.11 emulated)" if emulate else "probe")
    return {"times": {k: v[1:] for k, v in times.items()},  # the first key pays torch_key() once
            "first_key_s": {k: v[0] for k, v in times.items() if v},
            "gc_collections": collections, "key": label, "same_keys": same_keys,
            "with_lines": with_lines, "torch": torch.__version__}


def bench_keycost(tmp: Path, layers: int, repeats: int, device: str = "cpu",
                  probe: bool = False, emulate_211: bool = False) -> dict:
    """Median key cost per piece and its deep-copy share, pooled over ``repeats`` cold compiles
    (each a fresh process; issue 12). With the probe, also the probe as it was before issue 12 on
    the same pieces (paired ratio after/before) and whether the keys agree."""
    pooled: dict[str, list[float]] = {}
    gc_runs = [0, 0, 0]
    same = [0, 0]
    firsts: list[dict] = []
    with_lines: dict[str, int] = {}
    for i in range(repeats):
        raw = run({"layers": layers, "sizes": [1, 4], "keycost": True, "device": device,
                   "probe": probe, "emulate_211": emulate_211, **fresh(tmp, f"k{i}")})
        for name, values in raw["times"].items():
            pooled.setdefault(name, []).extend(values)
        gc_runs = [a + b for a, b in zip(gc_runs, raw["gc_collections"], strict=True)]
        same = [a + b for a, b in zip(same, raw["same_keys"], strict=True)]
        firsts.append(raw["first_key_s"])
        for name, n in raw["with_lines"].items():
            with_lines[name] = with_lines.get(name, 0) + n
    out: dict = {"layers": layers, "repeats": repeats, "n": len(pooled["key"]),
                 "gc_collections_during_keys": gc_runs, "device": device,
                 "key": raw["key"], "torch": raw["torch"], "first_key_s": firsts,
                 "keys_with_factor_lines": with_lines,
                 "load_avg": os.getloadavg()}
    for name, values in pooled.items():
        out[f"{name}_median_ms"] = 1000 * statistics.median(values)
        out[f"{name}_ms"] = [round(1000 * v, 2) for v in values]
    shares = [c / k for c, k in zip(pooled["deepcopy"], pooled["key"], strict=True)]
    out["deepcopy_share_median"] = statistics.median(shares)
    if "key_before" in pooled:
        out["after_over_before_median"] = statistics.median(
            a / b for a, b in zip(pooled["key"], pooled["key_before"], strict=True))
        out["same_keys"] = same
    return out


def keycost_markdown(k: dict) -> str:
    """The RESULTS.md row of the keycost part."""
    goal = "≤ 11 ms" if k["key"] == "standalone_key API" else "≤ 30 ms"
    row = (f"| {k['key']} per piece, torch {k['torch']}, {k['device']} ({k['layers']} layers, "
           f"{k['repeats']} cold compiles, n={k['n']}) | median {k['key_median_ms']:.1f} ms")
    if "key_before_median_ms" in k:
        row += (f" (before issue 12's probe changes: {k['key_before_median_ms']:.1f} ms; paired "
                f"after/before {k['after_over_before_median']:.2f}; same key "
                f"{k['same_keys'][0]}/{k['same_keys'][1]})")
    return (row + f"; deep copy alone {k['deepcopy_median_ms']:.1f} ms (median share "
            f"{100 * k['deepcopy_share_median']:.0f} %); GC runs during keys by generation "
            f"{k['gc_collections_during_keys']} | {goal} |")


def run(spec: dict) -> dict:
    """Run ``worker(spec)`` in a fresh Python process."""
    proc = subprocess.run([sys.executable, __file__, "--worker", json.dumps(spec)],
                          capture_output=True, text=True, check=False)
    if proc.returncode:
        msg = f"benchmark worker failed for {spec}:\n{proc.stderr[-3000:]}"
        raise SystemExit(msg)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def fresh(tmp: Path, name: str) -> dict:
    d = tmp / name
    return {"inductor_dir": str(d / "inductor"), "artifact_dir": str(d / "artifacts")}


def bench_overhead(tmp: Path, layers: int, repeats: int) -> dict:
    ratios, rows = [], []
    for i in range(repeats):
        base = {"layers": layers, "sizes": [1, 4]}
        untraced = run({**base, **fresh(tmp, f"u{i}"), "traced": False})
        traced = run({**base, **fresh(tmp, f"t{i}"), "traced": True})
        ratios.append(traced["compile_s"] / untraced["compile_s"])
        rows.append({"untraced_s": untraced["compile_s"], "traced_s": traced["compile_s"],
                     "tracer_self_s": traced["tracer_overhead_s"],
                     "breakdown": traced["overhead_breakdown"], "key_seconds": traced["key_seconds"],
                     "untraced_key_seconds": untraced["untraced_key_seconds"]})
    self_pct = [100 * r["tracer_self_s"] / r["traced_s"] for r in rows]
    return {"layers": layers, "ratio_median": statistics.median(ratios), "ratios": ratios,
            "tracer_self_pct_median": statistics.median(self_pct), "runs": rows}


def bench_payloads(tmp: Path, layers: int, repeats: int, device: str = "cpu") -> dict:
    """Issue 12: the tracer's self-time with ``payloads="read"`` vs ``"all"``, cold and warm, and
    what each structured-trace payload costs, all in one run.

    Per repeat: two cold compiles (fresh caches each, the two modes in alternating order), then
    two warm compiles (a new process on the second cold run's caches, again both modes). Every
    run is traced, with ``PayloadTimer`` around the block.
    """
    runs: list[dict] = []
    for i in range(repeats):
        order = ("read", "all") if i % 2 == 0 else ("all", "read")
        base = {"layers": layers, "sizes": [1, 4], "traced": True, "payload_cost": True,
                "device": device}
        row: dict = {}
        for mode in order:
            row[f"cold_{mode}"] = run({**base, **fresh(tmp, f"p{i}{mode}"), "payloads": mode})
        warm_dirs = fresh(tmp, f"p{i}{order[1]}")
        for mode in order:
            row[f"warm_{mode}"] = run({**base, **warm_dirs, "payloads": mode})
        runs.append(row)
    out: dict = {"layers": layers, "repeats": repeats, "device": device, "runs": runs}
    for phase in ("cold", "warm"):
        for mode in ("read", "all"):
            rs = [r[f"{phase}_{mode}"] for r in runs]
            out[f"{phase}_{mode}"] = {
                "wall_s_median": statistics.median(r["compile_s"] for r in rs),
                "self_s_median": statistics.median(r["tracer_overhead_s"] for r in rs),
                "self_pct_median": statistics.median(
                    100 * r["tracer_overhead_s"] / r["compile_s"] for r in rs),
                "torch_payloads_s_median": statistics.median(
                    r["overhead_breakdown"].get("torch_payloads", 0.0) for r in rs)}
        out[f"{phase}_self_ratio_read_over_all"] = statistics.median(
            r[f"{phase}_read"]["tracer_overhead_s"] / r[f"{phase}_all"]["tracer_overhead_s"]
            for r in runs)
    out["per_artifact"] = per_artifact(runs)
    return out


def per_artifact(runs: list[dict]) -> list[dict]:
    """Per event name, median over the cold runs of its cost with ``"all"`` and with ``"read"``,
    most expensive first."""
    names = sorted({name for r in runs for name in r["cold_all"]["payload_cost"]})
    rows = []
    for name in names:
        row: dict = {"name": name}
        for mode in ("all", "read"):
            costs = [r[f"cold_{mode}"]["payload_cost"].get(name) for r in runs]
            costs = [c for c in costs if c]
            if costs:
                row[f"{mode}_n"] = statistics.median(c["n"] for c in costs)
                row[f"{mode}_call_ms"] = 1000 * statistics.median(c["call_s"] for c in costs)
                row[f"{mode}_payload_fn_ms"] = 1000 * statistics.median(
                    c["payload_fn_s"] for c in costs)
                row[f"{mode}_chars"] = statistics.median(c["chars"] for c in costs)
        row["built"] = not any(name in r["cold_read"].get("payloads_not_built", {}) for r in runs)
        rows.append(row)
    return sorted(rows, key=lambda r: -r.get("all_call_ms", 0.0))


def payloads_markdown(p: dict) -> str:
    """RESULTS.md rows of the payload part."""
    lines = ["| measure | `payloads=\"read\"` (default) | `payloads=\"all\"` | goal |",
             "|---|---|---|---|"]
    for phase, goal in (("cold", "≤ 1 %"), ("warm", "≤ 5 %")):
        r, a = p[f"{phase}_read"], p[f"{phase}_all"]
        lines.append(
            f"| tracer self-time, {phase} compile ({p['layers']} layers, median of {p['repeats']}) "
            f"| **{r['self_pct_median']:.2f} %** ({r['self_s_median']:.3f} s of "
            f"{r['wall_s_median']:.1f} s; torch payloads {r['torch_payloads_s_median']:.3f} s) "
            f"| {a['self_pct_median']:.2f} % ({a['self_s_median']:.3f} s of {a['wall_s_median']:.1f}"
            f" s; torch payloads {a['torch_payloads_s_median']:.3f} s) | {goal} |")
        lines.append(f"| self-time read/all, {phase} (paired, median) "
                     f"| {p[f'{phase}_self_ratio_read_over_all']:.2f} | 1 | – |")
    lines += ["", "| event (cold, median per compile) | n | in `trace_structured` ms (all) "
              "| of it `payload_fn` ms | payload chars | built with `\"read\"` |",
              "|---|---|---|---|---|---|"]
    for row in p["per_artifact"]:
        if row.get("all_call_ms", 0.0) < 0.5:
            continue
        lines.append(f"| `{row['name']}` | {row.get('all_n', 0):g} | {row.get('all_call_ms', 0):.1f} "
                     f"| {row.get('all_payload_fn_ms', 0):.1f} | {row.get('all_chars', 0):,.0f} "
                     f"| {'yes' if row['built'] else 'no'} |")
    return "\n".join(lines)


def bench_dedup(tmp: Path, layers: int) -> dict:
    """Dedup on vs off, with Inductor's own caches on (duplicates then hit Inductor's AOT cache)
    and off (every duplicate is a real compile: the cost dedup exists to avoid)."""
    out: dict = {"layers": layers}
    for caches_off in (False, True):
        base = {"layers": layers, "sizes": [], "traced": False, "caches_off": caches_off}
        tag = "caches_off" if caches_off else "caches_on"
        with_dedup = run({**base, **fresh(tmp, f"d1{tag}"), "dedup": True})
        without = run({**base, **fresh(tmp, f"d0{tag}"), "dedup": False})
        out[tag] = {"dedup_s": with_dedup["compile_s"], "no_dedup_s": without["compile_s"],
                    "speedup": without["compile_s"] / with_dedup["compile_s"]}
        if not caches_off:
            out["untraced_key_seconds"] = with_dedup["untraced_key_seconds"]
    return out


def bench_warm(tmp: Path, layers: int) -> dict:
    dirs = fresh(tmp, "w")
    base = {"layers": layers, "sizes": [1, 4], "traced": False, **dirs}
    cold = run(base)
    warm = run({**base, "traced": True})
    return {"layers": layers, "cold_s": cold["compile_s"], "warm_s": warm["compile_s"],
            "speedup": cold["compile_s"] / warm["compile_s"], "warm_outcomes": warm["outcomes"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--worker")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--parts", default="overhead,dedup,warm",
                        help="comma-separated subset of overhead,dedup,warm (results merge into "
                             "benchmarks/results/compile.json); or keycost alone, or payloads "
                             "alone (issue 12)")
    parser.add_argument("--out", help="the JSON file to merge results into "
                                      "(default benchmarks/results/compile.json)")
    parser.add_argument("--device", default="cpu", help="payloads/keycost parts: cpu or cuda")
    parser.add_argument("--repeats", type=int, help="payloads/keycost parts: repeats (default 3, quick 1)")
    parser.add_argument("--layers", type=int, help="payloads/keycost parts: demo model layers")
    parser.add_argument("--probe", action="store_true",
                        help="keycost: key by the torch 2.11 probe even where torch has the key "
                             "API (2.12+), and time it against the probe before issue 12")
    parser.add_argument("--emulate-211", action="store_true",
                        help="keycost: --probe, with torch 2.13 doing before the key what 2.11 "
                             "does (pre-grad passes, factor lines on every key)")
    args = parser.parse_args()
    if args.worker:
        spec = json.loads(args.worker)
        print(json.dumps((keycost_worker if spec.get("keycost") else worker)(spec)))
        return
    layers, dedup_layers, repeats = (2, 6, 1) if args.quick else (4, 16, 3)
    out = Path(args.out) if args.out else HERE / "results" / "compile.json"
    results = json.loads(out.read_text()) if out.exists() else {}
    parts = set(args.parts.split(","))
    if parts == {"payloads"}:  # issue 12: payload cost and self-time, results under "payloads"
        import torch

        with tempfile.TemporaryDirectory(prefix="cl_bench_") as tmp_name:
            p = results["payloads"] = bench_payloads(
                Path(tmp_name), args.layers or layers, args.repeats or repeats, args.device)
        p["env"] = {"torch": torch.__version__, "python": sys.version.split()[0],
                    "cpus": os.cpu_count(), "load_avg": os.getloadavg()}
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=1))
        print(payloads_markdown(p))
        return
    if parts == {"keycost"}:  # issue 12: key cost only, results under "keycost"
        with tempfile.TemporaryDirectory(prefix="cl_bench_") as tmp_name:
            k = results["keycost"] = bench_keycost(
                Path(tmp_name), args.layers or layers, args.repeats or repeats, args.device,
                probe=args.probe or args.emulate_211, emulate_211=args.emulate_211)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=1))
        print(keycost_markdown(k))
        return
    with tempfile.TemporaryDirectory(prefix="cl_bench_") as tmp_name:
        tmp = Path(tmp_name)
        if "overhead" in parts:
            results["overhead"] = bench_overhead(tmp, layers, repeats)
        if "dedup" in parts:
            results["dedup"] = bench_dedup(tmp, dedup_layers)
        if "warm" in parts:
            results["warm"] = bench_warm(tmp, layers)
    # The first key of a process pays torch_key() and warm-up once; the rest is the per-piece cost.
    traced_keys = [k for r in results["overhead"]["runs"] for k in r["key_seconds"][1:]]
    untraced_keys = [k for r in results["overhead"]["runs"]
                     for k in r.get("untraced_key_seconds", [])[1:]]
    results["standalone_key_ms"] = {
        "untraced_median": 1000 * statistics.median(untraced_keys),
        "untraced_max": 1000 * max(untraced_keys), "n_untraced": len(untraced_keys),
        "traced_median": 1000 * statistics.median(traced_keys), "n_traced": len(traced_keys)}
    import torch

    results["env"] = {"torch": torch.__version__, "python": sys.version.split()[0]}
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    o, d, w, k = (results[x] for x in ("overhead", "dedup", "warm", "standalone_key_ms"))
    print(f"| cold compile traced/untraced ({o['layers']} layers, median of {len(o['ratios'])}) "
          f"| {o['ratio_median']:.3f} (tracer self-time {o['tracer_self_pct_median']:.1f} %) | ≤ 1.02 |")
    for tag, label in (("caches_off", "Inductor caches off"), ("caches_on", "Inductor caches on")):
        r = d[tag]
        print(f"| cold compile no-dedup/dedup ({d['layers']} layers, {label}) | {r['speedup']:.2f}× "
              f"({r['no_dedup_s']:.1f} s vs {r['dedup_s']:.1f} s) | ≥ 4× |")
    print(f"| warm start cold/warm ({w['layers']} layers) | {w['speedup']:.2f}× "
          f"({w['cold_s']:.1f} s vs {w['warm_s']:.1f} s) | ≥ 5× |")
    print(f"| standalone key per piece (untraced) | median {k['untraced_median']:.1f} ms, max "
          f"{k['untraced_max']:.1f} ms (n={k['n_untraced']}); traced (with factor lines) median "
          f"{k['traced_median']:.1f} ms | ≤ 11 ms |")


if __name__ == "__main__":
    main()
