"""The typed event contract (``compile_lens._events``): producers, parser and schemas agree.

* every ``compile_lens_*`` payload a real producer sends fits its ``TypedDict`` (required keys,
  no undeclared key, ``Outcome`` values): the embedded backend in a real Inductor compile (one
  small piecewise compile, with one piece whose compile raises, so ``failed`` is sent too), the
  committed event stream of a real piecewise run, and the vLLM observers' events in the committed
  real vLLM 0.32 log;
* the parser's ``HANDLERS`` table has a rule for every declared name, and every
  ``compile_lens_*`` rule names a declared event;
* every ``emit`` in the source names a declared event (a typo would otherwise be dropped
  silently on the vLLM path, whose ``emit`` never raises).
"""

from __future__ import annotations

import ast
import json
import warnings
from pathlib import Path

import pytest

from compile_lens import _events
from compile_lens._events import EVENT_NAMES, SCHEMAS, Outcome
from compile_lens.model.events import OUTCOMES
from compile_lens.record import torch_trace
from compile_lens.record.raw import RawEvent
from compile_lens.record.recorder import HANDLERS

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures"
_ARTIFACT = f"artifact:{_events.PREFIX}"


def _ours(events: list[RawEvent]) -> list[tuple[str, object]]:
    return [(e.name.removeprefix(_ARTIFACT), json.loads(e.payload or "null"))
            for e in events if e.name.startswith(_ARTIFACT)]


def _problems(events: list[tuple[str, object]]) -> list[str]:
    return [p for name, body in events for p in _events.validate(name, body)]


# -- the contract itself ----------------------------------------------------------------------
def test_every_declared_event_has_a_schema_and_outcomes_match_the_model():
    assert set(SCHEMAS) == set(EVENT_NAMES)
    assert len(set(EVENT_NAMES)) == len(EVENT_NAMES)
    assert {o.value for o in Outcome} == set(OUTCOMES)
    assert Outcome.FAILED == "failed"
    assert json.dumps({"outcome": Outcome.CACHE_HIT}) == '{"outcome": "cache_hit"}'


def test_validate_names_what_is_wrong():
    assert _events.validate("piece_end", {"graph_key": "g", "submod": "s", "size": "4",
                                          "outcome": "compiled"}) == []
    assert _events.validate("piece_end", {"graph_key": "g", "outcome": "exploded",
                                          "surprise": 1}) == [
        "piece_end: missing 'size'", "piece_end: missing 'submod'",
        "piece_end: undeclared 'surprise'", "piece_end: unknown outcome 'exploded'"]
    assert _events.validate("split", {"graph_key": "g", "pieces": [{"submod": "a"}]}) == [
        "split: piece row missing 'compiled_index'", "split: piece row missing 'index'",
        "split: piece row missing 'is_split_op'"]
    assert _events.validate("nonsense", {}) == ["unknown event 'nonsense'"]
    assert _events.validate("note", ["a"]) == ["note: payload is list, not an object"]


def test_piece_end_builder_refuses_undeclared_fields_and_unknown_outcomes():
    scope = _events.where("g", "submod_0", "general")
    body = _events.piece_end(scope, Outcome.FAILED, 0.5, note="raised")
    assert body == {"graph_key": "g", "submod": "submod_0", "size": "general",
                    "outcome": "failed", "seconds": 0.5, "note": "raised"}
    assert type(body["outcome"]) is str  # the JSON value, not the enum
    with pytest.raises(TypeError, match="undeclared fields"):
        _events.piece_end(scope, "compiled", 0.0, legacy_kye="typo")
    with pytest.raises(ValueError, match="exploded"):
        _events.piece_end(scope, "exploded", 0.0)


def test_emit_refuses_an_undeclared_event():
    with pytest.raises(ValueError, match="undeclared event 'piece_ended'"):
        _events.emit("piece_ended", {})


