"""The parser's rule table, replayed on recorded event streams of real compiles (no Inductor).

Golden inputs: tests/fixtures/events/*.jsonl (see its README for the command that made them).
Unknown and malformed records are counted, never dropped silently.
"""

from __future__ import annotations

import dataclasses
import json
import sys

from compile_lens.model import TraceRecord
from compile_lens.model.serialize import trace_from_json, trace_to_json
from compile_lens.record import names, recorder
from compile_lens.record.raw import RawEvent, read_jsonl
from compile_lens.record.recorder import HANDLERS, TraceBuilder

from .conftest import EVENTS


def _replay(name: str, handlers=None) -> TraceBuilder:
    events, complete = read_jsonl(EVENTS / name, "")
    assert complete
    builder = TraceBuilder(min(e.t for e in events), handlers=handlers)
    builder.feed_all(events)
    return builder


def test_plain_compile_miss_then_hit():
    b = _replay("plain.jsonl")
    compiles = b.parts.compiles
    assert [(c.graph_id, c.outcome, c.cache_state) for c in compiles] == [
        ("g0", "compiled", "miss"), ("g1", "cache_hit", "hit")]
    assert compiles[0].legacy_key == compiles[1].legacy_key, "the warm run looked up the same key"
    assert [g.compile_id for g in b.parts.graphs] == ["0/0", "0/0"], "reset() reuses 0/0"
    assert b.run_extra()["cache_sequence"] == {"": "MMHH"}
    assert b.stats.unknown == {} and b.stats.malformed_count == 0
    assert any(low.graph_id == "g0" for low in b.parts.lowerings), "output code was read"
    assert any(p.phase for p in b.parts.passes), "pass timings were paired"


def test_piecewise_pieces_keys_and_outcomes():
    b = _replay("piecewise.jsonl")
    pieces = [(p.submod, p.compiled_index, p.is_split_op) for p in b.parts.pieces]
    assert pieces == [("submod_0", 0, False), ("submod_1", None, True), ("submod_2", 1, False),
                      ("submod_3", None, True), ("submod_4", 2, False)]
    compiles = b.parts.compiles
    assert [(c.submod, c.size, c.outcome) for c in compiles] == [
        (s, size, "compiled") for s in ("submod_0", "submod_2", "submod_4")
        for size in ("general", "4")]
    assert all(c.legacy_key and c.legacy_key == c.standalone_key for c in compiles)
    assert all(c.fx_keys for c in compiles), "Inductor's FX keys attach to their piece"
    assert b.stats.unknown == {} and b.stats.malformed_count == 0


def test_unknown_and_malformed_records_are_counted_with_position():
    events, _ = read_jsonl(EVENTS / "plain.jsonl", "")
    extra = [
        RawEvent(t=events[-1].t + 1, name="artifact:from_a_newer_torch", metadata={}, payload="{}"),
        RawEvent(t=events[-1].t + 2, name="artifact:compile_lens_piece_end", metadata={},
                 payload="{not json"),
        RawEvent(t=events[-1].t + 3, name="artifact:fx_graph_cache_hit", metadata={},
                 payload=None, origin="rank3.log:77"),
    ]
    builder = TraceBuilder(events[0].t)
    builder.feed_all([*events, *extra])
    stats = builder.stats.to_dict()
    assert stats["unknown"] == {"artifact:from_a_newer_torch": 1}
    assert stats["malformed_count"] == 2
    assert stats["malformed"] == [
        {"name": "artifact:compile_lens_piece_end", "at": f"event {len(events) + 2}",
         "error": "Malformed: payload is not a JSON object"},
        {"name": "artifact:fx_graph_cache_hit", "at": "rank3.log:77",
         "error": "Malformed: payload is missing"},
    ]
    assert len(builder.parts.compiles) == 2, "the good events still made their records"


def test_parser_counts_round_trip_through_a_saved_trace():
    b = _replay("plain.jsonl")
    b.stats.unknown["artifact:new"] = 3
    from compile_lens.model import RunInfo

    record = TraceRecord(run=RunInfo(extra=b.run_extra()), compiles=b.parts.compiles)
    back = trace_from_json(trace_to_json(record))
    assert back.run.extra["parser"] == json.loads(json.dumps(b.stats.to_dict()))
    assert back.run.extra["parser"]["unknown"] == {"artifact:new": 3}


def test_a_new_rule_is_one_table_entry():
    seen = []
    table = {**HANDLERS, "artifact:fx_graph_cache_miss": lambda b, e: seen.append(e.compile_id)}
    b = _replay("plain.jsonl", handlers=table)
    assert seen == ["0/0"], "the cold run's one FX graph cache miss"
    assert b.stats.handled["artifact:fx_graph_cache_miss"] == 1
    assert b.parts.compiles[0].fx_keys == [], "the replaced rule, not the default, ran"


def test_every_recorded_name_is_known():
    """Everything torch 2.13 and compile_lens wrote in these runs has a rule or is listed."""
    for name in ("plain.jsonl", "piecewise.jsonl"):
        events, _ = read_jsonl(EVENTS / name, "")
        assert {e.name for e in events} <= set(HANDLERS), name


def test_vllm_observer_event_list_matches_its_collector():
    from compile_lens.record import vllm_observer as records

    assert tuple(names.VLLM_OBSERVER_EVENTS) == tuple(records.EVENTS)


def test_parser_loads_without_torch(monkeypatch):
    for mod in [m for m in sys.modules if m.startswith("compile_lens.record")]:
        monkeypatch.delitem(sys.modules, mod)
    monkeypatch.setitem(sys.modules, "torch", None)
    import compile_lens.record.recorder as fresh
    from compile_lens.record import importer  # noqa: F401

    events, _ = read_jsonl(EVENTS / "piecewise.jsonl", "")
    builder = fresh.TraceBuilder(events[0].t)
    assert len(builder.feed_all(events).compiles) == 6
    assert dataclasses.is_dataclass(recorder.Parts)
