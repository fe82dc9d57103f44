"""The issue-12 benchmarks run: ``bench_scale.py`` end to end on a tiny CPU model (real Inductor,
two fresh processes), and ``bench_compile``'s per-event timer stacked under ``trace()``'s payload
filter (eager, fast)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import compile_lens
from compile_lens._torch import patching
from compile_lens.instrument import payloads

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def test_payload_timer_sees_what_the_filter_lets_through():
    sys.path.insert(0, str(BENCH))
    try:
        from bench_compile import PayloadTimer
    finally:
        sys.path.remove(str(BENCH))
    original = patching.current(payloads.TARGET)
    rows = {}
    for mode in ("read", "all"):
        timer = PayloadTimer()
        with payloads.intercepted(timer.wrap), compile_lens.trace(
                strict=True, factors=False, bytecode=False, payloads=mode):
            torch._dynamo.reset()
            torch.compile(lambda x: torch.relu(x) + 1, backend="eager")(torch.randn(3))
        rows[mode] = timer.rows()
    assert patching.current(payloads.TARGET) is original
    assert rows["all"]["dynamo_cpp_guards_str"]["chars"] > 0
    assert "dynamo_cpp_guards_str" not in rows["read"], "not sent: never reaches the timer"
    assert rows["read"]["dynamo_output_graph"]["chars"] == rows["all"]["dynamo_output_graph"]["chars"]


@pytest.mark.inductor
def test_bench_scale_tiny_writes_its_json(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(BENCH / "bench_scale.py"), "--tiny", "--layers", "1",
         "--backends", "piecewise", "--out", str(tmp_path)],
        capture_output=True, text=True, check=False, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((tmp_path / "scale.json").read_text())
    piecewise = result["backends"]["piecewise"]
    assert result["model"]["layers"] == 1 and piecewise["rounds"] == 1
    traced = piecewise["runs"][0]["traced"]
    assert traced["report_bytes"] > 0 and traced["report_s"] > 0
    assert traced["outcomes"]["compiled"] >= 1 and traced["payloads_not_built"]
    assert piecewise["ratios"][0] > 0
    assert "cold compile traced/untraced, `piecewise`" in proc.stdout
