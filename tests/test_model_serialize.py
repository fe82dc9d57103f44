"""The trace model round-trips through JSON and rejects bad files with clear errors."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import compile_lens
from compile_lens.errors import TraceFormatError
from compile_lens.model import (
    DynamoGraph,
    GraphNode,
    Piece,
    PieceCompile,
    RunInfo,
    TraceRecord,
    read_trace,
    trace_from_json,
    trace_to_json,
)


def _record() -> TraceRecord:
    return TraceRecord(
        run=RunInfo(torch_version="2.13.0", tracer_overhead_s=0.5, notes=["a note"]),
        graphs=[DynamoGraph(id="g0", compile_id="0/0", nodes=[
            GraphNode(name="x", op="placeholder", shape="[s0, 64]", dtype="float32",
                      dynamic_dims=[0])])],
        pieces=[Piece(graph_id="g0", submod="submod_0", index=0, compiled_index=0)],
        compiles=[PieceCompile(graph_id="g0", submod="submod_0", legacy_key="ak",
                               standalone_key="ak", key_match=True, seconds=1.5)],
        key_lines={"ak": ["[abc] gm: code"]},
    )


def test_round_trip_is_exact_and_deterministic(tmp_path):
    record = _record()
    text = trace_to_json(record)
    assert trace_from_json(text) == record
    assert trace_to_json(trace_from_json(text)) == text, "re-saving must give the same bytes"
    path = compile_lens.Trace(record).save(tmp_path / "t.json")
    assert compile_lens.load(path).record == record


def test_unknown_fields_survive_a_load_save_cycle():
    body = json.loads(trace_to_json(_record()))
    body["future_top_level"] = {"x": 1}
    body["pieces"][0]["future_field"] = "kept"
    record = trace_from_json(json.dumps(body))
    again = json.loads(trace_to_json(record))
    assert again["future_top_level"] == {"x": 1}
    assert again["pieces"][0]["future_field"] == "kept"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"\x00\xff\xfe binary junk", "binary"),
        (b'{"format": "compile_lens.trace", "schema_version": 1, "graphs": [', "truncated"),
        (b'{"hello": 1}', "not a compile_lens trace"),
        (b'{"format": "compile_lens.trace", "schema_version": 99}', "upgrade"),
        (b'{"format": "compile_lens.trace", "schema_version": "one"}', "schema_version"),
        (b'{"format": "compile_lens.trace", "schema_version": 1, "graphs": {}}', "expected a list"),
    ],
)
def test_bad_files_give_clear_errors(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(TraceFormatError, match=message) as info:
        read_trace(path)
    assert str(path) in str(info.value), "the error must name the file"


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(TraceFormatError, match="no such trace file"):
        read_trace(tmp_path / "absent.json")
    with pytest.raises(TraceFormatError, match="is a directory"):
        read_trace(tmp_path)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_loader_never_crashes_on_junk(junk):
    with contextlib.suppress(TraceFormatError):  # anything else fails the test
        trace_from_json(junk)


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=0, max_value=len(trace_to_json(_record())) - 1))
def test_any_truncation_is_a_clear_error(cut):
    with pytest.raises(TraceFormatError):
        trace_from_json(trace_to_json(_record())[:cut])