# -- the parser covers the contract -----------------------------------------------------------
def test_parser_table_covers_every_declared_event():
    missing = [n for n in EVENT_NAMES if _events.artifact_name(n) not in HANDLERS]
    assert missing == []
    ours = {k.removeprefix(_ARTIFACT) for k in HANDLERS if k.startswith(_ARTIFACT)}
    assert ours == set(EVENT_NAMES)


def _emitted_names() -> list[tuple[str, str]]:
    """``(file:line, event)`` of every ``emit(NAME, …)`` / ``GUARD.run(…, emit, NAME, …)``."""
    found = []
    for path in sorted((ROOT / "compile_lens").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            args = list(node.args)
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name != "emit":
                pos = next((i for i, a in enumerate(args)
                            if isinstance(a, ast.Name) and a.id == "emit"), None)
                if pos is None:
                    continue
                args = args[pos:]
            if not args:
                continue
            first = args[0]
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.append((where, first.value))
            elif isinstance(first, ast.Attribute) and isinstance(first.value, ast.Name) \
                    and first.value.id == "_events":
                found.append((where, getattr(_events, first.attr, f"<no _events.{first.attr}>")))
    return found


def test_every_emit_in_the_source_names_a_declared_event():
    emitted = _emitted_names()
    # the scan sees the producers (backend, CUDA graphs, vLLM wrappers, fail-open guard)
    assert {"piece_end", "capture", "replays", "vllm_cudagraphs", "issue"} <= {
        n for _, n in emitted}
    assert [(w, n) for w, n in emitted if n not in SCHEMAS] == []


# -- real producers ---------------------------------------------------------------------------
def test_committed_real_piecewise_stream_fits_the_contract():
    path = FIXTURES / "events" / "piecewise.jsonl"
    events = [RawEvent(**{k: v for k, v in json.loads(line).items()
                          if k in ("t", "name", "metadata", "payload", "thread")})
              for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    ours = _ours(events)
    assert {n for n, _ in ours} >= {"graph", "split", "piece_start", "piece_end"}
    assert _problems(ours) == []


def test_real_vllm_observer_events_fit_the_contract():
    """vLLM 0.32 on CPU, compile_lens' wrappers installed (the committed real log)."""
    path = FIXTURES / "torch_trace" / "vllm_toy.log.gz"
    info = torch_trace.FileInfo(path=path, name=path.name)
    events = list(torch_trace.read_events(path, info, "", lambda n: n.startswith(_ARTIFACT)))
    ours = _ours(events)
    names = {n for n, _ in ours}
    assert {"graph", "split", "piece_start", "piece_end", "vllm_hooks", "vllm_pass"} <= names
    assert _problems(ours) == []


@pytest.mark.inductor
def test_embedded_backend_events_fit_the_contract_including_failed(tmp_path):
    """One real piecewise compile (1 layer): every payload validates; a piece whose compile
    raises sends ``piece_end(outcome="failed")``, which validates too."""
    import torch
    from _runs import inductor_cache

    import compile_lens
    from compile_lens import demo_model
    from compile_lens.backend.piecewise import PiecewiseBackend
    from compile_lens.instrument.structured_log import StructuredTraceHandler, attach, detach
    from compile_lens.record.raw import ListSink

    class FailSecondPiece(PiecewiseBackend):
        seen = 0

        def _compile_artifact(self, gm, args, dynamic_shapes):
            FailSecondPiece.seen += 1
            if FailSecondPiece.seen == 2:
                msg = "boom in the second piece"
                raise RuntimeError(msg)
            return super()._compile_artifact(gm, args, dynamic_shapes)

    sink = ListSink()
    handler = StructuredTraceHandler(sink)
    attach(handler)
    try:
        with inductor_cache(tmp_path / "inductor"):
            torch._dynamo.reset()
            model = demo_model.build(layers=1)
            backend = FailSecondPiece(compile_sizes=[4], use_artifact_cache=False)
            compiled = torch.compile(model, backend=backend)
            with torch.no_grad(), compile_lens.trace(strict=True), \
                    pytest.raises(Exception, match="boom in the second piece"):
                compiled(*demo_model.example_inputs(8))
    finally:
        detach(handler)
        torch._dynamo.reset()
    ours = _ours(sink.events)
    names = [n for n, _ in ours]
    assert {"graph", "split", "piece_start", "piece_end", "key_lines"} <= set(names)
    outcomes = [b["outcome"] for n, b in ours if n == "piece_end"]  # type: ignore[index]
    assert "failed" in outcomes and "compiled" in outcomes
    assert names.count("piece_start") == names.count("piece_end")
    assert _problems(ours) == []


def _capture_stream() -> tuple[object, object]:
    from compile_lens.instrument.structured_log import StructuredTraceHandler, attach
    from compile_lens.record.raw import ListSink

    sink = ListSink()
    handler = StructuredTraceHandler(sink)
    attach(handler)
    return sink, handler


def test_vllm_capture_account_event_fits_the_contract():
    """vLLM's own "Graph capturing finished" log record, read by the real handler on vLLM's
    model-runner logger, becomes a ``vllm_cudagraphs`` event that fits its schema."""
    import logging

    from compile_lens.instrument.structured_log import detach
    from compile_lens.instrument.vllm import runtime

    sink, handler = _capture_stream()
    undo = runtime.install_capture_account()
    logger = logging.getLogger(runtime.CAPTURE_LOGGERS[0])
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        logger.info("Graph capturing finished in %.0f secs, took %.2f GiB", 3.25, 0.5)
    finally:
        logger.setLevel(level)
        undo()
        detach(handler)
    ours = _ours(sink.events)  # type: ignore[attr-defined]
    assert ours == [("vllm_cudagraphs", {"vllm_seconds": 3.25, "vllm_gib": 0.5,
                                         "vllm_message": ours[0][1]["vllm_message"]})]  # type: ignore[index]
    assert _problems(ours) == []


# -- one fail-open policy ---------------------------------------------------------------------
class Boom(Exception):
    pass


class Stop(BaseException):
    pass


def _fail(exc: BaseException) -> None:
    raise exc


@pytest.mark.parametrize("policy", ["IssueLog", "Guard"])
def test_one_fail_open_policy_records_warns_once_raises_when_strict(policy):
    from compile_lens.errors import InstrumentationError
    from compile_lens.instrument.issues import IssueLog
    from compile_lens.instrument.structured_log import detach
    from compile_lens.instrument.vllm._state import Guard

    log = IssueLog() if policy == "IssueLog" else Guard()
    assert isinstance(log, IssueLog)  # Guard is IssueLog's rules, not a second policy
    sink, handler = _capture_stream()
    try:
        with warnings.catch_warnings(record=True) as warned:
            warnings.simplefilter("always")
            assert log.run("h", _fail, Boom("one")) is None
            with log.guard("h"):
                _fail(Boom("two"))
        # warned once per (hook, exception type)
        assert [str(w.message).split(" (")[0] for w in warned] == [
            f"compile_lens: {log.warn_label} 'h' failed"]
        with pytest.raises(Stop):  # BaseException passes through
            log.run("h", _fail, Stop())
        with pytest.raises(Stop), log.guard("h"):
            raise Stop
    finally:
        detach(handler)
    [issue] = log.issues()
    assert (issue.hook, issue.error_type, issue.message, issue.count) == ("h", "Boom", "one", 2)
    events = _ours(sink.events)  # type: ignore[attr-defined]
    assert _problems(events) == []
    if policy == "Guard":  # the vLLM guard also reports on the stream (worker processes)
        assert [n for n, _ in events] == ["issue", "note", "issue"]
    else:
        assert events == []
    log.reset(strict=True)
    assert log.issues() == []
    with pytest.raises(InstrumentationError, match="'h' failed: Boom: three") as raised:
        log.run("h", _fail, Boom("three"))
    assert isinstance(raised.value.__cause__, Boom)
