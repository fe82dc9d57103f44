"""``compile_lens.trace()``: install the observers, record, restore everything, build the trace.

Order of work: claim the process's one session and install every observer, atomically
(``_session.claim``; each undo goes on one ``ExitStack``) → run the user's block → restore →
parse the recorded events into a ``TraceRecord`` (also after an exception in the block, so a
failed compile still leaves a partial trace) → release. A refused or failed entry (a nested or
concurrent block; a strict install failure) unwinds the same stack and leaves nothing behind.
Every step of our own is timed and reported as the tracer's overhead.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from compile_lens import _session
from compile_lens.instrument import autotune, hooks, plain_keys, runinfo
from compile_lens.instrument import payloads as payload_skip
from compile_lens.instrument.issues import IssueLog
from compile_lens.instrument.structured_log import StructuredTraceHandler, listening, others_listen
from compile_lens.model import DynamoGraph, ProcessInfo, RunInfo, TraceRecord
from compile_lens.record.merge import read_session_dir
from compile_lens.record.raw import ListSink, RawEvent
from compile_lens.record.recorder import TraceBuilder

SESSION_DIR_ENV = "COMPILE_LENS_SESSION_DIR"


class _ProgressSink(ListSink):
    """A list sink that also tells a progress display about finished pieces."""

    def __init__(self, progress: Any, t0: float) -> None:
        super().__init__()
        self.progress, self.t0, self.done = progress, t0, 0

    def add(self, event: RawEvent) -> None:
        super().add(event)
        if event.name == "artifact:compile_lens_piece_end":
            self.done += 1
            body = event.json_payload() or {}
            current = f"{body.get('submod', '')} [{body.get('size', '')}]"
            self.progress.update(self.done, 0, current, time.time() - self.t0)


@dataclass
class _Recording:
    """All state of one ``trace()`` block, in one place; nothing in it outlives the block except
    the ``record`` it parses on exit (no module globals: the next block starts from nothing).

    It is also the handle ``recording()`` yields: ``api.trace`` wraps it in a ``Trace``, which
    reads ``record`` once the block has exited (``None`` until then).
    """

    options: _session.SessionOptions
    progress: bool | str
    want_factors: bool
    want_bytecode: bool
    payloads: str = payload_skip.READ
    t0: float = field(default_factory=time.time)
    started: float = field(default_factory=time.perf_counter)
    issues: IssueLog = field(init=False)
    overhead: dict[str, float] = field(default_factory=dict)
    make_progress: Callable[[], Any] | None = None
    record: TraceRecord | None = None
    sink: ListSink = field(default_factory=ListSink)
    handler: StructuredTraceHandler | None = None
    payload_filter: payload_skip.PayloadFilter | None = None
    code_objects: list[tuple[str, Any]] = field(default_factory=list)
    session_dir: str = ""
    counters_before: dict[str, int] = field(default_factory=dict)
    entered: bool = False

    def __post_init__(self) -> None:
        self.issues = IssueLog(self.options.strict)

    def undo(self, hook: str, step: Callable[[], None]) -> None:
        """Run one undo step, timed as restore; a failure is an issue (raises when strict)."""
        with _timed(self.overhead, "restore"), self.issues.guard(hook):
            step()

    def finish(self) -> None:
        """Parse what was recorded into ``record`` (after every observer is restored)."""
        if not self.entered:
            return  # the install failed: there is no block to report on
        self.overhead["event_capture"] = self.handler.seconds if self.handler else 0.0
        if self.payload_filter is not None:
            self.overhead["payload_filter"] = self.payload_filter.seconds
        wall = time.perf_counter() - self.started
        options = {"cross_check": self.options.cross_check, "strict": self.options.strict,
                   "payloads": self.payloads}
        with _gc_deferred():
            record = _build(self.t0, wall, self.sink.events, self.session_dir,
                            self.code_objects, self.counters_before, options, self.overhead,
                            self.issues, self.want_factors)
        if self.payload_filter is not None:  # which payloads torch did not build, by name
            record.run.extra["payloads_not_built"] = dict(sorted(self.payload_filter.skipped.items()))
        self.record = record


@contextlib.contextmanager
def recording(
    *,
    cross_check: bool = False,
    strict: bool = False,
    progress: bool | str = "auto",
    factors: bool = True,
    bytecode: bool = True,
    payloads: str = payload_skip.READ,
    make_progress: Callable[[], Any] | None = None,
) -> Iterator[_Recording]:
    """Record every compile inside the block; the yielded handle's ``record`` is set on exit.

    ``compile_lens.trace()`` (``api.trace``) wraps the handle in a ``Trace``.

    One block at a time per process: a nested block, or one entered from another thread while a
    block is active, raises ``CompileLensError`` and changes nothing.

    Args:
        cross_check: compile every piece through the legacy path and compare both keys.
        strict: raise ``InstrumentationError`` when a hook fails (tests); default: record + warn.
        progress: show a live progress line in notebooks (``"auto"``), or not (``False``).
        factors: dump the cache-key factors of the process at the end (``compile_lens.factors``).
        bytecode: keep Dynamo's transformed bytecode and decompile it with depyf (if installed).
        payloads: ``"read"``: while compile_lens is the only listener, torch builds only the
            structured-trace payloads the trace reads (``instrument/payloads.py``); ``"all"``:
            every payload, as for any listener.
        make_progress: builds the live progress line in a notebook (a view, so the caller
            passes it in; ``None``: no progress line).
    """
    if payloads not in payload_skip.MODES:
        msg = (f"compile_lens: payloads must be one of "
               f"{', '.join(map(repr, payload_skip.MODES))}, not {payloads!r}")
        raise ValueError(msg)
    rec = _Recording(_session.SessionOptions(cross_check=cross_check, strict=strict),
                     progress=progress, want_factors=factors, want_bytecode=bytecode,
                     payloads=payloads, make_progress=make_progress)
    # One stack holds everything the block changes, in the order it is undone: deactivate,
    # restore every observer, close the progress line, build the trace, remove the session
    # directory, release the session. A refused or failed entry unwinds the same stack.
    with contextlib.ExitStack() as stack:
        with _timed(rec.overhead, "install"):
            _session.claim(stack, rec.options, lambda: _install(stack, rec))
        rec.entered = True
        try:
            yield rec
        finally:
            # Before restoring: the replay counts travel on the stream the handler still hears.
            with _timed(rec.overhead, "cudagraph_replays"), rec.issues.guard("cudagraph_replays"):
                _report_replays(rec.options)


def _install(stack: contextlib.ExitStack, rec: _Recording) -> None:
    """Install every observer, each undo pushed onto ``stack``; a failure is an issue (raises
    when strict, and ``stack`` then undoes what is already in place)."""
    rec.session_dir = tempfile.mkdtemp(prefix="compile_lens_session_")
    stack.callback(shutil.rmtree, rec.session_dir, ignore_errors=True)
    stack.callback(rec.finish)
    progress_view = _make_progress(rec.progress, rec.make_progress, rec.issues)
    if progress_view is not None:
        rec.sink = _ProgressSink(progress_view, rec.t0)
        stack.callback(rec.undo, "progress", progress_view.close)
    rec.handler = handler = StructuredTraceHandler(rec.sink)
    rec.counters_before = _counters()
    stack.callback(rec.undo, "restore", _set_env(SESSION_DIR_ENV, rec.session_dir))
    # Child processes (vLLM's EngineCore, workers) read the session's options from here.
    Path(rec.session_dir, "session.json").write_text(json.dumps(
        {"strict": rec.options.strict, "cross_check": rec.options.cross_check}), encoding="utf-8")
    issues = rec.issues
    steps: list[tuple[str, Callable[[], Callable[[], None]]]] = [
        ("structured_trace", lambda: hooks.install_trace_handler(handler)),
        ("aot_factor_lines", hooks.enable_aot_factor_lines),
        ("autotune", lambda: autotune.install(issues.record)),
    ]
    if rec.payloads == payload_skip.READ:
        rec.payload_filter = only_read = payload_skip.PayloadFilter(
            payload_skip.read_names(), others_listen, listening,
            on_error=lambda exc: issues.record("payloads", exc), deliver=handler.deliver)
        steps.append(("payloads", lambda: payload_skip.install(only_read)))
    if rec.want_bytecode:
        steps.append(("bytecode_hook", lambda: hooks.install_bytecode_hook(rec.code_objects)))
    if rec.options.cross_check:
        steps.append(("plain_key", lambda: plain_keys.install(issues.record)))
    if _vllm_present():
        steps.append(("vllm", lambda: _vllm_install(issues.strict)))
    for name, install in steps:
        try:
            undo = install()
        except Exception as exc:
            issues.record(name, exc)  # raises when strict
            continue
        stack.callback(rec.undo, "restore", undo)


def _report_replays(session: _session.SessionOptions) -> None:
    """Emit the replay counts of the CUDA graphs this block compiled (nothing without graphs)."""
    module = sys.modules.get("compile_lens.backend.cudagraphs")
    if module is not None:
        module.report_replays(session=session)


def _vllm_present() -> bool:
    """Whether vLLM is imported or importable. Its hooks never import vLLM: each goes in when
    vLLM imports its module (``instrument/vllm/lazy.py``), so a block that itself imports vLLM
    (``with trace(): from vllm import LLM``) is traced too. Only looks vLLM up, never imports it.
    """
    if sys.modules.get("vllm") is not None:
        return True
    import importlib.util

    try:
        return importlib.util.find_spec("vllm") is not None
    except (ImportError, ValueError):  # a broken or half-removed install: leave vLLM alone
        return False


def _vllm_install(strict: bool) -> Callable[[], None]:
    from compile_lens.instrument import vllm as vllm_instruments

    return vllm_instruments.install(strict=strict)


def _set_env(name: str, value: str) -> Callable[[], None]:
    previous = os.environ.get(name)
    os.environ[name] = value

    def undo() -> None:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous

    return undo


def _make_progress(progress: bool | str, make: Callable[[], Any] | None, issues: IssueLog) -> Any:
    if not progress or make is None or "ipykernel" not in sys.modules:
        return None  # nothing is shown outside notebooks
    with issues.guard("progress"):
        return make()
    return None


@contextlib.contextmanager
def _gc_deferred() -> Iterator[None]:
    """Run the block with Python's cyclic GC paused (as it was after: on if it was on).

    A compile leaves many objects behind, so the first allocations after it (ours: parsing,
    the factor dump) set off a full collection of them: 0.2-0.4 s of a 5-7 s warm start on
    CPU, counted as the tracer's own time though the objects are the compile's and an untraced
    run collects them at its next allocations too. Paused here, that collection happens there,
    in either case (issue 12).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextlib.contextmanager
