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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--cold", choices=sorted(GOALS))
    args = parser.parse_args()
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
