"""Open a TORCH_TRACE log, or a directory of them (one per process or rank), as a ``TraceRecord``.

The log's events go through the same ``TraceBuilder`` and rule table as a live ``trace()``: one
code path, so an imported run shows the same pieces, keys and outcomes a live trace of it would.
Files are streamed one after the other in file order (each file is one process, already in time
order), so nothing but the model records is kept. Problems (corrupt lines, md5 mismatches, cut
files, unrelated files, empty logs) become notes naming file and line; a path holding no log at all
is a ``TraceFormatError``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from compile_lens.errors import TraceFormatError
from compile_lens.model import ProcessInfo, RunInfo, TraceRecord
from compile_lens.record import torch_trace
from compile_lens.record.names import VLLM_OBSERVER_EVENTS
from compile_lens.record.raw import RawEvent
from compile_lens.record.recorder import HANDLERS, TraceBuilder, known_unused

_RANK_IN_NAME = re.compile(r"rank_?(\d+)")
_OBSERVER_NAMES = frozenset(f"artifact:compile_lens_{n}" for n in VLLM_OBSERVER_EVENTS)


def log_files(path: Path) -> tuple[list[Path], list[str]]:
    """The TORCH_TRACE logs at ``path`` (a file or a directory) and notes on files skipped."""
    if path.is_file():
        return [path], []
    logs, notes = [], []
    for child in sorted(p for p in path.iterdir() if p.is_file()):
        if torch_trace.looks_like_log(child):
            logs.append(child)
        elif child.stat().st_size == 0:
            notes.append(f"{child.name}: {torch_trace.KINDS['empty']}: skipped")
        else:
            notes.append(f"{child.name}: not a TORCH_TRACE log: skipped")
    return logs, notes


def load_torch_trace(path: str | Path) -> TraceRecord:
    """Read a TORCH_TRACE log file (plain or gzip) or a directory of them into a ``TraceRecord``."""
    root = Path(path)
    files, notes = log_files(root)
    if not files:
        msg = (f"{root}: no TORCH_TRACE log found (expected files of glog-prefixed JSON lines, "
               "as TORCH_TRACE=<dir> writes them)")
        raise TraceFormatError(msg)
    plan = _Plan(root, [torch_trace.FileInfo(path=f, name=f.name) for f in files])
    builder = TraceBuilder(plan.t0)
    observer_events: list[RawEvent] = []
    last_t = plan.t0
    for info in plan.infos:
        for event in torch_trace.read_events(info.path, info, plan.names[info.name], _wanted,
                                             plan.offsets[info.name]):
            if event.name in _OBSERVER_NAMES:
                observer_events.append(event)
            builder.feed(event)
            last_t = max(last_t, event.t)
    parts = builder.finish()
    notes += plan.notes()
    vllm = _vllm_records(builder, observer_events)
    run = RunInfo(
        torch_version=builder.torch_version,
        started_at=datetime.fromtimestamp(plan.t0, UTC).isoformat(timespec="seconds")
        if plan.t0 > 1e9 else "",
        wall_s=round(max(0.0, last_t - plan.t0), 6), notes=[*notes, *parts.notes],
        extra={**builder.run_extra(), "source": _source(root, plan.infos),
               **({"vllm_hooks": vllm.hooks} if vllm is not None and vllm.hooks else {})},
    )
    return TraceRecord(
        run=run, graphs=parts.graphs, pieces=parts.pieces, compiles=parts.compiles,
        passes=[*parts.passes, *(vllm.passes if vllm else [])],
        lowerings=[*parts.lowerings, *(vllm.lowerings if vllm else [])],
        captures=parts.captures, spans=parts.spans, key_lines=parts.key_lines,
        counters=dict(vllm.counters) if vllm else {},
        artifacts=list(vllm.artifacts) if vllm else [], processes=plan.processes(),
        **_extra_parts(parts),
    )


class _Plan:
    """Before reading: each file's clock offset, the first time of all, each file's process name
    (rank from the file name, else pid); after reading: the processes and the notes."""

    def __init__(self, root: Path, infos: list[torch_trace.FileInfo]) -> None:
        self.infos = infos
        offsets = {i.name: torch_trace.epoch_offset(i.path) for i in infos}
        fallback = next((o for o in offsets.values() if o), 0.0)  # a log without chromium events
        self.offsets = {k: o or fallback for k, o in offsets.items()}
        firsts = {i.name: _first(i.path, self.offsets[i.name]) for i in infos}
        self.t0 = min((e.t for e in firsts.values() if e is not None), default=0.0)
        self.names: dict[str, str] = {}
        self.named_rank: dict[str, int | None] = {}
        for info in infos:
            info.problems = torch_trace.Problems(info.name)
            self.named_rank[info.name] = _rank_from_name(info.name) if root.is_dir() else None
            first = firsts[info.name]
            name = _process_name(info, self.named_rank[info.name], len(infos) > 1,
                                 first.extra.get("pid", 0) if first else 0)
            taken = sum(1 for n in self.names.values() if n == name or n.startswith(f"{name}."))
            self.names[info.name] = f"{name}.{taken}" if taken else name  # two logs, one process

    def notes(self) -> list[str]:
        out = []
        for info in self.infos:
            out.extend(info.problems.notes())
            named = self.named_rank[info.name]
            if named is not None and info.rank is not None and named != info.rank:
                out.append(f"{info.name}: named rank {named} but its records say rank {info.rank}")
        return out

    def processes(self) -> list[ProcessInfo]:
        return [ProcessInfo(
            name=self.names[i.name], pid=i.pid,
            role="rank" if _rank(i, self.named_rank) is not None else "",
            rank=_rank(i, self.named_rank),
            complete=i.complete and not i.problems.counts.get("truncated"),
            note="; ".join(i.problems.notes()[:3]),
            extra={"file": i.name, "records": i.records,
                   "problems": dict(sorted(i.problems.counts.items()))},
        ) for i in self.infos]


def _extra_parts(parts: Any) -> dict[str, Any]:
    """Record lists other rules add to ``Parts`` (fields the model and the parts share)."""
    import dataclasses

    names = {f.name for f in dataclasses.fields(TraceRecord)}
    base = {"graphs", "pieces", "compiles", "passes", "lowerings", "captures", "spans", "key_lines"}
    return {f.name: getattr(parts, f.name) for f in dataclasses.fields(parts)
            if f.name in names and f.name not in base}


def _wanted(name: str) -> bool:
    """Decode the payload only for events a rule reads."""
    handler = HANDLERS.get(name)
    return handler is not None and handler is not known_unused


def _source(root: Path, infos: list[torch_trace.FileInfo]) -> dict[str, Any]:
    totals: dict[str, int] = {}
    for info in infos:
        for kind, n in info.problems.counts.items():
            totals[kind] = totals.get(kind, 0) + n
    return {"format": "torch_trace", "path": str(root), "files": [i.name for i in infos],
            "records": sum(i.records for i in infos), "problems": dict(sorted(totals.items()))}


def _rank_from_name(name: str) -> int | None:
    m = _RANK_IN_NAME.search(name)
    return int(m.group(1)) if m else None


def _process_name(info: torch_trace.FileInfo, rank: int | None, many: bool, pid: int) -> str:
    """``rank<N>`` for a rank's log; among several logs without ranks (vLLM's EngineCore and
    workers) ``pid<N>`` (the file's stem if unknown); ``""`` for a single log (graph ids then
    read as in a live trace: ``g0``)."""
    if rank is not None:
        return f"rank{rank}"
    if not many:
        return ""
    return f"pid{pid}" if pid else info.path.name.split(".")[0]


def _rank(info: torch_trace.FileInfo, named: dict[str, int | None]) -> int | None:
    """A file's rank: from its name (``…rank_3.log``, as tlparse names ranks), else its records."""
    by_name = named.get(info.name)
    return by_name if by_name is not None else info.rank


def _first(path: Path, offset: float) -> RawEvent | None:
    """The first record of ``path`` (its time, epoch seconds when the log allows, and in
    ``extra["pid"]`` the process id of its glog prefix)."""
    info = torch_trace.FileInfo(path=path, name=path.name)
    for event in torch_trace.read_events(path, info, "", lambda _name: False, offset):
        return RawEvent(t=event.t, name=event.name, metadata={}, payload=None,
                        extra={"pid": info.pid})
    return None


def _vllm_records(builder: TraceBuilder, events: list[RawEvent]) -> Any:
    """Records of compile_lens' vLLM observers, if the log holds any (read by their collector)."""
    if not events:
        return None
    from compile_lens.record import vllm_observer as records

    return records.collect(events, lambda e, key: builder._graph_for_key(e, key).id)

