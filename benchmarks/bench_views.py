"""Benchmark: the views on an 80-layer synthetic trace (issue 4's scale goals).

Trace: ``tests/fixtures/synthetic.py::synthetic_trace()`` = 80 layers -> 161 pieces (81 compiled +
80 split ops), 8 compile sizes, 30 passes per piece compile, 51 CUDA-graph capture sizes.

Goals: ``to_html`` <= 2 s and <= 10 MB; the explorer's first render <= 1 s; DataFrames <= 0.2 s.
"Cold" numbers run in a fresh Python process and include importing compile_lens' view modules;
for the explorer, "cold (kernel)" pre-imports IPython as a Jupyter kernel has (ipywidgets itself is
still imported on the clock) and "cold (bare)" pre-imports nothing. The DataFrame goal is about
building frames, so pandas is imported before the clock. "Warm" numbers are the median of
repeated calls in one process. Usage::

    python benchmarks/bench_views.py            # prints a Markdown table
    python benchmarks/bench_views.py --json     # machine-readable
    python benchmarks/bench_views.py --hardening  # bad shapes (issue 9): 32,000-line key
                                                  # mismatch, a 60 MB trace, the 80-layer goal

The hardening traces are built by ``tests/hardening/test_big_traces.py`` (``mismatch_trace``,
``big_trace``), so the benchmark measures exactly what the tests bound.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
GOALS = {"to_html": 2.0, "explorer": 1.0, "explorer_bare": 1.0, "frames": 0.2}


def _trace() -> Any:
    spec = importlib.util.spec_from_file_location("synthetic", ROOT / "tests/fixtures/synthetic.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.synthetic_trace()


def _median(fn: Callable[[], Any], repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _cold(what: str) -> float:
    """Seconds for the first call of ``what`` in a fresh process (imports included)."""
    out = subprocess.run([sys.executable, __file__, "--cold", what], capture_output=True,
                         text=True, check=True, cwd=ROOT)
    return float(out.stdout.strip().splitlines()[-1])


def _one_cold(what: str) -> None:
    record = _trace()  # built before the clock starts; not part of the measured call
    t0 = time.perf_counter()
    if what == "to_html":
        from compile_lens.views.report import render

        render(record)
    elif what in ("explorer", "explorer_bare"):
        from compile_lens.views.widgets import explorer

        explorer(record)
    elif what == "frames":
        from compile_lens.views import tables

        for fn in (tables.pieces_frame, tables.passes_frame, tables.lowerings_frame,
                   tables.captures_frame, tables.nodes_frame, tables.graphs_frame):
            fn(record)
    print(time.perf_counter() - t0)


def measure() -> dict[str, Any]:
    """All numbers, cold and warm."""
    from compile_lens.api import Trace
    from compile_lens.views import tables
    from compile_lens.views.report import render
    from compile_lens.views.widgets import explorer

    record = _trace()
    html = render(record)
    res: dict[str, Any] = {
        "pieces": len(record.pieces), "compiles": len(record.compiles),
        "passes": len(record.passes), "captures": len(record.captures),
        "html_mb": round(len(html.encode("utf-8")) / 1e6, 2),
        "to_html_warm_s": _median(lambda: render(record)),
        "explorer_warm_s": _median(lambda: explorer(record)),
        "explorer_all_tabs_s": _median(lambda: explorer(record, lazy=False), 3),
        "repr_html_s": _median(lambda: Trace(record)._repr_mimebundle_()),
    }
    for fn in (tables.pieces_frame, tables.passes_frame, tables.lowerings_frame,
               tables.captures_frame, tables.nodes_frame, tables.graphs_frame):
        res[f"{fn.__name__}_s"] = _median(lambda fn=fn: fn(record))
    for what in GOALS:
        res[f"{what}_cold_s"] = _cold(what)
    return res


def table(res: dict[str, Any]) -> str:
    """The Markdown table that goes into benchmarks/RESULTS.md."""
    frames = [k for k in res if k.endswith("_frame_s")]
    rows = [
        ("to_html (one file)", f"{res['to_html_cold_s']:.2f} s cold, "
         f"{res['to_html_warm_s']:.2f} s warm, {res['html_mb']} MB", "<= 2 s, <= 10 MB"),
        ("explorer first render", f"{res['explorer_cold_s']:.2f} s cold (kernel), "
         f"{res['explorer_bare_cold_s']:.2f} s cold (bare), {res['explorer_warm_s']:.3f} s warm",
         "<= 1 s"),
        ("explorer, all 7 tabs built", f"{res['explorer_all_tabs_s']:.2f} s", "-"),
        ("Trace display (mime bundle)", f"{res['repr_html_s']:.2f} s", "-"),
        ("all 6 DataFrames together", f"{res['frames_cold_s']:.3f} s cold (pandas imported)",
         "-"),
    ]
    rows += [(f"`{k.removesuffix('_s')}` (warm)", f"{res[k] * 1000:.1f} ms", "<= 0.2 s")
             for k in frames]
    lines = ["| measure | result | goal |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines)


def _hardening_module() -> Any:
    sys.path.insert(0, str(ROOT / "tests" / "hardening"))
    spec = importlib.util.spec_from_file_location(
        "bench_big_traces", ROOT / "tests/hardening/test_big_traces.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def hardening() -> dict[str, Any]:
    """Render times and sizes on the bad shapes of issue 9 (warm, median of 3).

    Each call gets a fresh copy of the record (``fresh``), so the views' per-trace redaction
    cache never hides the cost of redacting: these are first-render numbers.
    """
    import dataclasses

    import compile_lens
    from compile_lens.views.display import trace_html
    from compile_lens.views.report import render
    from compile_lens.views.sections import mismatch_block

    def fresh(record: Any) -> Any:
        return dataclasses.replace(record)

    big = _hardening_module()
    from _hardening import load_synthetic

    synthetic = load_synthetic()
    record, bad = big.mismatch_trace(synthetic, 32_000)
    res: dict[str, Any] = {
        "mismatch_block_32000_s": _median(lambda: mismatch_block(fresh(record), bad), 3),
        "report_32000_s": _median(lambda: render(fresh(record)), 3),
        "report_32000_mb": round(len(render(record).encode()) / 1e6, 2),
    }
    from compile_lens.model import FactorDump, PieceKeys

    def dump(key: str, salt: int) -> FactorDump:
        lines = [f"[{i * 7 + salt:016x}] inductor_config[opt_{i}]: {i + salt}"
                 for i in range(32_000)]
        piece = PieceKeys(graph="g0", submod="submod_0", keys={"aot": key}, structure="x")
        return FactorDump(pieces=[piece], key_lines={key: lines})

    da, db = dump("ka", 0), dump("kb", 1)
    res["diff_32000_s"] = _median(lambda: compile_lens.diff(da, db).to_html(), 3)
    huge = big.big_trace(synthetic)
    res["big_trace_json_mb"] = round(len(compile_lens.Trace(huge).to_json()) / 1e6, 1)
    page = render(huge)
    res["big_report_mb"] = round(len(page.encode()) / 1e6, 2)
    res["big_report_s"] = _median(lambda: render(fresh(huge)), 3)
    nb = trace_html(compile_lens.Trace(huge))
    res["big_notebook_mb"] = round(len(nb.encode()) / 1e6, 2)
    res["big_notebook_s"] = _median(lambda: trace_html(compile_lens.Trace(fresh(huge))), 3)
    goal = _trace()
    res["goal_80_layer_report_s"] = _median(lambda: render(fresh(goal)), 3)
    res["goal_80_layer_report_mb"] = round(len(render(goal).encode()) / 1e6, 2)
    res["goal_80_layer_cold_s"] = _cold("to_html")
    return res


def hardening_table(res: dict[str, Any]) -> str:
    """The Markdown table of ``hardening()`` for benchmarks/RESULTS.md."""
    rows = [
        ("key mismatch of 32,000 factor lines per key: the mismatch block",
         f"{res['mismatch_block_32000_s']:.3f} s", "-"),
        ("the same trace: whole report", f"{res['report_32000_s']:.2f} s, "
         f"{res['report_32000_mb']} MB", "<= 1 s"),
        ("diff of two dumps differing in 32,000 key lines (analysis + HTML)",
         f"{res['diff_32000_s']:.2f} s", "-"),
        (f"{res['big_trace_json_mb']} MB trace (80 layers, every string blown up): report",
         f"{res['big_report_s']:.2f} s, {res['big_report_mb']} MB", "capped (< 10 MB)"),
        ("the same trace: notebook display (`text/html`)",
         f"{res['big_notebook_s']:.2f} s, {res['big_notebook_mb']} MB", "capped (< 3 MB)"),
        ("80-layer goal trace: report", f"{res['goal_80_layer_cold_s']:.2f} s cold, "
         f"{res['goal_80_layer_report_s']:.2f} s warm, {res['goal_80_layer_report_mb']} MB",
         "<= 2 s, <= 10 MB"),
    ]
    lines = ["| measure | result | goal |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--cold", choices=sorted(GOALS))
    parser.add_argument("--hardening", action="store_true",
                        help="measure the bad shapes of issue 9 instead")
    args = parser.parse_args()
    if args.hardening:
        res = hardening()
        print(json.dumps(res, indent=1) if args.json else hardening_table(res))
        return
    if args.cold:
        if args.cold == "frames":
            import pandas  # noqa: F401  (the frames goal is about building frames, not importing)
        if args.cold == "explorer":
            import IPython  # noqa: F401  (a Jupyter kernel is an IPython process)
        _one_cold(args.cold)
        return
    res = measure()
    print(json.dumps(res, indent=1) if args.json else table(res))


if __name__ == "__main__":
    main()
