"""A real vLLM trace from the H100 (vLLM 0.26, torch 2.11, tiny Llama, vLLM's defaults), read on
CPU: FULL and PIECEWISE CUDA graphs, vLLM's own capture account, keys, the device, the views.

``vllm_gpu_h100.json`` is a default ``trace()`` of a cold ``LLM(...).generate``;
``vllm_gpu_h100_cross_check.json`` the same with ``cross_check=True`` (torch 2.11 has no
standalone key API: the up-front keys come from the probe). Both were recorded by
``tests/gpu_vllm`` (``COMPILE_LENS_KEEP_TRACES``). Every count is checked against the account
vLLM itself left in the same trace (``compilation_counter``, its capture log line).
"""

from __future__ import annotations

from pathlib import Path

import pytest

import compile_lens

TRACES = Path(__file__).parent / "fixtures" / "traces"


@pytest.fixture(scope="module")
def gpu_trace() -> compile_lens.Trace:
    return compile_lens.load(TRACES / "vllm_gpu_h100.json")


def test_every_graph_vllm_captured_full_and_piecewise(gpu_trace):
    record = gpu_trace.record
    assert len(record.captures) == record.counters["vllm.num_cudagraph_captured"]
    by_mode = {c.mode for c in record.captures}
    assert by_mode == {"FULL", "PIECEWISE"}
    full = [c for c in record.captures if c.mode == "FULL"]
    assert {c.submod for c in full} == {"<model>"}
    pieces = {c.submod for c in record.captures if c.mode == "PIECEWISE"}
    compiled = {p.submod for p in record.pieces if not p.is_split_op}
    assert pieces == compiled


def test_captures_fit_vllms_own_account(gpu_trace):
    settings = next(iter(gpu_trace.record.run.extra["vllm_cudagraphs"].values()))
    assert settings["cudagraph_mode"] == "FULL_AND_PIECEWISE"
    assert {c.size for c in gpu_trace.record.captures} <= set(settings["capture_sizes"])
    assert settings["vllm_message"].endswith(f"took {settings['vllm_gib']:.2f} GiB")
    assert sum(c.memory_bytes for c in gpu_trace.record.captures) / 2**30 <= settings["vllm_gib"]
    assert sum(c.seconds for c in gpu_trace.record.captures) <= settings["vllm_seconds"]


def test_replays_counted_per_mode_and_size(gpu_trace):
    frame = gpu_trace.captures
    assert list(frame.columns) == ["graph_id", "submod", "size", "mode", "seconds",
                                   "memory_bytes", "replays"]
    replayed = frame[frame.replays > 0]
    assert set(replayed["mode"]) == {"FULL", "PIECEWISE"}  # decode steps, prefills


def test_device_read_without_cuda(gpu_trace):
    run = gpu_trace.record.run
    assert run.extra["device_facts"]["source"] == "nvml"
    assert run.device == run.extra["device_facts"]["gpu"]
    assert run.features["cuda_available"] is True


def test_cross_check_trace_matches_every_piece():
    trace = compile_lens.load(TRACES / "vllm_gpu_h100_cross_check.json")
    check = trace.cross_check()
    statuses = [c.status for c in check.checks]
    assert statuses and set(statuses) == {"match"}
    assert check.wrong_dedups == {}


def test_report_shows_both_modes(gpu_trace, tmp_path):
    html = gpu_trace.to_html(tmp_path / "report.html")
    assert "FULL" in html and "PIECEWISE" in html
