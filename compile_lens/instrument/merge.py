"""Merge events that other processes (vLLM's EngineCore, workers) wrote to the session directory.

Each process writes ``events-<pid>.jsonl`` and ``process-<pid>.json`` (``{pid, role, rank,
prefix}``). A worker that died mid-write leaves a cut last line: its events are kept and the
process is marked incomplete with a note, never waited for.
"""

from __future__ import annotations

import json
from pathlib import Path

from compile_lens.instrument.raw import RawEvent, read_jsonl
from compile_lens.model import ProcessInfo


def read_session_dir(directory: Path) -> tuple[list[RawEvent], list[ProcessInfo]]:
    """Events and process descriptions of every other process that recorded into ``directory``."""
    events: list[RawEvent] = []
    processes: list[ProcessInfo] = []
    if not directory.is_dir():
        return events, processes
    for path in sorted(directory.glob("events-*.jsonl")):
        pid_text = path.stem.removeprefix("events-")
        meta = _process_meta(directory / f"process-{pid_text}.json")
        role = str(meta.get("role") or "worker")
        name = f"{role}-{pid_text}"
        got, complete = read_jsonl(path, name)
        events.extend(got)
        processes.append(ProcessInfo(
            name=name, pid=int(pid_text) if pid_text.isdigit() else 0, role=role,
            rank=meta.get("rank") if isinstance(meta.get("rank"), int) else None,
            complete=complete,
            note="" if complete else "the process stopped mid-write: its trace is partial",
            extra={k: v for k, v in meta.items() if k not in ("pid", "role", "rank")},
        ))
    return events, processes


def _process_meta(path: Path) -> dict[str, object]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
