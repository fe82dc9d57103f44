"""Turn raw structured-trace events into the trace model: the only writer of ``TraceRecord`` parts.

Events are replayed in time order. Compile events from the embedded backend or the vLLM
observers (``artifact:compile_lens_*``, see ``compile_lens._events``) open and close a *piece
scope*; torch's own events in between (pass timings, output code, AOT/FX cache artifacts) are
attributed to that piece. Outside any scope (plain ``torch.compile``) they belong to the graph's
single ``<graph>`` piece, keyed by compile id.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from compile_lens import _events
from compile_lens.model import (
    CACHE_HIT,
    COMPILED,
    GENERAL_SIZE,
    WHOLE_GRAPH,
    CudaGraphCapture,
    CudaGraphFallback,
    DynamoGraph,
    GraphNode,
    Lowering,
    PassTiming,
    Piece,
    PieceCompile,
    Span,
)
from compile_lens.model.causes import CacheDecision, FrameCompile
from compile_lens.model.events import FAILED
from compile_lens.model.serialize import from_dict
from compile_lens.record import (
    causes,
    gpu_lowering,
    graph_text,
    lowering,
    timing,
    vllm_artifacts,
)
from compile_lens.record.names import TORCH_KNOWN_UNUSED, VLLM_OBSERVER_EVENTS
from compile_lens.record.raw import RawEvent
from compile_lens.record.stats import Malformed, ParseStats, json_body
from compile_lens.record.vllm_account import VllmAccount

Where = tuple[str, str, str]  # (graph_id, submod, size)
Handler = Callable[["TraceBuilder", RawEvent], None]


@dataclass
class _Graph:
    id: str
    compile_id: str
    process: str
    fields: dict[str, Any] = field(default_factory=dict)
    nodes: list[dict[str, Any]] = field(default_factory=list)
    pieces: list[dict[str, Any]] = field(default_factory=list)
    split: bool = False
    vllm_submods: list[str] = field(default_factory=list)
    dynamo_print: RawEvent | None = None
    """Dynamo's ``dynamo_output_graph`` record: its text becomes the node table at ``finish``
    if no producer sent one (the embedded backend and vLLM's observers send theirs)."""


@dataclass
class _Plain:
    """What the stream says about a graph compiled without a piece scope (plain torch.compile)."""

    legacy_key: str | None = None
    predicted_key: str | None = None
    key_seconds: float = 0.0
    cache_state: str = ""
    fx_keys: list[str] = field(default_factory=list)
    seconds: float = 0.0
    start_s: float | None = None
    code_seen: bool = False
    fail: str = ""


@dataclass
class Parts:
    """Everything the recorder builds; the session adds run info, factors and counters."""

    graphs: list[DynamoGraph] = field(default_factory=list)
    pieces: list[Piece] = field(default_factory=list)
    compiles: list[PieceCompile] = field(default_factory=list)
    passes: list[PassTiming] = field(default_factory=list)
    lowerings: list[Lowering] = field(default_factory=list)
    captures: list[CudaGraphCapture] = field(default_factory=list)
    cudagraph_fallbacks: list[CudaGraphFallback] = field(default_factory=list)
    spans: list[Span] = field(default_factory=list)
    key_lines: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    frame_compiles: list[FrameCompile] = field(default_factory=list)
    cache_decisions: list[CacheDecision] = field(default_factory=list)


class TraceBuilder(VllmAccount):
    """Consumes ``RawEvent``s (any order of processes; replayed sorted by time) into ``Parts``."""

    def __init__(self, t0: float, handlers: dict[str, Handler] | None = None) -> None:
        self.t0 = t0
        self.handlers = HANDLERS if handlers is None else handlers
        self.stats = ParseStats()
        self._graphs: dict[tuple[str, str], _Graph] = {}
        self._by_graph_key: dict[tuple[str, str], _Graph] = {}
        self._scopes: dict[tuple[str, int], tuple[Where, float]] = {}
        self._plain: dict[str, _Plain] = {}
        self._graph_count: dict[str, int] = {}
        self._all_graphs: list[_Graph] = []
        self._ended: set[tuple[str, str]] = set()
        self._current: dict[str, _Graph] = {}
        self._passes: dict[tuple[Where, str], list[float]] = {}
        self._pairers: dict[str, timing.Pairer] = {}
        self._fx_keys: dict[Where, list[str]] = {}
        self._cache_state: dict[Where, str] = {}
        self._captures: dict[_CaptureId, dict[str, Any]] = {}
        self._replays: dict[_CaptureId, tuple[int, int | None, int | None]] = {}
        self._fallbacks: dict[tuple[str, str, str, str], tuple[int, int]] = {}
        self.cudagraphs: dict[str, Any] = {}
        self._kernel_info: dict[Where, dict[str, dict[str, Any]]] = {}
        self._aot_keys: dict[Where, str] = {}
        self._vllm_scopes: dict[tuple[str, int], tuple[Where, float]] = {}
        self._vllm_compiles: list[PieceCompile] = []
        self.vllm_account: dict[str, dict[str, Any]] = {}
        self.torch_version = ""
        self.collectives: dict[str, list[list[str]]] = {}
        self.tensor_meta: dict[str, dict[str, str]] = {}
        """Per process and compile id, a digest of Inductor's ``inductor_runtime_and_tensor_meta``
        (ops, shapes, estimated runtimes): tlparse's tensor-metadata fingerprint."""
        """Per process, the collective ops of each compiled graph in order (Inductor's
        ``inductor_collective_schedule``): ranks whose sequences differ can hang."""
        self.cache_sequence: dict[str, str] = {}
        """Per process, the cache answers in stream order (``H`` hit, ``M`` miss, ``B`` bypass; Inductor
        FX graph and AOTAutograd layers alike): what tlparse compares across ranks."""
        self.parts = Parts()

    # -- identity ---------------------------------------------------------------------------
    def _graph(self, process: str, compile_id: str) -> _Graph:
        key = (process, compile_id)
        if key not in self._graphs:
            n = self._graph_count.get(process, 0)
            self._graph_count[process] = n + 1
            gid = f"{process}:g{n}" if process else f"g{n}"
            self._graphs[key] = _Graph(id=gid, compile_id=compile_id, process=process)
            self._all_graphs.append(self._graphs[key])
        if compile_id and not compile_id.startswith("?"):
            self._current[process] = self._graphs[key]
        return self._graphs[key]

    def _on_dynamo_start(self, event: RawEvent) -> None:
        """A frame compile begins: a compile id whose compile already ended is a new graph
        (``torch._dynamo.reset()`` restarts the numbering)."""
        key = (event.process, event.compile_id)
        if event.compile_id and key in self._ended:
            self._ended.discard(key)
            self._graphs.pop(key, None)

    def _graph_for_key(self, event: RawEvent, graph_key: str) -> _Graph:
        found = self._by_graph_key.get((event.process, graph_key))
        if found is None:
            found = self._graph(event.process, event.compile_id or f"?{graph_key}")
            self._by_graph_key[(event.process, graph_key)] = found
        return found

    def _where(self, event: RawEvent) -> Where | None:
        """The piece an event belongs to: the open piece scope, else its graph; ``None`` if neither."""
        scope = self._scopes.get((event.process, event.thread)) or self._vllm_scopes.get(
            (event.process, event.thread))
        if scope is not None:
            return scope[0]
        if not event.compile_id:
            return None
        return (self._graph(event.process, event.compile_id).id, WHOLE_GRAPH, GENERAL_SIZE)

    # -- replay -----------------------------------------------------------------------------
    def feed_all(self, events: Iterable[RawEvent]) -> Parts:
        """Replay ``events`` in time order and return the finished parts."""
        for event in sorted(events, key=lambda e: e.t):
            self.feed(event)
        return self.finish()

    def feed(self, event: RawEvent) -> None:
        """Dispatch one event through ``HANDLERS``; count what is unknown or cannot be read."""
        self.stats.events += 1
        handler = self.handlers.get(event.name)
        if handler is None:
            self.stats.unknown[event.name] = self.stats.unknown.get(event.name, 0) + 1
            return
        self.stats.handled[event.name] = self.stats.handled.get(event.name, 0) + 1
        try:
            handler(self, event)
        except (Malformed, ValueError, TypeError, KeyError, AttributeError) as exc:
            self.stats.malformed_event(event, exc)

    def _cl_graph(self, event: RawEvent, body: dict[str, Any]) -> None:
        g = self._graph_for_key(event, str(body.get("graph_key", "")))
        g.fields.update({k: body[k] for k in ("backend", "name", "prefix", "split_ops") if k in body})
        if body.get("code"):
            g.fields["code"] = body["code"]
        if body.get("nodes"):
            g.nodes = list(body["nodes"])

    def _cl_split(self, event: RawEvent, body: dict[str, Any]) -> None:
        g = self._graph_for_key(event, str(body.get("graph_key", "")))
        g.pieces = list(body.get("pieces") or [])
        g.split = True

    def _cl_piece_start(self, event: RawEvent, body: dict[str, Any]) -> None:
        g = self._graph_for_key(event, str(body.get("graph_key", "")))
        where = (g.id, str(body.get("submod", "")), str(body.get("size", GENERAL_SIZE)))
        self._scopes[(event.process, event.thread)] = (where, event.t)

    def _cl_piece_end(self, event: RawEvent, body: dict[str, Any]) -> None:
        g = self._graph_for_key(event, str(body.get("graph_key", "")))
        where = (g.id, str(body.get("submod", "")), str(body.get("size", GENERAL_SIZE)))
        scope = self._scopes.pop((event.process, event.thread), None)
        start = scope[1] if scope else event.t - float(body.get("seconds") or 0.0)
        legacy, standalone = body.get("legacy_key"), body.get("standalone_key")
        self.parts.compiles.append(PieceCompile(
            graph_id=where[0], submod=where[1], size=where[2],
            outcome=str(body.get("outcome", COMPILED)), legacy_key=legacy,
            standalone_key=standalone,
            key_match=(legacy == standalone) if legacy and standalone else None,
            dedup_of=body.get("dedup_of"), seconds=float(body.get("seconds") or 0.0),
            key_seconds=float(body.get("key_seconds") or 0.0),
            start_s=start - self.t0, compile_id=g.compile_id,
            artifact_path=body.get("artifact_path"), fx_keys=self._fx_keys.pop(where, []),
            cache_state=self._cache_state.pop(where, ""), note=str(body.get("note") or ""),
            extra={k: v for k, v in body.items() if k not in _PIECE_END_FIELDS},
        ))
        category = {"deduplicated": "dedup", "loaded": "load"}.get(str(body.get("outcome")), "compile")
        self.parts.spans.append(Span(
            name=f"{where[1]} [{where[2]}]", category=category, start_s=start - self.t0,
            end_s=event.t - self.t0, graph_id=where[0], submod=where[1], size=where[2],
            process=event.process))

    def _cl_plain_key(self, event: RawEvent, body: dict[str, Any]) -> None:
        where = self._where(event)
        if where is None or not body.get("key"):
            return
        plain = self._plain.setdefault(where[0], _Plain())
        plain.predicted_key = str(body["key"])
        plain.key_seconds = float(body.get("seconds") or 0.0)
        if isinstance(body.get("lines"), list) and body["lines"]:
            self.parts.key_lines.setdefault(plain.predicted_key, [str(x) for x in body["lines"]])

    def _cl_key_lines(self, event: RawEvent, body: dict[str, Any]) -> None:
        key, lines = body.get("key"), body.get("lines")
        if key and isinstance(lines, list):
            self.parts.key_lines.setdefault(str(key), [str(x) for x in lines])

    def _cl_capture(self, event: RawEvent, body: dict[str, Any]) -> None:
        g = self._graph_for_key(event, str(body.get("graph_key", "")))
        size = int(body.get("size", 0))
        ident = _capture_id(g.id, body)
        self._captures[ident] = body
        seconds = float(body.get("seconds") or 0.0)
        mode = f" {ident[3]}" if ident[3] else ""
        self.parts.spans.append(Span(
            name=f"capture{mode} {ident[1]} [{size}]", category="capture",
            start_s=event.t - seconds - self.t0, end_s=event.t - self.t0, graph_id=g.id,
            submod=ident[1], size=str(size), process=event.process))

    def _cl_replays(self, event: RawEvent, body: dict[str, Any]) -> None:
        """Cumulative replay counts of one graph (the last report of a process wins).

        Counts for a graph this stream never introduced are not turned into a graph: they
        belong to an earlier ``trace()`` block of the same process.
        """
        g = self._by_graph_key.get((event.process, str(body.get("graph_key", ""))))
        if g is None:
            return
        for row in body.get("rows") or []:
            if isinstance(row, dict):
                self._replays[_capture_id(g.id, row)] = (
                    int(row.get("replays") or 0), _opt_int(row.get("tokens")),
                    _opt_int(row.get("padded_tokens")))
        for label, count in (body.get("counts") or {}).items():  # traces before modes
            submod, _, size = str(label).partition("|")
            self._replays[(g.id, submod, int(size or 0), "", False)] = (int(count), None, None)
        for row in body.get("fallbacks") or []:
            if isinstance(row, dict):
                ident = (g.id, str(row.get("submod", "")), str(row.get("mode") or ""),
                         str(row.get("reason") or ""))
                self._fallbacks[ident] = (int(row.get("calls") or 0), int(row.get("tokens") or 0))

    def _cl_cudagraphs(self, event: RawEvent, body: dict[str, Any]) -> None:
        """The embedded backend's CUDA-graph settings (the last graph compiled wins)."""
        self.cudagraphs = {
            "cudagraph_mode": str(body.get("cudagraph_mode", "")),
            "capture_sizes": [int(x) for x in body.get("capture_sizes") or []],
            "full_sizes": [int(x) for x in body.get("full_sizes") or []]}

    def _cl_key_scope(self, event: RawEvent, body: dict[str, Any]) -> None:
        """A piece × size's up-front key alone: its torch events belong to it, no compile row."""
        g = self._graph_for_key(event, str(body.get("graph_key", "")))
        where = (g.id, str(body.get("submod", "")), str(body.get("size", GENERAL_SIZE)))
        if body.get("open"):
            self._scopes[(event.process, event.thread)] = (where, event.t)
        else:
            scope = self._scopes.get((event.process, event.thread))
            if scope is not None and scope[0] == where:
                del self._scopes[(event.process, event.thread)]

    def _cl_worker_compile(self, event: RawEvent, body: dict[str, Any]) -> None:
        """A piece compiled in a worker process: a span on the piece's timeline row."""
        g = self._graph_for_key(event, str(body.get("graph_key", "")))
        submod, size = str(body.get("submod", "")), str(body.get("size", GENERAL_SIZE))
        start, end = float(body["start"]), float(body["end"])
        pid = body.get("pid")
        status = "" if body.get("ok", True) else " (failed)"
        self.parts.spans.append(Span(
            name=f"{submod} [{size}] compiled in worker process {pid}{status}",
            category="worker", start_s=start - self.t0, end_s=max(end, start) - self.t0,
            graph_id=g.id, submod=submod, size=size, process=event.process,
            extra={k: body[k] for k in ("pid", "key", "note") if body.get(k)}))

    def _cl_autotune(self, event: RawEvent, body: dict[str, Any]) -> None:
        where = self._where(event)
        if where is not None:
            self.parts.lowerings.append(gpu_lowering.autotune_row(where, body, event.compile_id))

    def _on_fx_cache(self, event: RawEvent) -> None:
        self._cache_answer(event)
        body = json_body(event)
        where = self._where(event)
        if body.get("key") and where is not None:
            self._fx_keys.setdefault(where, []).append(str(body["key"]))

    def _on_dynamo_graph(self, event: RawEvent) -> None:
        if not event.compile_id:
            msg = "a Dynamo graph without a compile id"
            raise Malformed(msg)
        g = self._graph(event.process, event.compile_id)
        g.fields.setdefault("code", event.payload or "")
        if event.origin:  # a log's line: torch_trace.payload_at reads any record again from it
            g.fields.setdefault("origin", event.origin)
        if g.dynamo_print is None:
            g.dynamo_print = event  # parsed at finish, only if no graph event brings nodes

    def _parse_dynamo_prints(self) -> None:
        """Node tables from Dynamo's print for the graphs no producer described (plain
        ``torch.compile``). Deferred from ``_on_dynamo_graph``: Dynamo prints before the backend
        runs, and the embedded backend's graph event (later in the stream) replaces the table."""
        for g in self._all_graphs:
            if not g.nodes and g.dynamo_print is not None:
                try:
                    g.nodes = graph_text.parse_readable_graph(g.dynamo_print.payload or "")
                except (Malformed, ValueError, TypeError, KeyError, AttributeError) as exc:
                    self.stats.malformed_event(g.dynamo_print, exc)

    def _on_torch_version(self, event: RawEvent) -> None:
        """``torch_version`` (TORCH_TRACE writes it first): the version of the run, for imports."""
        self.torch_version = self.torch_version or str(json_body(event).get("pytorch_version", ""))

    def _on_collective_schedule(self, event: RawEvent) -> None:
        ops = event.json_payload()
        if not isinstance(ops, list):
            msg = "inductor_collective_schedule is not a JSON list"
            raise Malformed(msg)
        self.collectives.setdefault(event.process, []).append([str(op) for op in ops])

    def _on_tensor_meta(self, event: RawEvent) -> None:
        body = event.json_payload()
        if body is None:
            msg = "inductor_runtime_and_tensor_meta is not JSON"
            raise Malformed(msg)
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
        digest = hashlib.sha256(canonical.encode()).hexdigest()[:16]
        self.tensor_meta.setdefault(event.process, {})[event.compile_id] = digest

    def _cache_answer(self, event: RawEvent) -> None:
        letter = {"hit": "H", "miss": "M", "bypass": "B"}[event.name.rsplit("_", 1)[-1]]
        self.cache_sequence[event.process] = self.cache_sequence.get(event.process, "") + letter

    def _on_kernel_info(self, event: RawEvent) -> None:
        where = self._where(event)
        if where is not None:
            info = gpu_lowering.kernel_info(event.json_payload())
            self._kernel_info.setdefault(where, {}).update(info)

    def _cl_note(self, event: RawEvent, body: dict[str, Any]) -> None:
        message = str(body.get("message", ""))
        if message and message not in self.parts.notes:
            self.parts.notes.append(message)

    # -- torch's own events -----------------------------------------------------------------
    def _on_chromium(self, event: RawEvent) -> None:
        body = json_body(event)
        done = self._pairers.setdefault(event.process, timing.Pairer()).feed(event.thread, body)
        if done is None:
            return
        name, start, seconds = done
        if name == "entire_frame_compile":
            # The interval's end carries the attempt that finished (``[1/0_1]``); its ``args`` the
            # id it began with (``[1/0]``, the attempt Dynamo restarted after a graph break).
            cid = str(event.compile_id or (body.get("args") or {}).get("compile_id") or "")
            g = self._graph(event.process, cid)
            self.parts.spans.append(Span(
                name=f"[{cid}] Dynamo frame compile", category="dynamo",
                start_s=start - self.t0, end_s=start + seconds - self.t0, graph_id=g.id,
                process=event.process))
            plain = self._plain.setdefault(g.id, _Plain())
            plain.start_s = start - self.t0
            return
        if timing.classify(name) is None:
            # Not a timing we keep. Ask for no graph: ``_where`` makes one for the event's compile
            # id, and Dynamo's intervals of an attempt it restarted after a graph break
            # (``compile_attempt_0`` of ``[1/0]``, retried as ``[1/0_1]``) would each be a phantom
            # 0-node graph.
            return
        where = self._where(event)
        if where is not None:
            self._passes.setdefault((where, name), []).append(seconds)

    def _on_output_code(self, event: RawEvent) -> None:
        where = self._where(event)
        if where is None:
            return
        if where[1] == WHOLE_GRAPH:
            self._plain.setdefault(where[0], _Plain()).code_seen = True
        for row in lowering.parse_output_code(event.payload or ""):
            self.parts.lowerings.append(Lowering(
                graph_id=where[0], submod=where[1], size=where[2], kind=row["kind"],
                name=row["name"], ops=row["ops"], nodes=row["nodes"],
                compile_id=event.compile_id))

    def _on_aot_cache(self, event: RawEvent) -> None:
        state = event.name.rsplit("_", 1)[-1]
        self._cache_answer(event)
        body = json_body(event)
        where = self._where(event)
        if where is None:
            return
        self._cache_state[where] = state
        key, lines = body.get("key"), body.get("components")
        if key:
            self._aot_keys[where] = str(key)
        if key and isinstance(lines, list) and lines:
            self.parts.key_lines.setdefault(str(key), [str(x) for x in lines])
        if where[1] == WHOLE_GRAPH:
            plain = self._plain.setdefault(where[0], _Plain())
            plain.legacy_key = str(key) if key else None
            plain.cache_state = state

    def _on_metrics(self, event: RawEvent) -> None:
        if not event.compile_id:
            return  # metrics of no compile (torch emits none today): nothing to attach them to
        metrics = event.metadata.get("compilation_metrics") or {}
        if not isinstance(metrics, dict):
            msg = "compilation_metrics is not an object"
            raise Malformed(msg)
        self._close_vllm_scope(event)
        g = self._graph(event.process, event.compile_id)
        if metrics.get("co_name"):
            g.fields.setdefault("name", str(metrics["co_name"]))
        plain = self._plain.setdefault(g.id, _Plain())
        plain.seconds = _backend_seconds(metrics)
        if metrics.get("fail_type"):
            plain.fail = f"{metrics['fail_type']}: {metrics.get('fail_reason') or ''}".strip()
        self._ended.add((event.process, event.compile_id))

    # -- finish -----------------------------------------------------------------------------
    def run_extra(self) -> dict[str, Any]:
        """What goes into ``RunInfo.extra``: the parse counts and vLLM's own account, if any."""
        extra: dict[str, Any] = {"parser": self.stats.to_dict()}
        if self.vllm_account:
            extra["vllm_account"] = self.vllm_account
        if self.cudagraphs:
            extra["cudagraphs"] = self.cudagraphs
        if self.cache_sequence:
            extra["cache_sequence"] = dict(sorted(self.cache_sequence.items()))
        if self.collectives:
            extra["collective_schedule"] = dict(sorted(self.collectives.items()))
        if self.tensor_meta:
            extra["tensor_meta"] = dict(sorted(self.tensor_meta.items()))
        return extra

    def finish(self) -> Parts:
        """Build the model records from what was fed."""
        self._parse_dynamo_prints()
        for process, thread in list(self._vllm_scopes):
            self._close_vllm_scope(RawEvent(t=self._vllm_scopes[(process, thread)][1], name="",
                                            metadata={}, payload=None, thread=thread,
                                            process=process))
        observed = {g.process for g in self._all_graphs if g.split}
        for g in self._all_graphs:
            if self._seen_twice(g, observed):
                continue
            self._finish_graph(g)
        for (where, name), secs in sorted(self._passes.items()):
            self.parts.passes.append(PassTiming(
                graph_id=where[0], submod=where[1], size=where[2], name=name,
                phase=timing.classify(name) or "", seconds=round(sum(secs), 9), count=len(secs)))
        for ident, body in self._captures.items():
            # vLLM's rows and older traces do not know the real tokens: 0 and 0 (unknown)
            replays, tokens, padded = self._replays.get(ident, (0, None, None))
            self.parts.captures.append(CudaGraphCapture(
                graph_id=ident[0], submod=ident[1], size=ident[2], mode=ident[3],
                seconds=float(body.get("seconds") or 0.0),
                memory_bytes=int(body.get("memory_bytes") or 0),
                replays=replays, tokens=tokens or 0,
                padded_tokens=padded if padded is not None else (
                    replays * ident[2] - tokens if tokens is not None else 0),
                held_bytes=int(body.get("held_bytes") or 0),
                extra={k: v for k, v in body.items() if k not in _CAPTURE_FIELDS}))
        for (graph_id, submod, mode, reason), (calls, tokens) in sorted(self._fallbacks.items()):
            self.parts.cudagraph_fallbacks.append(CudaGraphFallback(
                graph_id=graph_id, submod=submod, mode=mode, reason=reason, calls=calls,
                tokens=tokens))
        self.parts.lowerings = gpu_lowering.attach_kernel_info(self.parts.lowerings,
                                                               self._kernel_info)
        self.parts.frame_compiles, self.parts.cache_decisions = causes.finish(self)
        return self.parts

    def _finish_graph(self, g: _Graph) -> None:
        self.parts.graphs.append(DynamoGraph(
            id=g.id, compile_id=g.compile_id, process=g.process,
            name=str(g.fields.get("name", "")), backend=str(g.fields.get("backend", "")),
            code=str(g.fields.get("code", "")), prefix=str(g.fields.get("prefix", "")),
            split_ops=list(g.fields.get("split_ops") or []),
            nodes=[from_dict(GraphNode, n, f"{g.id}.nodes") for n in g.nodes],
            extra={"origin": g.fields["origin"]} if "origin" in g.fields else {},
        ))
        if g.split:
            for row in g.pieces:
                self.parts.pieces.append(from_dict(Piece, {**row, "graph_id": g.id}, g.id))
            return
        vllm_compiles = [c for c in self._vllm_compiles if c.graph_id == g.id]
        if g.vllm_submods or vllm_compiles:
            # the wrappers reported this graph's compiles but not its split (a hook failed open):
            # vLLM's account is the same compiles told twice, kept once, from the wrappers
            ours = any(c.graph_id == g.id for c in self.parts.compiles)
            self._finish_vllm_graph(g, [] if ours else vllm_compiles)
            return
        plain = self._plain.get(g.id)
        has_code = any(low.graph_id == g.id for low in self.parts.lowerings)
        self.parts.pieces.append(Piece(
            graph_id=g.id, submod=WHOLE_GRAPH, index=0, compiled_index=0,
            num_nodes=sum(1 for n in g.nodes if n.get("op") not in ("placeholder", "output")),
            code=str(g.fields.get("code", ""))))
        if plain is not None and (plain.legacy_key or has_code or plain.code_seen
                                  or plain.cache_state or plain.fail):
            where = (g.id, WHOLE_GRAPH, GENERAL_SIZE)
            outcome = FAILED if plain.fail else CACHE_HIT if plain.cache_state == "hit" else COMPILED
            self.parts.compiles.append(PieceCompile(
                graph_id=g.id, submod=WHOLE_GRAPH, size=GENERAL_SIZE, outcome=outcome,
                note=plain.fail,
                legacy_key=plain.legacy_key, standalone_key=plain.predicted_key,
                key_match=(plain.legacy_key == plain.predicted_key)
                if plain.legacy_key and plain.predicted_key else None,
                key_seconds=plain.key_seconds, seconds=plain.seconds, start_s=plain.start_s,
                compile_id=g.compile_id, fx_keys=self._fx_keys.pop(where, []),
                cache_state=plain.cache_state))



_CAPTURE_FIELDS = {"graph_key", "submod", "size", "seconds", "memory_bytes", "mode", "held_bytes"}
_CaptureId = tuple[str, str, int, str, bool]
"""``(graph_id, submod, size, mode, uniform)``: one CUDA graph (vLLM's FULL mode captures uniform
decode batches and mixed batches of one size as two graphs)."""


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _capture_id(graph_id: str, body: dict[str, Any]) -> _CaptureId:
    return (graph_id, str(body.get("submod", "")), int(body.get("size", 0) or 0),
            str(body.get("mode") or ""), bool(body.get("uniform", False)))
_PIECE_END_FIELDS = {
    "graph_key", "submod", "size", "outcome", "legacy_key", "standalone_key", "dedup_of",
    "seconds", "key_seconds", "artifact_path", "note",
}


def _backend_seconds(metrics: dict[str, Any]) -> float:
    """The backend compile's seconds: torch >= 2.6 names them; older logs have microseconds."""
    if isinstance(seconds := metrics.get("backend_compile_time_s"), int | float):
        return float(seconds)
    for name in ("aot_autograd_cumulative_compile_time_us", "inductor_cumulative_compile_time_us"):
        if isinstance(micros := metrics.get(name), int | float):
            return micros / 1e6
    return 0.0


def _cl(method: Callable[[TraceBuilder, RawEvent, dict[str, Any]], None]) -> Handler:
    """A ``compile_lens_*`` handler: the payload is a JSON object (``Malformed`` otherwise)."""
    def handler(builder: TraceBuilder, event: RawEvent) -> None:
        method(builder, event, json_body(event))
    return handler


def known_unused(builder: TraceBuilder, event: RawEvent) -> None:
    """Records torch writes that no view uses yet: known (not counted as unknown), not parsed."""



HANDLERS: dict[str, Handler] = {
    # torch: Dynamo, AOT and Inductor (the envelope names tlparse reads)
    "dynamo_start": TraceBuilder._on_dynamo_start,
    "dynamo_output_graph": TraceBuilder._on_dynamo_graph,
    "compilation_metrics": TraceBuilder._on_metrics,
    "chromium_event": TraceBuilder._on_chromium,
    "inductor_output_code": TraceBuilder._on_output_code,
    "artifact:triton_kernel_info": TraceBuilder._on_kernel_info,
    "artifact:torch_version": TraceBuilder._on_torch_version,
    "artifact:inductor_collective_schedule": TraceBuilder._on_collective_schedule,
    "artifact:inductor_runtime_and_tensor_meta": TraceBuilder._on_tensor_meta,
    **{f"artifact:fx_graph_cache_{s}": TraceBuilder._on_fx_cache for s in ("hit", "miss", "bypass")},
    **{f"artifact:aotautograd_cache_{s}": TraceBuilder._on_aot_cache
       for s in ("hit", "miss", "bypass")},
    # compile_lens: the events of compile_lens._events (embedded backend, vLLM wrappers)
    **{_events.artifact_name(name): _cl(getattr(TraceBuilder, f"_cl_{name}"))
       for name in _events.SHARED_EVENTS},
    # compile_lens: the vLLM observers' records, read by record/vllm_observer.collect
    **{_events.artifact_name(name): known_unused for name in VLLM_OBSERVER_EVENTS},
    # vLLM's own artifacts (its TORCH_TRACE/tlparse support)
    **vllm_artifacts.HANDLERS,
    # torch records kept for later rules (guards, shapes, AOT graphs …): known, not parsed yet
    **{name: known_unused for name in TORCH_KNOWN_UNUSED},
}
"""Event name → handler. A new rule is one entry (``HANDLERS[name] = fn``, ``fn(builder, event)``);
names not listed are counted in ``run.extra["parser"]["unknown"]``."""
HANDLERS.update(causes.register(HANDLERS))  # why things compiled: record/causes.py
