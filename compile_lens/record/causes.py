"""Parser rules for *why* things compiled: Dynamo frame compiles and cache-layer decisions.

Stage 2 (record), torch-free. Reads torch's own structured-trace records, in stream order:

* ``artifact:recompile_reasons`` (``guards.get_and_maybe_log_recompilation_reasons``): the guard
  failures that made Dynamo compile a frame again; a string for one cache entry, a JSON list for
  several. Logged *before* the frame's ``dynamo_start``.
* ``dynamo_start``: a frame compile begins (attempt 0), or restarts (attempt > 0).
* ``artifact:dynamo_graph_break_reason``: a graph break, with the user line and torch's reason.
* ``compilation_metrics``: the frame compile ended: ``cache_size`` (entries the frame already
  had), ``recompile_reason``, ``restart_reasons``, ``fail_type``/``fail_reason`` (a recompile
  limit hit fails with ``Unsupported``), ``entire_frame_compile_time_s``.
* ``artifact:aotautograd_cache_{hit,miss,bypass}`` and ``artifact:fx_graph_cache_{hit,miss,
  bypass}``: each cache layer's answer with its key and ``cache_bypass_reason``.

Frame compiles are keyed by process and compile id without the attempt (``0/0_1`` is a restart of
``0/0``); a compile id seen again after its ``compilation_metrics`` (``torch._dynamo.reset()``
restarts the numbering) opens a new record. Output: ``FrameCompile`` and ``CacheDecision``.

``register(handlers)`` adds these rules to the parser's ``{name: handler}`` table (chained after
a handler already there for the same name, e.g. ``compilation_metrics``); ``finish(builder)``
returns the records. The rules keep their state on the builder they run for.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from compile_lens.model.causes import AOTAUTOGRAD, FX_GRAPH, CacheDecision, FrameCompile
from compile_lens.record.raw import RawEvent

Where = tuple[str, str, str]
WhereFn = Callable[[RawEvent], "Where | None"]
GraphIdFn = Callable[[str, str], str]

CACHE_LAYERS = {"artifact:aotautograd_cache_": AOTAUTOGRAD, "artifact:fx_graph_cache_": FX_GRAPH}
CACHE_STATES = ("hit", "miss", "bypass")
_CODE_FIELDS = ("co_name", "co_filename", "co_firstlineno")
_DECISION_EXTRA = ("cache_status_detailed", "cache_bypass_exception_type",
                   "cache_bypass_hard_exception", "time_saved_ns", "time_taken_ns")


def base_id(compile_id: str) -> str:
    """``"0/1_2"`` → ``"0/1"`` (the frame compile, whatever the restart attempt)."""
    return compile_id.split("_", 1)[0]


def reasons_of(payload: str | None) -> list[str]:
    """The guard-failure reasons of a ``recompile_reasons`` payload (a string or a JSON list)."""
    if not payload:
        return []
    text = payload.strip()
    if text.startswith("["):
        try:
            value = json.loads(text)
        except ValueError:
            return [payload]
        if isinstance(value, list):
            return [str(v) for v in value]
    return [payload]


@dataclass
class _Open:
    """A frame compile between its first event and its ``compilation_metrics``."""

    compile_id: str
    process: str
    last_id: str
    reasons: list[str] = field(default_factory=list)
    breaks: list[str] = field(default_factory=list)
    attempts: int = 0


class CauseRules:
    """Handlers for the records above; ``finish`` returns the model records.

    Args:
        t0: trace start (wall clock), so times are seconds since the trace started.
        where: the piece an event belongs to (the parser's open piece scope, else the plain
            graph of its compile id), or ``None``.
        graph_id: the trace's graph id for ``(process, compile_id)``, ``""`` when there is none.
    """

    def __init__(self, t0: float, where: WhereFn, graph_id: GraphIdFn) -> None:
        self.t0 = t0
        self._where = where
        self._graph_id = graph_id
        self._open: dict[tuple[str, str], _Open] = {}
        self._done: list[FrameCompile] = []
        self._code: dict[tuple[str, str], dict[str, Any]] = {}
        self.decisions: list[CacheDecision] = []
        self._table: dict[str, Callable[[RawEvent], None]] = {}

    def handlers(self) -> dict[str, Callable[[RawEvent], None]]:
        """``{event name: handler}`` for the parser's dispatch table."""
        if self._table:
            return self._table
        table: dict[str, Callable[[RawEvent], None]] = {
            "artifact:recompile_reasons": self.on_recompile_reasons,
            "dynamo_start": self.on_dynamo_start,
            "artifact:dynamo_graph_break_reason": self.on_graph_break,
            "compilation_metrics": self.on_metrics,
        }
        for prefix in CACHE_LAYERS:
            for state in CACHE_STATES:
                table[prefix + state] = self.on_cache
        self._table = table
        return table

    # -- frames -----------------------------------------------------------------------------
    def _frame(self, event: RawEvent) -> _Open | None:
        cid = event.compile_id
        if not cid:
            return None
        key = (event.process, base_id(cid))
        frame = self._open.get(key)
        if frame is None:
            frame = self._open[key] = _Open(compile_id=key[1], process=event.process, last_id=cid)
        frame.last_id = cid
        return frame

    def on_recompile_reasons(self, event: RawEvent) -> None:
        frame = self._frame(event)
        if frame is not None:
            frame.reasons = reasons_of(event.payload)

    def on_dynamo_start(self, event: RawEvent) -> None:
        frame = self._frame(event)
        if frame is not None:
            frame.attempts += 1

    def on_graph_break(self, event: RawEvent) -> None:
        frame = self._frame(event)
        if frame is not None and event.payload:
            frame.breaks.append(event.payload)

    def on_metrics(self, event: RawEvent) -> None:
        frame = self._frame(event)
        if frame is None:
            return
        del self._open[(frame.process, frame.compile_id)]
        m = dict(event.metadata.get("compilation_metrics") or {})
        # A failed compile (a recompile-limit hit) logs no code name: it is the frame's earlier one.
        code = (event.process, frame.compile_id.split("/")[0])
        if m.get("co_name"):
            self._code[code] = {k: m.get(k) for k in _CODE_FIELDS}
        else:
            m.update(self._code.get(code, {}))
        # The graph is looked up now: after ``torch._dynamo.reset()`` the id names another one.
        record = _frame_record(frame, m, self.t0)
        self._done.append(_with_graph(record, self._graph_id(frame.process, frame.last_id)))

    # -- caches -----------------------------------------------------------------------------
    def on_cache(self, event: RawEvent) -> None:
        prefix, state = event.name.rsplit("_", 1)
        layer = CACHE_LAYERS.get(prefix + "_")
        if layer is None:
            return
        body = event.json_payload()
        body = body if isinstance(body, dict) else {}
        where = self._where(event) or ("", "", "")
        key = body.get("key")
        self.decisions.append(CacheDecision(
            layer=layer, state=state, key=str(key) if key else None,
            reason=str(body.get("cache_bypass_reason") or ""), graph_id=where[0],
            submod=where[1], size=where[2], compile_id=event.compile_id, process=event.process,
            t_s=round(event.t - self.t0, 6),
            extra={k: body[k] for k in _DECISION_EXTRA if body.get(k) is not None}))

    # -- finish -----------------------------------------------------------------------------
    def finish(self) -> tuple[list[FrameCompile], list[CacheDecision]]:
        """The frame compiles (ended ones, then any the stream cut short) and cache decisions."""
        frames = list(self._done)
        for frame in self._open.values():
            record = _frame_record(frame, {}, self.t0)
            frames.append(_with_graph(FrameCompile(**{**record.__dict__, "complete": False}),
                                      self._graph_id(frame.process, frame.last_id)))
        return frames, list(self.decisions)


