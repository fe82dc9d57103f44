"""CUDA-graph records of issue 15: captures per mode and size, replay and padding counters,
fallbacks, the backend's settings; parsed from the events the backend sends, saved and loaded.

The events are the payloads ``backend/cudagraphs.report_replays`` and ``_capture`` emit (the
GPU tests check the backend sends them; tests/test_cudagraph_modes.py checks it on CPU).
"""

from __future__ import annotations

import dataclasses
import json

import pytest

from compile_lens import _events
from compile_lens.errors import TraceFormatError
from compile_lens.model import WHOLE_MODEL, CudaGraphFallback, TraceRecord
from compile_lens.model.serialize import trace_from_json, trace_to_json
from compile_lens.record.raw import RawEvent
from compile_lens.record.recorder import TraceBuilder


def _event(t: float, name: str, body: dict) -> RawEvent:
    assert _events.validate(name, body) == [], body  # every payload fits the contract
    return RawEvent(t=t, name=_events.artifact_name(name), metadata={}, payload=json.dumps(body))


def _events_of_a_full_and_piecewise_run() -> list[RawEvent]:
    g = "pw0"
    return [
        _event(1.0, _events.GRAPH, {"graph_key": g, "backend": "compile_lens.piecewise"}),
        _event(1.1, _events.CUDAGRAPHS, {"cudagraph_mode": "FULL_AND_PIECEWISE",
                                         "capture_sizes": [1, 2, 4, 8], "full_sizes": [1, 2]}),
        _event(2.0, _events.CAPTURE, {
            "graph_key": g, "submod": "submod_0", "size": 8, "mode": "PIECEWISE",
            "seconds": 0.5, "warmup_seconds": 0.2, "capture_seconds": 0.3,
            "memory_bytes": 4096, "held_bytes": 1 << 20}),
        _event(2.5, _events.CAPTURE, {
            "graph_key": g, "submod": WHOLE_MODEL, "size": 2, "mode": "FULL", "seconds": 0.25,
            "memory_bytes": 0, "held_bytes": 2 << 20}),
        _event(3.0, _events.REPLAYS, {
            "graph_key": g,
            "rows": [{"submod": "submod_0", "size": 8, "mode": "PIECEWISE", "uniform": False,
                      "replays": 3, "tokens": 17, "padded_tokens": 7},
                     {"submod": WHOLE_MODEL, "size": 2, "mode": "FULL", "uniform": False,
                      "replays": 5, "tokens": 10, "padded_tokens": 0}],
            "fallbacks": [{"submod": WHOLE_MODEL, "mode": "FULL",
                           "reason": "above_largest_size", "calls": 2, "tokens": 19}]}),
    ]


def _record(events: list[RawEvent]) -> tuple[TraceRecord, TraceBuilder]:
    builder = TraceBuilder(0.0)
    parts = builder.feed_all(events)
    names = {f.name for f in dataclasses.fields(TraceRecord)}
    record = TraceRecord(**{f.name: getattr(parts, f.name) for f in dataclasses.fields(parts)
                            if f.name in names})
    return record, builder


def test_captures_carry_mode_padding_and_memory_held():
    record, builder = _record(_events_of_a_full_and_piecewise_run())
    by_id = {(c.submod, c.size, c.mode): c for c in record.captures}
    piece = by_id[("submod_0", 8, "PIECEWISE")]
    assert (piece.replays, piece.tokens, piece.padded_tokens) == (3, 17, 7)
    assert piece.held_bytes == 1 << 20
    assert piece.extra["warmup_seconds"] == 0.2
    assert piece.extra["capture_seconds"] == 0.3
    assert "held_bytes" not in piece.extra
    full = by_id[(WHOLE_MODEL, 2, "FULL")]
    assert (full.replays, full.tokens, full.padded_tokens, full.held_bytes) == (5, 10, 0, 2 << 20)
    assert record.cudagraph_fallbacks == [CudaGraphFallback(
        graph_id=full.graph_id, submod=WHOLE_MODEL, mode="FULL", reason="above_largest_size",
        calls=2, tokens=19)]
    assert builder.run_extra()["cudagraphs"] == {
        "cudagraph_mode": "FULL_AND_PIECEWISE", "capture_sizes": [1, 2, 4, 8], "full_sizes": [1, 2]}


def test_the_last_cumulative_report_wins():
    events = _events_of_a_full_and_piecewise_run()
    later = json.loads(events[-1].payload or "")
    later["rows"][0].update(replays=4, tokens=20, padded_tokens=12)
    later["fallbacks"][0].update(calls=3, tokens=30)
    record, _ = _record([*events, _event(4.0, _events.REPLAYS, later)])
    piece = next(c for c in record.captures if c.submod == "submod_0")
    assert (piece.replays, piece.tokens, piece.padded_tokens) == (4, 20, 12)
    assert [(f.calls, f.tokens) for f in record.cudagraph_fallbacks] == [(3, 30)]


def test_rows_without_tokens_and_old_counts_leave_padding_unknown():
    g = "pw0"
    record, _ = _record([
        _event(1.0, _events.GRAPH, {"graph_key": g}),
        _event(2.0, _events.CAPTURE, {"graph_key": g, "submod": "submod_0", "size": 4}),
        _event(2.1, _events.CAPTURE, {"graph_key": g, "submod": WHOLE_MODEL, "size": 8,
                                      "mode": "FULL"}),
        _event(3.0, _events.REPLAYS, {"graph_key": g, "counts": {"submod_0|4": 6}, "rows": [
            {"submod": WHOLE_MODEL, "size": 8, "mode": "FULL", "uniform": False,
             "replays": 2}]}),
    ])
    got = {c.submod: (c.replays, c.tokens, c.padded_tokens) for c in record.captures}
    assert got == {"submod_0": (6, 0, 0), WHOLE_MODEL: (2, 0, 0)}
    assert record.cudagraph_fallbacks == []


def test_new_fields_round_trip_and_older_traces_load():
    record, _ = _record(_events_of_a_full_and_piecewise_run())
    text = trace_to_json(record)
    again = trace_from_json(text)
    assert again.captures == record.captures
    assert again.cudagraph_fallbacks == record.cudagraph_fallbacks
    assert trace_to_json(again) == text
    old = json.loads(text)
    del old["cudagraph_fallbacks"]
    for capture in old["captures"]:
        for name in ("tokens", "padded_tokens", "held_bytes"):
            del capture[name]
    loaded = trace_from_json(json.dumps(old))
    assert loaded.cudagraph_fallbacks == []
    assert {(c.tokens, c.held_bytes) for c in loaded.captures} == {(0, 0)}


def test_bad_fallback_fields_are_one_clear_error():
    record, _ = _record(_events_of_a_full_and_piecewise_run())
    body = json.loads(trace_to_json(record))
    body["cudagraph_fallbacks"][0]["calls"] = "two"
    with pytest.raises(TraceFormatError, match=r"cudagraph_fallbacks\[0\]\.calls: expected a 64-bit"):
        trace_from_json(json.dumps(body))
    body["cudagraph_fallbacks"][0] = {"graph_id": "g0", "submod": "x"}
    with pytest.raises(TraceFormatError, match="CudaGraphFallback"):
        trace_from_json(json.dumps(body))
