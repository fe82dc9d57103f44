"""Merge events that other processes (vLLM's EngineCore, workers) wrote to the session directory.

Each process writes ``events-<pid>.jsonl`` and ``process-<pid>.json`` (``{pid, role, rank,
prefix}``). A worker that died mid-write leaves a cut last line: its events are kept and the
process is marked incomplete with a note, never waited for.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from compile_lens.model import ProcessInfo
from compile_lens.record.raw import RawEvent, read_jsonl


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
        note = "" if complete else "the process stopped mid-write: its trace is partial"
        if complete and meta.get("state") == "running" and not _alive(pid_text):
            complete, note = False, "the process died before it finished: its trace is partial"
        events.extend(got)
        processes.append(ProcessInfo(
            name=name, pid=int(pid_text) if pid_text.isdigit() else 0, role=role,
            rank=rank if isinstance(rank := meta.get("rank"), int) else None,
            complete=complete, note=note,
            extra={k: v for k, v in meta.items() if k not in ("pid", "role", "rank")},
        ))
    return events, processes


def _alive(pid_text: str) -> bool:
    """Whether process ``pid`` still runs (signal 0 checks without touching it). An exited
    process its parent has not reaped yet (a zombie) answers signal 0 too, but has died."""
    if not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not exited_unreaped(int(pid_text))


def exited_unreaped(pid: int) -> bool:
    """``/proc/<pid>/stat`` says zombie (``Z``) or dead (``X``); ``False`` where unreadable.

    Read, never ``waitpid``: reaping another process's child would take it from its parent.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return False
    end = stat.rfind(b")")  # the command name may hold spaces and parentheses
    return stat[end + 2:end + 3] in (b"Z", b"X")


def _process_meta(path: Path) -> dict[str, object]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
