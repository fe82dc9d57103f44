"""The CUDA-graphs view (issue 15): per runtime mode and size, capture time and memory, calls and
padding, calls without a graph, the run's settings; one shape for a vLLM trace and an embedded
trace, in the DataFrame, the report, the notebook and the explorer.

Real inputs: ``vllm_gpu_h100.json`` (vLLM's own FULL and PIECEWISE captures on an H100),
``gpu_h100.json`` (the embedded backend on the H100, before runtime modes were recorded) and the
events of an embedded FULL_AND_PIECEWISE run fed through the parser (``tests/_cudagraph_trace``).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from _cudagraph_trace import FALLBACKS, MIB, REPLAYS, embedded_trace

import compile_lens
from compile_lens.analysis.cudagraphs import cudagraphs, size_ranges
from compile_lens.model import WHOLE_MODEL, TraceRecord
from compile_lens.views import cudagraph_plots, plots, registry, report
from compile_lens.views._limits import Limits
from compile_lens.views.cudagraphs_view import (
    FRAME_COLUMNS,
    dispatch_rows,
    section,
)
from compile_lens.views.display import trace_sections

TRACES = Path(__file__).resolve().parents[1] / "fixtures" / "traces"


@pytest.fixture(scope="module")
def vllm() -> compile_lens.Trace:
    return compile_lens.load(TRACES / "vllm_gpu_h100.json")


@pytest.fixture(scope="module")
def h100() -> compile_lens.Trace:
    return compile_lens.load(TRACES / "gpu_h100.json")


@pytest.fixture(scope="module")
def embedded() -> TraceRecord:
    return embedded_trace()


def test_vllm_rows_per_mode_and_size_add_up_to_the_captures(vllm: compile_lens.Trace) -> None:
    record = vllm.record
    data = cudagraphs(record)
    sizes = {c.size for c in record.captures}
    assert [(m.mode, len(m.sizes)) for m in data.modes] == [("FULL", len(sizes)),
                                                            ("PIECEWISE", len(sizes))]
    pieces = {c.submod for c in record.captures if c.mode == "PIECEWISE"}
    assert {r.graphs for r in data.rows if r.mode == "PIECEWISE"} == {len(pieces)}
    assert {r.graphs for r in data.rows if r.mode == "FULL"} == {1}
    for mode in ("FULL", "PIECEWISE"):
        caps = [c for c in record.captures if c.mode == mode]
        totals = next(m for m in data.modes if m.mode == mode)
        assert totals.pool_bytes == sum(c.memory_bytes for c in caps)
        assert totals.seconds == pytest.approx(sum(c.seconds for c in caps))
        assert totals.warmup_seconds is None, "vLLM times no warm-up apart from the capture"
    full_calls = sum(c.replays for c in record.captures if c.mode == "FULL")
    assert next(m for m in data.modes if m.mode == "FULL").replays == full_calls
    assert data.rows[0].mode == "FULL" and data.rows[0].size == 1
    assert data.rows[0].replays == 189, "decode steps ran the size-1 FULL graph"
    assert data.mode_note == ""


def test_vllm_settings_sit_next_to_vllms_own_account(vllm: compile_lens.Trace) -> None:
    data = cudagraphs(vllm.record)
    (s,) = data.settings
    raw = vllm.record.run.extra["vllm_cudagraphs"][s.process]
    assert (s.source, s.cudagraph_mode) == ("vLLM", "FULL_AND_PIECEWISE")
    assert s.capture_sizes == raw["capture_sizes"]
    assert size_ranges(s.capture_sizes) == "1, 2, 4, 8–256 step 8, 272–512 step 16"
    assert s.pool_bytes == sum(c.memory_bytes for c in vllm.record.captures)
    assert s.reported_bytes is not None and s.reported_bytes == round(raw["vllm_gib"] * 2**30)
    assert s.unaccounted_bytes == s.reported_bytes - s.pool_bytes > 0
    assert s.reported_seconds is not None and s.seconds <= s.reported_seconds
    html = section(vllm.record)
    assert raw["vllm_message"] in html
    assert "FULL_AND_PIECEWISE" in html


def test_dispatch_table_is_what_cudagraph_metrics_counts(vllm: compile_lens.Trace) -> None:
    rows = dispatch_rows(cudagraphs(vllm.record))
    calls = [r[2] for r in rows]
    assert calls == sorted(calls, reverse=True), "most frequent first, like vLLM's table"
    assert rows[0][:3] == ["FULL", 1, 189]
    ran = {(c.mode, c.size) for c in vllm.record.captures if c.replays}
    assert {(r[0], r[1]) for r in rows} == ran


def test_embedded_full_and_piecewise_run_padding_fallbacks_and_memory(embedded: Any) -> None:
    data = cudagraphs(embedded)
    by = {(r.mode, r.size): r for r in data.rows}
    assert set(by) == {("FULL", 1), ("FULL", 2), ("PIECEWISE", 4), ("PIECEWISE", 8)}
    piece8 = by[("PIECEWISE", 8)]
    assert (piece8.graphs, piece8.replays, piece8.tokens, piece8.padded_tokens) == (2, 2, 11, 5)
    assert piece8.waste == pytest.approx(5 / 16)
    assert piece8.warmup_seconds == pytest.approx(0.04)
    assert piece8.capture_seconds == pytest.approx(0.02)
    assert piece8.pool_bytes == 2 * MIB and piece8.held_bytes == 101 * MIB + 8 * MIB
    full = next(m for m in data.modes if m.mode == "FULL")
    assert (full.replays, full.tokens, full.padded_tokens) == (14, 16, 2)
    assert full.held_bytes == 122 * MIB, "memory held after the last FULL capture"
    assert [(f.code, f.calls) for f in data.fallbacks] == [("above_largest_size", 2),
                                                           ("static_input_moved", 1)]
    (s,) = data.settings
    assert (s.source, s.cudagraph_mode, s.full_sizes) == ("compile_lens.piecewise",
                                                          "FULL_AND_PIECEWISE", [1, 2])
    assert s.pool_bytes == 10 * MIB and s.reported_bytes is None
    expected_calls = sum(r[3] for r in REPLAYS if r[0] in (WHOLE_MODEL, "submod_0"))
    assert data.replays == expected_calls
    assert data.fallback_calls == sum(f["calls"] for f in FALLBACKS)


def test_embedded_section_shows_padding_reasons_and_settings(embedded: Any) -> None:
    html = section(embedded)
    assert "static_input_moved: parameter layers.0.w has a new address" in html
    assert "above_largest_size (&lt;model&gt;, instead of PIECEWISE)" in html
    assert "compile_lens.piecewise" in html and "FULL_AND_PIECEWISE" in html
    assert "31.2%" in html, "PIECEWISE size 8: 5 padded of 16 slots"
    assert "calls without a graph" in html


def test_old_embedded_trace_says_its_modes_are_inferred(h100: compile_lens.Trace) -> None:
    data = cudagraphs(h100.record)
    assert {r.mode for r in data.rows} == {"PIECEWISE"}
    assert "does not record runtime modes" in data.mode_note
    assert data.mode_note in section(h100.record)
    for r in data.rows:
        assert r.seconds == pytest.approx(r.capture_seconds + (r.warmup_seconds or 0.0))
        assert r.static_input_bytes and r.static_input_bytes > 0
    assert all(r.tokens is None for r in data.rows if r.replays), "padding was not recorded"


def test_one_frame_shape_for_vllm_and_embedded(vllm: Any, h100: Any, embedded: Any) -> None:
    frames = [vllm.cudagraphs, h100.cudagraphs, compile_lens.Trace(embedded).cudagraphs,
              compile_lens.Trace(TraceRecord()).cudagraphs]
    for frame in frames:
        assert list(frame.columns) == FRAME_COLUMNS
    assert len({tuple(map(str, f.dtypes)) for f in frames}) == 1, "the same dtypes everywhere"
    assert len(frames[0]) == len({(c.mode, c.size) for c in vllm.record.captures})
    nones = frames[2][frames[2]["mode"] == "NONE"]
    assert list(nones["reason"].str.split(":").str[0]) == ["above_largest_size",
                                                           "static_input_moved"]
    assert list(nones["fallback_from"]) == ["PIECEWISE", "PIECEWISE"]
    assert len(vllm.captures) == len(vllm.record.captures), "t.captures keeps one row a capture"


def test_figures_are_valid_plotly_with_one_bar_group_per_mode(vllm: Any, embedded: Any) -> None:
    spec = cudagraph_plots.capture_figure(vllm.record)
    plots.to_figure(spec)
    names = [t["name"] for t in spec["data"]]
    assert names == ["FULL capture", "FULL pool growth", "PIECEWISE capture",
                     "PIECEWISE pool growth"]
    pool = {t["name"]: sum(t["y"]) for t in spec["data"] if "pool" in t["name"]}
    assert pool["FULL pool growth"] == pytest.approx(
        sum(c.memory_bytes for c in vllm.record.captures if c.mode == "FULL") / MIB)
    spec = cudagraph_plots.capture_figure(embedded)
    assert "FULL warm-up" in [t["name"] for t in spec["data"]], "warm-up stacked where timed"
    dispatch = cudagraph_plots.dispatch_figure(embedded)
    plots.to_figure(dispatch)
    bars = {t["name"]: t for t in dispatch["data"]}
    assert bars["no graph"]["y"] == [2, 1]
    assert bars["PIECEWISE padding %"]["y"] == [None, None, 25.0, 31.25]  # sizes 1, 2, 4, 8


def test_section_everywhere_the_other_views_go(vllm: Any, embedded: Any) -> None:
    sections = dict(report.build_sections(vllm.record))
    body = sections["CUDA graphs"]
    assert body.count("plotly-graph-div") == 4, "capture cost, memory, dispatch, per piece"
    assert "Per mode and size" in body
    notebook = dict(trace_sections(embedded))["CUDA graphs"]
    assert "plotly" not in notebook and "t.cudagraphs" in notebook
    assert "Per mode and size" not in notebook, "the notebook points to the DataFrame"
    titles = [s.title for s in registry.explorer_sections()]
    assert "CUDA graphs" in titles


def test_explorer_tab_holds_the_figures_and_the_tables(embedded: Any) -> None:
    pytest.importorskip("ipywidgets")
    from compile_lens.views.widgets import explorer

    tab = explorer(embedded, lazy=False)
    box = tab.children[list(tab.titles).index("CUDA graphs")]
    html, figs = box.children
    assert "static_input_moved" in html.value
    titles = [o["data"]["application/vnd.plotly.v1+json"]["layout"]["title"]["text"]
              for o in figs.outputs]
    assert [t.split(":")[0].split(" (")[0] for t in titles] == [
        "CUDA-graph capture cost per size and mode", "Where the capture memory went",
        "CUDA-graph dispatch", "CUDA-graph captures"]


def test_settings_alone_make_the_section_and_nothing_makes_a_note() -> None:
    run = dataclasses.replace(TraceRecord().run, extra={"cudagraphs": {
        "cudagraph_mode": "NONE", "capture_sizes": [], "full_sizes": []}})
    record = TraceRecord(run=run)
    body = dict(report.build_sections(record))["CUDA graphs"]
    assert "NONE" in body and "no graph ran inside the trace" in body
    empty = dict(report.build_sections(TraceRecord()))["CUDA graphs"]
    assert "no CUDA-graph captures in this trace" in empty


def test_long_tables_stop_at_the_views_limits(vllm: Any) -> None:
    html = section(vllm.record, Limits(rows=5))
    assert "showing the first 5 of 102 mode and size rows" in html


def test_malformed_settings_do_not_break_the_view() -> None:
    run = dataclasses.replace(TraceRecord().run, extra={
        "vllm_cudagraphs": {"p": "not a dict", "q": {"capture_sizes": "1,2", "vllm_gib": "x"}},
        "cudagraphs": ["wrong"]})
    record = TraceRecord(run=run, extra={"cudagraph_fallbacks": [1, {"calls": "two"}]})
    data = cudagraphs(record)
    assert [(s.process, s.capture_sizes, s.reported_bytes) for s in data.settings] == [
        ("q", [], None)]
    assert [(f.reason, f.calls) for f in data.fallbacks] == [("unknown", 0)]
    section(record)


def test_rendering_is_deterministic(vllm: Any) -> None:
    again = compile_lens.load(TRACES / "vllm_gpu_h100.json")
    assert section(vllm.record) == section(again.record)
    assert cudagraph_plots.capture_figure(vllm.record) == cudagraph_plots.capture_figure(
        again.record)


def test_a_call_every_piece_ran_without_a_graph_counts_once(embedded: Any) -> None:
    """Pure piecewise: each piece counts the calls above the largest size itself."""
    from compile_lens.model import CudaGraphFallback

    g = embedded.graphs[0].id
    each = [CudaGraphFallback(graph_id=g, submod=p, mode="PIECEWISE", reason="above_largest_size",
                              calls=4, tokens=38) for p in ("submod_0", "submod_2", "submod_4")]
    data = cudagraphs(dataclasses.replace(embedded, cudagraph_fallbacks=each))
    (f,) = data.fallbacks
    assert (f.calls, f.tokens, f.submod) == (4, 38, "submod_0, submod_2, submod_4")
    assert data.fallback_calls == 4


def test_memory_figure_adds_up_to_vllms_own_figure(vllm: Any, embedded: Any) -> None:
    spec = cudagraph_plots.memory_figure(vllm.record)
    plots.to_figure(spec)
    parts = {t["name"]: t["x"][0] for t in spec["data"]}
    assert parts == {"FULL pool growth": 34.0, "PIECEWISE pool growth": 2.0,
                     "outside the captures (the run's own figure)": 100.0}
    gib = next(iter(vllm.record.run.extra["vllm_cudagraphs"].values()))["vllm_gib"]
    assert sum(parts.values()) == pytest.approx(gib * 1024)
    spec = cudagraph_plots.memory_figure(embedded)
    parts = {t["name"]: t["x"][0] for t in spec["data"]}
    # each capture reserved its pool growth plus a 4 KiB static input buffer
    assert parts["warm-up and static inputs"] == pytest.approx(6 * 4096 / MIB, abs=1e-3)
    assert parts["FULL pool growth"] == 8.0 and parts["PIECEWISE pool growth"] == 2.0


def test_a_trace_of_several_graphs_names_the_graph_of_each_dispatch_row(h100: Any) -> None:
    data = cudagraphs(h100.record)
    assert {r.graph_id for r in data.rows} == {"g0", "g1"}  # g1: Dynamo's one-token graph
    rows = dispatch_rows(data, graphs=True)
    assert rows[0][:4] == ["g1", "PIECEWISE", 1, 4]
    html = section(h100.record)
    dispatch = html.split("Dispatch")[1].split("</table>")[0]
    assert "<th>graph</th>" in dispatch and "<td>g1</td>" in dispatch
