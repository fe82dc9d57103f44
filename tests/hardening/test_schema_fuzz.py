"""A trace that loads always renders: every field fuzzed with wrong-typed values (issue 9, item 11).

Each field of a small trace is replaced with values of the wrong type (and a few hostile values of
the right type). Loading must then either raise ``TraceFormatError`` or give a trace whose
summary, report, DataFrames, cross-check, diff, explorer-free display and re-save all work.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from _synthetic import load_synthetic
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import compile_lens
from compile_lens.errors import TraceFormatError
from compile_lens.model import trace_from_json, trace_to_json
from compile_lens.views import tables
from compile_lens.views.report import render

WRONG = [None, True, 0, -1, 2**70, 1.5, "x", "", [], ["x"], {}, {"x": 1}]


def _base() -> dict[str, Any]:
    record = load_synthetic().synthetic_trace(layers=1, sizes=2, passes=2, capture_sizes=1,
                                              mismatch=True)
    return json.loads(trace_to_json(record))


BASE = _base()


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every field of the JSON (first element of each list, first keys of each map: the rest
    share their types)."""
    out: list[tuple[Any, ...]] = [prefix] if prefix else []
    if isinstance(value, dict):
        keys = sorted(value)
        for key in keys if len(keys) <= 20 else keys[:5]:  # 120 config options: one type
            if key != "format":
                out += _paths(value[key], (*prefix, key))
    elif isinstance(value, list) and value:
        out += _paths(value[0], (*prefix, 0))
    return out


PATHS = [p for p in _paths(BASE) if p != ("schema_version",)]


def _set(path: tuple[Any, ...], new: Any) -> dict[str, Any]:
    data = json.loads(json.dumps(BASE))
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = new
    return data


def _exercise(text: str) -> None:
    try:
        record = trace_from_json(text)
    except TraceFormatError:
        return
    trace = compile_lens.Trace(record)
    str(trace.summary())
    str(trace.cross_check())
    trace.cross_check().to_dataframe()
    for frame in (tables.pieces_frame, tables.passes_frame, tables.lowerings_frame,
                  tables.captures_frame, tables.nodes_frame, tables.graphs_frame):
        frame(record)
    render(record, use_dot=False)
    trace._repr_mimebundle_()
    str(compile_lens.diff(record, record))
    again = trace_from_json(trace_to_json(record, redact=False))
    assert again == record, "a loaded trace re-saves intact"


def test_field_paths_cover_the_model() -> None:
    assert len(PATHS) > 150, "the sweep reaches every record type"


@pytest.mark.parametrize("path", PATHS, ids=lambda p: ".".join(map(str, p)))
def test_every_field_with_every_wrong_type(path: tuple[Any, ...]) -> None:
    for value in WRONG:
        _exercise(json.dumps(_set(path, value)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(PATHS),
    st.one_of(
        st.text(max_size=8),
        st.integers(min_value=-(2**80), max_value=2**80),
        st.floats(allow_nan=False),
        st.booleans(),
        st.none(),
        st.lists(st.one_of(st.integers(), st.text(max_size=3)), max_size=3),
        st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    ),
)
def test_random_values_in_random_fields(path: tuple[Any, ...], value: Any) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        return
    _exercise(json.dumps(_set(path, value)))


@pytest.mark.parametrize("version", ["true", "1.0", '"1"', "null", "0", "-3"])
def test_schema_version_must_be_a_positive_integer(version: str) -> None:
    text = '{"format": "compile_lens.trace", "schema_version": ' + version + "}"
    with pytest.raises(TraceFormatError, match=r"schema_version|schema version"):
        trace_from_json(text)
