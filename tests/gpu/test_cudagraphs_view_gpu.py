"""The CUDA-graphs view of a real GPU run (issue 15): the demo model through piecewise CUDA
graphs at 1, 2, 4, 8, called at every size from 1 to 10 twice (``graphs_run``, shared with
test_cudagraphs_gpu.py; no compile of its own). Every number the view shows is checked against
the calls the run made: calls per padded size, real and padded tokens, calls without a graph, the
settings; and ``compile_lens.diff`` against vLLM's H100 trace.

Run on the H100: ``python -m pytest tests/gpu/test_cudagraphs_view_gpu.py -q``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from _gpu_runs import CALLS, SIZES

import compile_lens
from compile_lens.analysis.cudagraphs import cudagraphs
from compile_lens.views.cudagraphs_view import section

pytestmark = [pytest.mark.gpu, pytest.mark.inductor,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]

VLLM = Path(__file__).resolve().parents[1] / "fixtures" / "traces" / "vllm_gpu_h100.json"


def _expected() -> dict[int, tuple[int, int]]:
    """Padded size → (calls, real tokens): the first call (8 tokens), one capture call per size,
    then every size in ``CALLS`` twice; a call runs at the smallest capture size that holds it."""
    calls = [8, *SIZES, *CALLS, *CALLS]
    out: dict[int, tuple[int, int]] = {}
    for n in calls:
        size = next((s for s in SIZES if s >= n), None)
        if size is not None:
            c, t = out.get(size, (0, 0))
            out[size] = (c + 1, t + n)
    return out


def test_calls_tokens_and_padding_per_size_are_the_runs_calls(graphs_run):
    data = cudagraphs(graphs_run.trace.record)
    assert {r.mode for r in data.rows} == {"PIECEWISE"}
    assert data.mode_note == "", "the backend records the runtime mode"
    got = {r.size: (r.replays, r.tokens) for r in data.rows}
    assert got == _expected()
    for r in data.rows:
        assert r.padded_tokens == r.replays * r.size - r.tokens
        assert r.held_bytes and r.held_bytes > 0, "memory held after each size is recorded"
        assert r.warmup_seconds and r.capture_seconds > 0


def test_calls_above_the_largest_size_are_one_fallback(graphs_run):
    data = cudagraphs(graphs_run.trace.record)
    above = [f for f in data.fallbacks if f.code == "above_largest_size"]
    over = [n for n in CALLS if n > max(SIZES)]
    assert [(f.calls, f.tokens) for f in above] == [(2 * len(over), 2 * sum(over))], (
        "each forward call counted once, not once per piece")
    html = section(graphs_run.trace.record)
    assert "above_largest_size" in html


def test_settings_and_diff_against_vllm(graphs_run):
    data = cudagraphs(graphs_run.trace.record)
    (s,) = data.settings
    assert (s.source, s.cudagraph_mode, s.capture_sizes) == (
        "compile_lens.piecewise", "PIECEWISE", SIZES)
    d = compile_lens.diff(VLLM, graphs_run.trace)
    modes = {m.mode: m for m in d.cudagraphs.modes}
    assert modes["FULL"].sizes[1] == 0
    assert not set(SIZES) & set(modes["PIECEWISE"].only_a)
    assert "CUDA graphs (modes or sizes differ)" in str(d)
