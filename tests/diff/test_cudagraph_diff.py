"""``compile_lens.diff`` of two traces' CUDA graphs (issue 15): settings, runtime modes, sizes
captured in one run only, capture seconds and memory per mode, calls and padding; text, HTML and
DataFrame say the same. Real inputs: vLLM's H100 trace, the embedded backend's H100 trace and an
embedded FULL_AND_PIECEWISE run's events through the parser (``tests/_cudagraph_trace``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from _cudagraph_trace import embedded_trace

import compile_lens
from compile_lens.analysis.cudagraph_diff import cudagraph_diff
from compile_lens.views.diff_rows import COLUMNS

TRACES = Path(__file__).resolve().parents[1] / "fixtures" / "traces"
VLLM = TRACES / "vllm_gpu_h100.json"
H100 = TRACES / "gpu_h100.json"


@pytest.fixture(scope="module")
def vllm_vs_embedded() -> compile_lens.Diff:
    return compile_lens.diff(VLLM, compile_lens.Trace(embedded_trace()))


def test_modes_and_sizes_captured_in_one_run_only(vllm_vs_embedded: compile_lens.Diff) -> None:
    cd = vllm_vs_embedded.cudagraphs
    assert cd is not None and not cd.same_shape
    modes = {m.mode: m for m in cd.modes}
    assert set(modes) == {"FULL", "PIECEWISE"}
    vllm_sizes = set(compile_lens.load(VLLM).record.run.extra["vllm_cudagraphs"][
        "engine_core-2268"]["capture_sizes"])
    assert modes["FULL"].only_a == sorted(vllm_sizes - {1, 2})
    assert modes["PIECEWISE"].only_a == sorted(vllm_sizes - {4, 8})
    assert modes["FULL"].only_b == [] and modes["PIECEWISE"].only_b == []
    assert modes["FULL"].replays == (204, 14)
    assert modes["FULL"].pool_bytes[1] == 8 * 2**20
    assert modes["PIECEWISE"].warmup_seconds[0] is None, "vLLM times no separate warm-up"
    settings = {s.name: s for s in cd.settings}
    assert settings["cudagraph_mode"].same
    assert (settings["source"].a, settings["source"].b) == ("vLLM", "compile_lens.piecewise")
    assert [(r, a, b) for r, a, b in cd.fallbacks] == [("above_largest_size", 0, 2),
                                                       ("static_input_moved", 0, 1)]


def test_text_html_and_frame_say_the_same(vllm_vs_embedded: compile_lens.Diff) -> None:
    text = str(vllm_vs_embedded)
    block = text[text.index("CUDA graphs ("):]
    assert "sizes captured only in A: 4, 8–256 step 8, 272–512 step 16" in block
    assert "calls 204 → 14" in block
    assert "calls without a graph (above_largest_size): 0 → 2" in block
    page = vllm_vs_embedded.to_html()
    assert "CUDA graphs: A vs B" in page and "CUDA graphs per mode and size" in page
    assert "FULL: sizes captured only in A: 4, 8–256 step 8, 272–512 step 16" in page
    frame = vllm_vs_embedded.to_dataframe()
    assert list(frame.columns) == list(COLUMNS)
    ours = frame[frame["entry"] == "CUDA graphs"]
    assert not ours["in_key"].any(), "capture differences are never cache-key causes"
    only = ours[(ours["layer"] == "FULL") & (ours["name"] == "sizes captured")]
    assert list(only["change"]) == ["only in A"]
    sizes = ours[ours["section"] == "cudagraphs size"]
    assert len(sizes) == len(vllm_vs_embedded.cudagraphs.sizes)
    assert vllm_vs_embedded.equal == compile_lens.diff(VLLM, compile_lens.Trace(
        embedded_trace())).equal


def test_a_trace_against_itself_has_the_same_shape() -> None:
    record = compile_lens.load(VLLM).record
    cd = cudagraph_diff(record, record)
    assert cd is not None and cd.same_shape
    frame = compile_lens.diff(VLLM, VLLM).to_dataframe()
    ours = frame[frame["entry"] == "CUDA graphs"]
    assert set(ours["change"]) == {"same"}
    assert "CUDA graphs (same modes and sizes)" in str(compile_lens.diff(VLLM, VLLM))


def test_old_embedded_trace_compares_as_piecewise() -> None:
    d = compile_lens.diff(VLLM, H100)
    modes = {m.mode: m for m in d.cudagraphs.modes}
    assert modes["FULL"].sizes == (51, 0)
    assert modes["PIECEWISE"].sizes == (51, 7)
    assert "FULL (only in A)" in str(d)


def test_no_cuda_graphs_no_block() -> None:
    demo = TRACES / "demo.json"
    d = compile_lens.diff(demo, demo)
    assert d.cudagraphs is None
    assert "CUDA graphs" not in str(d)
    assert "CUDA graphs" not in d.to_html()
