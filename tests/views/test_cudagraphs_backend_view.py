"""The CUDA-graphs view of a trace the embedded backend recorded itself, end to end on CPU:
``compile_lens.piecewise(cudagraph_mode="full_and_piecewise", cudagraph_full_sizes=[2])`` on the
demo model inside ``trace()``, with the eager-replay stand-ins of ``test_cudagraph_modes`` for the
graphs (the real split, dispatch, wrappers, counters, events and parser). The calls are those of
``test_cudagraph_modes._run``: 8 tokens, then 1 to 10 twice; capture sizes 2, 4, 8.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_cudagraph_modes import _run

import compile_lens
from compile_lens.analysis.cudagraphs import cudagraphs
from compile_lens.views.cudagraphs_view import dispatch_rows, section

VLLM = Path(__file__).resolve().parents[1] / "fixtures" / "traces" / "vllm_gpu_h100.json"


@pytest.fixture(scope="module")
def mixed() -> Any:
    return _run("full_and_piecewise", full_sizes=[2]).record


def test_rows_are_the_calls_the_model_made(mixed: Any) -> None:
    data = cudagraphs(mixed)
    got = {(r.graph_id, r.mode, r.size): (r.graphs, r.replays, r.tokens, r.padded_tokens)
           for r in data.rows}
    # 8: the first call and 5..8 twice; 4: 3 and 4 twice; 2: 2 twice (whole graph);
    # 1 token: Dynamo's static graph g1, captured whole
    assert got == {("g0", "FULL", 2): (1, 2, 4, 0),
                   ("g0", "PIECEWISE", 4): (3, 4, 14, 2),
                   ("g0", "PIECEWISE", 8): (3, 9, 60, 12),
                   ("g1", "FULL", 1): (1, 2, 2, 0)}
    assert [(f.code, f.calls, f.tokens, f.submod, f.mode) for f in data.fallbacks] == [
        ("above_largest_size", 4, 38, "<model>", "FULL")]
    (s,) = data.settings
    assert (s.cudagraph_mode, s.capture_sizes, s.full_sizes) == ("FULL_AND_PIECEWISE",
                                                                 [2, 4, 8], [2])
    assert all(r.warmup_seconds is not None for r in data.rows)
    assert data.mode_note == ""


def test_dispatch_and_section_read_like_vllms(mixed: Any) -> None:
    rows = dispatch_rows(cudagraphs(mixed))
    assert [r[:3] for r in rows] == [["PIECEWISE", 8, 9], ["PIECEWISE", 4, 4], ["FULL", 1, 2],
                                     ["FULL", 2, 2], ["NONE", "", 4]]
    html = section(mixed)
    assert "above_largest_size (&lt;model&gt;, instead of FULL)" in html
    assert '<div class="cl-num">4</div><div class="cl-lbl">calls without a graph</div>' in html


def test_same_frame_as_vllms_and_a_diff_against_it(mixed: Any) -> None:
    vllm = compile_lens.load(VLLM)
    ours = compile_lens.Trace(mixed).cudagraphs
    theirs = vllm.cudagraphs
    assert list(ours.columns) == list(theirs.columns)
    assert list(map(str, ours.dtypes)) == list(map(str, theirs.dtypes))
    d = compile_lens.diff(vllm, compile_lens.Trace(mixed))
    modes = {m.mode: m for m in d.cudagraphs.modes}
    assert 1 not in modes["FULL"].only_a and 2 not in modes["FULL"].only_a
    assert {4, 8}.isdisjoint(modes["PIECEWISE"].only_a)
    assert modes["PIECEWISE"].only_b == []
