"""The CUDA-graph-modes benchmark's ratios to ``reduce-overhead`` come from side-by-side rounds.

On a dedicated H100 the same kind of ``reduce-overhead`` step read 291 µs at the start of a run
and 329 µs at its end, so a mode timed minutes after the baseline is compared in alternating
rounds with the same model's ``reduce-overhead`` (``side_by_side``, GPU only). These check the
pure functions that turn a run's JSON into the goals' ratios and tables.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _bench() -> Any:
    sys.path.insert(0, str(BENCH))
    try:
        import bench_cudagraph_modes
    finally:
        sys.path.remove(str(BENCH))
    return bench_cudagraph_modes


def test_paired_rounds_win_over_steps_timed_apart() -> None:
    bm = _bench()
    results: dict[str, Any] = {
        "reduce_overhead": {"step_us": 291.0},
        "full_and_piecewise": {"step_us": 336.0, "vs_reduce_overhead": {
            "step_us": 330.0, "baseline_us": 320.0, "paired_ratio_median": 1.02,
            "paired_ratio_quartiles": [1.01, 1.02, 1.03]}},
        "piecewise": {"step_us": 582.0},  # no paired rounds (an older run): the separate steps
    }
    ratios = bm.ratios(results)
    assert ratios["full_and_piecewise_vs_reduce_overhead"] == {"ratio": 1.02, "goal": 1.15}
    assert ratios["piecewise_vs_reduce_overhead"] == {"ratio": 2.0, "goal": 1.5}
    table = bm.markdown({"ratios": ratios, **results})
    assert "| full and piecewise vs reduce overhead | 1.020 | 1.15 |" in table
    assert "| full_and_piecewise | 330.0 | 320.0 | 1.020 | 1.010 – 1.020 – 1.030 |" in table
    assert "| piecewise | 582.0 |" in table  # the separate step row is still shown


def test_an_old_run_without_paired_rounds_reads_as_before() -> None:
    bm = _bench()
    old = {"reduce_overhead": {"step_us": 291.4}, "full_and_piecewise": {"step_us": 304.3}}
    ratio = bm.ratios(old)["full_and_piecewise_vs_reduce_overhead"]["ratio"]
    assert abs(ratio - 304.3 / 291.4) < 1e-12
    assert "side by side" not in bm.markdown({"ratios": bm.ratios(old), **old})


def test_traced_rounds_give_wall_and_cpu_ratios_with_their_controls() -> None:
    bm = _bench()
    blocks = {"untraced": [(500e-6, 400e-6), (520e-6, 410e-6), (510e-6, 405e-6)],
              "traced": [(510e-6, 402e-6), (515e-6, 410e-6), (530e-6, 405e-6)],
              "control": [(505e-6, 400e-6), (500e-6, 410e-6), (520e-6, 405e-6)]}
    r = bm.traced_ratios(blocks)
    assert abs(r["paired_ratio_median"] - 1.02) < 1e-9  # 510/500, 515/520, 530/510
    assert abs(r["cpu_paired_ratio_median"] - 1.0) < 1e-9  # 402/400, 410/410, 405/405
    assert abs(r["cpu_untraced_us"] - 405.0) < 1e-6 and abs(r["untraced_us"] - 510.0) < 1e-6
    assert len(r["cpu_aa_ratio_quartiles"]) == 3
    results = {"piecewise": {"step_us": 510.0, "traced_vs_untraced": r}}
    ratios = bm.ratios(results)
    assert ratios["piecewise_traced_vs_untraced"] == {"ratio": r["paired_ratio_median"],
                                                      "goal": 1.005}
    assert ratios["piecewise_traced_vs_untraced_cpu"]["goal"] is None