def _timed(overhead: dict[str, float], part: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        overhead[part] = overhead.get(part, 0.0) + time.perf_counter() - start


def _counters() -> dict[str, int]:
    from torch._dynamo.utils import counters

    return {f"{group}.{name}": int(n) for group, names in counters.items()
            for name, n in names.items()}


def _build(t0: float, wall: float, events: list[RawEvent], session_dir: str,
           code_objects: list[tuple[str, Any]], counters_before: dict[str, int],
           options: dict[str, Any], overhead: dict[str, float], issues: IssueLog,
           want_factors: bool) -> TraceRecord:
    """Parse everything recorded into a ``TraceRecord`` (fail-open per part)."""
    processes = [ProcessInfo(name="main", pid=os.getpid(), role="main")]
    with _timed(overhead, "flush_processes"), issues.guard("flush_processes"):
        _flush_processes(session_dir)
    with _timed(overhead, "merge_processes"), issues.guard("merge_processes"):
        more_events, more_procs = read_session_dir(Path(session_dir))
        events = [*events, *more_events]
        processes.extend(more_procs)
    builder = TraceBuilder(t0)
    parts = builder.parts
    with _timed(overhead, "parse"), issues.guard("parse"):
        parts = builder.feed_all(events)
    if builder.stats.first_error is not None:  # live events the parser could not read
        issues.record("parse", builder.stats.first_error)
    vllm = _vllm_records(builder, events, overhead, issues)
    with _timed(overhead, "decompile"), issues.guard("decompile"):
        parts.graphs = _attach_bytecode(parts.graphs, code_objects)
    factor_dump = None
    if want_factors:
        with _timed(overhead, "factors"), issues.guard("factors"):
            from compile_lens.instrument.factors import collect_factors

            factor_dump = collect_factors(traced_files=_traced_files(events))
    # torch's own figure includes the time spent in our handler's emit: count that once.
    overhead["torch_payloads"] = round(
        max(0.0, _torch_logging_overhead(events) - overhead.get("event_capture", 0.0)), 6)
    counters_after = _counters()
    counters = {k: v - counters_before.get(k, 0) for k, v in counters_after.items()
                if v != counters_before.get(k, 0)}
    counters.update(vllm.counters)
    info = runinfo.collect(options)
    run_extra = {**info.pop("extra", {}), **builder.run_extra(),
                 **({"vllm_hooks": vllm.hooks} if vllm.hooks else {}),
                 **({"vllm_cudagraphs": vllm.cudagraphs} if vllm.cudagraphs else {})}
    run = RunInfo(
        **info, started_at=datetime.fromtimestamp(t0, UTC).isoformat(timespec="seconds"),
        wall_s=round(wall, 6), tracer_overhead_s=round(sum(overhead.values()), 6),
        overhead_breakdown={k: round(v, 6) for k, v in sorted(overhead.items())},
        notes=parts.notes,
        extra=run_extra,
    )
    return TraceRecord(
        run=run, graphs=parts.graphs, pieces=parts.pieces, compiles=parts.compiles,
        passes=[*parts.passes, *vllm.passes], lowerings=[*parts.lowerings, *vllm.lowerings],
        captures=parts.captures, cudagraph_fallbacks=parts.cudagraph_fallbacks,
        spans=parts.spans, factors=factor_dump,
        key_lines=parts.key_lines, counters=counters, artifacts=vllm.artifacts,
        issues=[*issues.issues(), *vllm.issues], processes=processes,
        frame_compiles=parts.frame_compiles, cache_decisions=parts.cache_decisions,
    )


def _flush_processes(session_dir: str) -> None:
    """Have vLLM's live processes (EngineCore, workers) report their counters before the merge.

    Nothing happens unless another process records into the session directory.
    """
    if not any(Path(session_dir).glob("process-*.json")):
        return
    from compile_lens.instrument.vllm import process

    process.request_flush(session_dir)


def _vllm_records(builder: TraceBuilder, events: list[RawEvent], overhead: dict[str, float],
                  issues: IssueLog) -> Any:
    """vLLM-specific records (pass timings, IR lowering, cache files, counters, hook failures)
    reported by the vLLM observers, in this or any other process; empty without them."""
    from compile_lens.record import vllm_observer as records

    found = records.VllmRecords()
    if not any(e.name.startswith("artifact:compile_lens_") and e.name.removeprefix(
            "artifact:compile_lens_") in records.EVENTS for e in events):
        return found
    with _timed(overhead, "parse_vllm"), issues.guard("parse_vllm"):
        found = records.collect(events, lambda e, key: builder._graph_for_key(e, key).id)
    return found


def _attach_bytecode(graphs: list[DynamoGraph], code_objects: list[tuple[str, Any]]) -> list[DynamoGraph]:
    import dataclasses

    by_cid = {cid: code for cid, code in code_objects}
    out = []
    for g in graphs:
        code = by_cid.get(g.compile_id) if not g.process else None
        if code is None:
            out.append(g)
            continue
        source, note = hooks.decompile(code)
        out.append(dataclasses.replace(g, bytecode_source=source, bytecode_note=note))
    return out


def _traced_files(events: list[RawEvent]) -> list[str]:
    files: set[str] = set()
    for e in events:
        if e.name == "str":
            entry = e.metadata.get("str")
            if isinstance(entry, list) and entry:
                files.add(str(entry[0]))
        elif e.name == "compilation_metrics":
            name = (e.metadata.get("compilation_metrics") or {}).get("co_filename")
            if name:
                files.add(str(name))
    return sorted(f for f in files if f.endswith(".py") and os.sep + "torch" + os.sep not in f)


def _torch_logging_overhead(events: list[RawEvent]) -> float:
    """Time torch spent building trace payloads because a handler listened (its own metric)."""
    total = 0.0
    for e in events:
        if e.name == "compilation_metrics":
            value = (e.metadata.get("compilation_metrics") or {}).get("structured_logging_overhead_s")
            if isinstance(value, int | float):
                total += float(value)
    return round(total, 6)
