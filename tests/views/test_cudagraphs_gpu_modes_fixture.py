"""The CUDA-graphs view of the embedded backend's own FULL_AND_PIECEWISE run on the H100, read on
CPU: ``tests/fixtures/traces/gpu_h100_modes.json`` is ``gpu_modes_full_and_piecewise.json`` from
``COMPILE_LENS_GPU_OUT=OUT python -m pytest tests/gpu/test_cudagraph_modes_gpu.py`` (demo model,
capture sizes 2, 4, 8, full size 2, called at 8 then 1 to 10 twice). Until that file is recorded
these tests skip; ``test_cudagraphs_backend_view.py`` checks the same shape from the backend on CPU.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import compile_lens
from compile_lens.analysis.cudagraphs import cudagraphs
from compile_lens.views.cudagraphs_view import section

TRACES = Path(__file__).resolve().parents[1] / "fixtures" / "traces"
FIXTURE = TRACES / "gpu_h100_modes.json"

pytestmark = pytest.mark.skipif(not FIXTURE.exists(), reason=f"{FIXTURE.name} is not recorded yet")


@pytest.fixture(scope="module")
def modes() -> compile_lens.Trace:
    return compile_lens.load(FIXTURE)


def test_full_at_the_decode_sizes_piecewise_at_the_others(modes: compile_lens.Trace) -> None:
    data = cudagraphs(modes.record)
    (s,) = data.settings
    assert s.cudagraph_mode == "FULL_AND_PIECEWISE"
    dynamic = [r for r in data.rows if r.graph_id == "g0"]
    assert sorted(r.size for r in dynamic if r.mode == "FULL") == s.full_sizes
    assert sorted(r.size for r in dynamic if r.mode == "PIECEWISE") == sorted(
        set(s.capture_sizes) - set(s.full_sizes))
    for r in data.rows:
        assert r.held_bytes and r.held_bytes > 0
        assert r.warmup_seconds is not None and r.capture_seconds > 0
        if r.replays:
            assert r.tokens is not None and r.padded_tokens == r.replays * r.size - r.tokens >= 0
    assert any(f.code == "above_largest_size" for f in data.fallbacks)
    assert data.mode_note == ""


def test_one_shape_with_vllms_trace(modes: compile_lens.Trace) -> None:
    vllm = compile_lens.load(TRACES / "vllm_gpu_h100.json")
    assert list(map(str, modes.cudagraphs.dtypes)) == list(map(str, vllm.cudagraphs.dtypes))
    d = compile_lens.diff(vllm, modes)
    assert {m.mode for m in d.cudagraphs.modes} == {"FULL", "PIECEWISE"}
    assert "FULL_AND_PIECEWISE" in section(modes.record)
