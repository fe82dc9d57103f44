"""Build only what the trace reads (issue 12, ``instrument/payloads.py``).

While compile_lens is the only listener on ``torch.__trace``, torch does not build the records no
rule reads; any other listener (a user's handler, ``TORCH_TRACE``'s file) gets every record as
before; ``trace(payloads="all")`` builds everything; every binding of ``trace_structured`` is
restored. Real ``torch.compile`` with ``backend="eager"`` (fast); the Inductor comparison of what
the views read is in ``test_payloads_inductor.py``.
"""

from __future__ import annotations

import json
import logging
import sys
import types
import warnings

import pytest
import torch

import compile_lens
from compile_lens._torch import patching
from compile_lens.errors import InstrumentationError
from compile_lens.instrument import payloads, structured_log

TRACE_LOGGER = "torch.__trace"


class Collect(logging.Handler):
    """A user's own handler on the trace stream: keeps ``(name, payload)`` of every record."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[tuple[str, str | None]] = []

    def emit(self, record: logging.LogRecord) -> None:
        metadata = getattr(record, "metadata", {}) or {}
        name = next(iter(metadata), "")
        if name == "artifact":
            name = f"artifact:{metadata['artifact']['name']}"
        self.records.append((name, getattr(record, "payload", None)))

    def payloads(self, name: str) -> list[str | None]:
        return [p for n, p in self.records if n == name]


def _break(x: torch.Tensor) -> torch.Tensor:
    x = torch.relu(x) * 2
    torch._dynamo.graph_break()
    return x + 1


def _compile_eager() -> None:
    torch._dynamo.reset()
    torch.compile(_break, backend="eager")(torch.randn(4))


def _handled(t: compile_lens.Trace) -> dict[str, int]:
    return dict(t.record.run.extra["parser"]["handled"])


def _bindings() -> list[str]:
    """Modules where a compile_lens payload filter is still bound."""
    return [name for name, module in list(sys.modules.items())
            if isinstance(module, types.ModuleType)
            and hasattr(vars(module).get("trace_structured"), "__compile_lens_payload_filter__")]


def test_unread_records_are_not_built_and_read_ones_are():
    with compile_lens.trace(strict=True, factors=False, bytecode=False) as t:
        _compile_eager()
    not_built = t.record.run.extra["payloads_not_built"]
    assert not_built.get("dynamo_cpp_guards_str") == 2, "the guard dump of both graphs is skipped"
    assert "dynamo_cpp_guards_str" not in _handled(t)
    assert t.record.run.options["payloads"] == "read"
    # what the trace reads is there: the graphs' code and node tables, the break, the frames
    assert len(t.record.graphs) == 2
    assert all("relu" in g.code or "add" in g.code for g in t.record.graphs)
    assert all(g.nodes for g in t.record.graphs)
    assert any(f.graph_breaks for f in t.record.frame_compiles)
    assert t.record.run.overhead_breakdown["payload_filter"] >= 0.0


def test_all_builds_every_record():
    with compile_lens.trace(strict=True, factors=False, bytecode=False, payloads="all") as t:
        _compile_eager()
    assert "payloads_not_built" not in t.record.run.extra
    assert _handled(t)["dynamo_cpp_guards_str"] == 2
    assert t.record.run.options["payloads"] == "all"


def _shape(t: compile_lens.Trace) -> dict[str, object]:
    """What the views read of an eager trace, without the timings."""
    r = t.record
    return {
        "graphs": [(g.compile_id, g.name, g.code, [(n.name, n.op, n.target, n.extra)
                                                     for n in g.nodes]) for g in r.graphs],
        "spans": [(s.name, s.category, s.graph_id) for s in r.spans],
        "frames": [(f.compile_id, f.graph_breaks, f.recompile_reasons, f.restart_reasons, f.name,
                    f.graph_id) for f in r.frame_compiles],
        "pieces": [(p.graph_id, p.submod, p.num_nodes) for p in r.pieces],
        "unknown": r.run.extra["parser"]["unknown"],
    }


def test_read_and_all_record_the_same():
    shapes = []
    for mode in ("read", "all"):  # one call site: the graph break's user stack names it
        with compile_lens.trace(strict=True, factors=False, bytecode=False, payloads=mode) as t:
            _compile_eager()
        shapes.append(_shape(t))
    assert shapes[0] == shapes[1]


def test_policy_per_name_through_name_bound_imports():
    """Unknown name: sent without payload; known and unread: not sent at all (not even its
    metadata built); read: built. Called the way torch modules call it (a name bound at import)."""
    from torch._inductor import compile_fx  # binds ``trace_structured`` by name

    built: list[str] = []

    def build(what: str, value: object):  # type: ignore[no-untyped-def]
        def fn() -> object:
            built.append(what)
            return value
        return fn

    with compile_lens.trace(strict=True, factors=False, bytecode=False) as t:
        compile_fx.trace_structured(
            "artifact", metadata_fn=build("unknown.meta", {"name": "made_up", "encoding": "string"}),
            payload_fn=build("unknown.payload", "text"))
        compile_fx.trace_structured("dynamo_cpp_guards_str", metadata_fn=build("unused.meta", {}),
                                    payload_fn=build("unused.payload", "guards"))
        torch._logging._internal.trace_structured_artifact(
            "recompile_reasons", "string", payload_fn=build("read.payload", "['x']"))
    assert built == ["unknown.meta", "read.payload"]
    assert t.record.run.extra["parser"]["unknown"] == {"artifact:made_up": 1}
    assert t.record.run.extra["payloads_not_built"] == {
        "artifact:made_up": 1, "dynamo_cpp_guards_str": 1}


@pytest.mark.parametrize("attach", ["before", "during"])
def test_a_second_listener_gets_every_record(attach):
    user = Collect()
    logger = logging.getLogger(TRACE_LOGGER)
    if attach == "before":
        logger.addHandler(user)
    try:
        with compile_lens.trace(strict=True, factors=False, bytecode=False) as t:
            if attach == "during":
                logger.addHandler(user)
            _compile_eager()
    finally:
        logger.removeHandler(user)
    assert t.record.run.extra["payloads_not_built"] == {}
    guards = user.payloads("dynamo_cpp_guards_str")
    assert len(guards) == 2 and all(p and "GUARD_MANAGER" in p for p in guards)
    chromium = [p for p in user.payloads("chromium_event") if p]
    assert any('"dynamo"' in p for p in chromium), "intervals no rule reads reach it too"
    assert _handled(t)["dynamo_cpp_guards_str"] == 2


def test_torch_trace_file_gets_every_record(tmp_path):
    """A ``TORCH_TRACE`` log (torch's ``LazyTraceHandler`` with a directory) keeps everything."""
    from torch._logging._internal import LazyTraceHandler, TorchLogsFormatter

    handler = LazyTraceHandler(str(tmp_path))
    handler.setFormatter(TorchLogsFormatter(trace=True))  # as torch sets it up for TORCH_TRACE
    logger = logging.getLogger(TRACE_LOGGER)
    logger.addHandler(handler)
    try:
        with compile_lens.trace(strict=True, factors=False, bytecode=False) as t:
            _compile_eager()
    finally:
        logger.removeHandler(handler)
        handler.close()
    assert t.record.run.extra["payloads_not_built"] == {}
    (log,) = tmp_path.glob("*.log")
    text = log.read_text()
    assert text.count('{"dynamo_cpp_guards_str"') == 2 and "GUARD_MANAGER" in text
    # each line's prefix names torch's caller, as without compile_lens (not our wrapper)
    prefixes = [line.split("]")[0] for line in text.splitlines() if line.startswith("V")]
    assert prefixes and not [x for x in prefixes if "compile_lens" in x]
    assert any("output_graph.py:" in x for x in prefixes)


def test_only_a_writing_lazy_handler_counts_as_a_listener(monkeypatch):
    from torch._logging._internal import LazyTraceHandler

    monkeypatch.delenv("MAST_HPC_JOB_NAME", raising=False)
    logger = logging.getLogger(TRACE_LOGGER)
    idle = LazyTraceHandler(None)  # torch's import-time handler without TORCH_TRACE
    logger.addHandler(idle)
    try:
        assert not structured_log.others_listen()
        monkeypatch.setenv("TORCH_TRACE", "/tmp/somewhere")
        assert structured_log.others_listen()
    finally:
        logger.removeHandler(idle)


def test_every_binding_is_restored_also_of_modules_imported_in_the_block():
    original = patching.current(payloads.TARGET)
    late = types.ModuleType("compile_lens_test_late_module")
    with pytest.raises(ZeroDivisionError), \
            compile_lens.trace(strict=True, factors=False, bytecode=False):
        from torch._inductor import compile_fx

        assert hasattr(compile_fx.trace_structured, "__compile_lens_payload_filter__")
        sys.modules[late.__name__] = late
        exec("from torch._logging import trace_structured", vars(late))  # imported in the block
        assert hasattr(late.trace_structured, "__compile_lens_payload_filter__")
        1 / 0  # noqa: B018
    try:
        assert late.trace_structured is original
        assert compile_fx.trace_structured is original
        assert torch._logging.trace_structured is original
        assert not _bindings()
    finally:
        del sys.modules[late.__name__]


def test_a_failed_install_fails_open_or_raises_when_strict(monkeypatch):
    monkeypatch.setattr(payloads, "TARGET", "torch._logging._internal:no_such_function")
    with pytest.raises(InstrumentationError, match="no_such_function"), \
            compile_lens.trace(strict=True, factors=False, bytecode=False):
        pass
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with compile_lens.trace(factors=False, bytecode=False) as t:
            _compile_eager()
    assert any("payloads" in str(w.message) for w in seen)
    assert [i.hook for i in t.record.issues] == ["payloads"]
    assert len(t.record.graphs) == 2, "the trace goes on without the filter"


def test_a_bad_payloads_value_is_one_clear_error():
    with pytest.raises(ValueError, match=r"payloads must be one of 'read', 'all', not 'some'"), \
            compile_lens.trace(payloads="some"):  # type: ignore[arg-type]
        pass


def test_read_names_follow_the_parser_rules():
    from compile_lens.record.recorder import HANDLERS, known_unused

    read, unused = payloads.read_names()
    assert "dynamo_output_graph" in read and "inductor_output_code" in read
    assert "artifact:fx_graph_runnable" in unused and "aot_forward_graph" in unused
    assert "str" not in unused, "its metadata names the traced files"
    assert not read & unused
    assert all(HANDLERS[n] is known_unused for n in unused)
    assert payloads.chromium_read("entire_frame_compile")
    assert payloads.chromium_read("pass.post_grad_passes.x")
    assert not payloads.chromium_read("fx_graph_cache_miss")


def test_dict_payloads_reach_compile_lens_as_compact_json_and_others_as_torch_writes_them():
    event = {"name": "pass.post_grad_passes.demo", "ph": "B", "ts": 1.5, "args": {"k": {1, 2}}}
    user = Collect()
    logger = logging.getLogger(TRACE_LOGGER)
    sent = []
    for listener in (None, user):
        if listener is not None:
            logger.addHandler(listener)
        try:
            with compile_lens.trace(strict=True, factors=False, bytecode=False) as t:
                torch._logging.trace_structured("chromium_event", payload_fn=lambda: event,
                                                expect_trace_id=False)
        finally:
            logger.removeHandler(user)
        (ours,) = [e for e in t._recording.sink.events if e.name == "chromium_event"]
        sent.append(ours.payload)
    alone, with_user = sent
    assert "\n" not in alone and json.loads(alone) == {**event, "args": {"k": [1, 2]}}
    assert with_user == user.payloads("chromium_event")[0] and "\n" in with_user
    assert json.loads(with_user) == json.loads(alone)


def _read_intervals(listener: logging.Handler | None) -> tuple[compile_lens.Trace, list]:
    """The chromium intervals the trace reads of a real AOT compile with a graph break:
    ``(name, phase, metadata without the payload hash, payload keys)``, and whether each
    record's ``has_payload`` is the MD5 of its payload, as torch writes it."""
    import hashlib

    torch._dynamo.reset()
    logger = logging.getLogger(TRACE_LOGGER)
    if listener is not None:
        logger.addHandler(listener)
    try:
        with compile_lens.trace(strict=True, factors=False, bytecode=False) as t:
            torch.compile(_break, backend="aot_eager")(torch.ones(4))
    finally:
        if listener is not None:
            logger.removeHandler(listener)
    rows = []
    for e in t._recording.sink.events:
        if e.name != "chromium_event":
            continue
        body = json.loads(e.payload)
        if not payloads.chromium_read(body["name"]) or body["ph"] not in ("B", "E"):
            continue
        digest = hashlib.md5(e.payload.encode(), usedforsecurity=False).hexdigest()
        rows.append((body["name"], body["ph"],
                     {k: v for k, v in e.metadata.items() if k != "has_payload"},
                     sorted(body), e.metadata.get("has_payload") == digest))
    return t, rows


def test_read_intervals_skip_torchs_logging_with_the_record_torch_would_build():
    """Issue 12: while compile_lens alone listens, the chromium intervals it reads go straight
    into its sink; a second listener makes torch log every one. The records must be the same:
    the metadata (compile id per frame, the attempt Dynamo restarted after the break) comes from
    torch's own records here, not from our reading of torch's code."""
    alone, direct = _read_intervals(None)
    shared, logged = _read_intervals(Collect())
    assert alone._recording.payload_filter.delivered == len(direct) > 0
    assert shared._recording.payload_filter.delivered == 0
    assert {m.get("attempt") for _, _, m, _, _ in logged} == {0, 1}, "the break restarts a frame"
    assert direct == logged
    assert all(row[-1] for row in direct)
    # and the trace reads them as before: the frame compile spans of both frames
    assert [s.name for s in alone.record.spans if s.category == "dynamo"] == \
        [s.name for s in shared.record.spans if s.category == "dynamo"]


def test_the_trace_is_built_with_gc_paused_and_gc_left_as_it_was(monkeypatch):
    """Issue 12, warm starts: the full collection of the compile's objects that our first
    allocations after it set off is left to the code after the block (traced or not)."""
    import gc

    from compile_lens.instrument import factors as factor_dump

    seen: list[bool] = []
    original = factor_dump.collect_factors

    def spy(**kwargs):  # type: ignore[no-untyped-def]
        seen.append(gc.isenabled())
        return original(**kwargs)

    monkeypatch.setattr(factor_dump, "collect_factors", spy)
    try:
        for enabled in (True, False):
            (gc.enable if enabled else gc.disable)()
            with compile_lens.trace(strict=True, bytecode=False):
                assert gc.isenabled() is enabled, "the user's block runs as it would"
            assert gc.isenabled() is enabled
    finally:
        gc.enable()
    assert seen == [False, False]


class Boom(Exception):
    pass


def _boom() -> bool:
    msg = "policy broke"
    raise Boom(msg)


def test_a_broken_policy_fails_open_and_is_an_issue(monkeypatch):
    from compile_lens.instrument import session

    monkeypatch.setattr(session, "others_listen", _boom)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with compile_lens.trace(factors=False, bytecode=False) as t:
            _compile_eager()
    assert any("payloads" in str(w.message) for w in seen)
    (issue,) = t.record.issues
    assert issue.hook == "payloads" and issue.error_type == "Boom"
    assert len(t.record.graphs) == 2 and _handled(t)["dynamo_cpp_guards_str"] == 2, (
        "every call went to torch as it was made")
    with pytest.raises(InstrumentationError, match="policy broke"), \
            compile_lens.trace(strict=True, factors=False, bytecode=False):
        _compile_eager()


def test_a_failing_metadata_fn_fails_as_it_would_without_the_filter():
    from torch._inductor import compile_fx

    def metadata() -> dict[str, str]:
        msg = "torch's own"
        raise Boom(msg)

    with pytest.raises(Boom, match="torch's own"), \
            compile_lens.trace(strict=True, factors=False, bytecode=False) as t:
        compile_fx.trace_structured("artifact", metadata_fn=metadata, payload_fn=lambda: "x")
    assert t.record.issues == []