Handler = Callable[[Any, RawEvent], None]


def rules_of(builder: Any) -> CauseRules:
    """The ``CauseRules`` of a ``TraceBuilder`` (made on first use, kept on the builder)."""
    found = getattr(builder, "_cause_rules", None)
    if found is None:
        graphs = builder._graphs

        def graph_id(process: str, compile_id: str) -> str:
            g = graphs.get((process, compile_id))
            return g.id if g is not None else ""

        found = CauseRules(builder.t0, builder._where, graph_id)
        builder._cause_rules = found
    return found


def _rule(name: str) -> Handler:
    def handler(builder: Any, event: RawEvent) -> None:
        rules_of(builder).handlers()[name](event)
    return handler


def _chain(first: Handler, second: Handler) -> Handler:
    def handler(builder: Any, event: RawEvent) -> None:
        try:
            first(builder, event)
        finally:
            second(builder, event)
    return handler


def register(handlers: dict[str, Handler]) -> dict[str, Handler]:
    """A copy of the parser's table with these rules added (after any handler of the same name)."""
    out = dict(handlers)
    for name in CauseRules(0.0, lambda e: None, lambda p, c: "").handlers():
        mine = _rule(name)
        out[name] = _chain(out[name], mine) if name in out else mine
    return out


def finish(builder: Any) -> tuple[list[FrameCompile], list[CacheDecision]]:
    """The frame compiles and cache decisions the rules collected for ``builder``."""
    found = getattr(builder, "_cause_rules", None)
    return found.finish() if found is not None else ([], [])


def _with_graph(frame: FrameCompile, graph_id: str) -> FrameCompile:
    return frame if not graph_id else FrameCompile(**{**frame.__dict__, "graph_id": graph_id})


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _frame_record(frame: _Open, m: dict[str, Any], t0: float) -> FrameCompile:
    reasons = list(frame.reasons)
    if not reasons and m.get("recompile_reason"):
        reasons = [str(m["recompile_reason"])]
    start = m.get("start_time")
    return FrameCompile(
        compile_id=frame.compile_id, process=frame.process, name=str(m.get("co_name") or ""),
        filename=str(m.get("co_filename") or ""), lineno=_int(m.get("co_firstlineno")),
        start_s=round(float(start) - t0, 6) if isinstance(start, int | float) else None,
        seconds=float(m.get("entire_frame_compile_time_s") or 0.0),
        recompile_reasons=reasons, cache_size=_int(m.get("cache_size")),
        accumulated_cache_size=_int(m.get("accumulated_cache_size")),
        graph_breaks=list(frame.breaks),
        restart_reasons=[str(r) for r in m.get("restart_reasons") or []],
        fail_type=str(m.get("fail_type") or ""), fail_reason=str(m.get("fail_reason") or ""),
        has_guarded_code=m.get("has_guarded_code") if isinstance(
            m.get("has_guarded_code"), bool) else None,
        attempts=max(frame.attempts, 1),
    )
