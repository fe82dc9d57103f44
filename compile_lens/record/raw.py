"""Raw events: what the structured-log handler keeps, cheaply, until the trace is parsed.

A ``RawEvent`` is one ``trace_structured`` call: its name (``dynamo_output_graph``,
``artifact:compile_lens_piece_end`` …), its metadata and its payload string. Times are wall-clock
(``time.time()``) so events from several processes (vLLM's EngineCore and workers) line up.

In other processes a ``JsonlSink`` appends each event as one JSON line to
``events-<pid>.jsonl`` in the session directory; ``read_jsonl`` reads them back, tolerating a last
line cut short by a worker that died mid-write.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO


@dataclass(frozen=True, slots=True)
class RawEvent:
    """One structured-trace event as received (names: ``artifact:<name>`` for artifacts)."""

    t: float
    name: str
    metadata: dict[str, Any]
    payload: str | None
    thread: int = 0
    process: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    origin: str = ""
    """Where the event came from, for notes: ``"rank0.log:123"`` for a log line, else empty."""

    @property
    def compile_id(self) -> str:
        """``"frame/compile"`` (with ``_attempt`` when non-zero), tlparse's form, or ``""``."""
        md = self.metadata
        if md.get("frame_id") is None:
            return ""
        cid = f"{md['frame_id']}/{md.get('frame_compile_id', 0)}"
        return f"{cid}_{md['attempt']}" if md.get("attempt") else cid

    def json_payload(self) -> Any:
        """The payload parsed as JSON (``None`` if absent or not JSON)."""
        if not self.payload:
            return None
        try:
            return json.loads(self.payload)
        except ValueError:
            return None

    def to_json(self) -> str:
        """One JSONL line."""
        return json.dumps(
            {"t": self.t, "name": self.name, "metadata": self.metadata,
             "payload": self.payload, "thread": self.thread},
            default=str,
        )


def event_name(metadata: dict[str, Any]) -> str:
    """The event's name: its first metadata key, or ``artifact:<name>`` for artifacts."""
    first = next(iter(metadata), "")
    if first == "artifact":
        inner = metadata.get("artifact") or {}
        return f"artifact:{inner.get('name', '')}"
    return first


class ListSink:
    """Keeps events in memory (the tracing process); thread-safe append."""

    def __init__(self) -> None:
        self.events: list[RawEvent] = []
        self._lock = threading.Lock()

    def add(self, event: RawEvent) -> None:
        with self._lock:
            self.events.append(event)

    def close(self) -> None:
        """Nothing to release."""


class JsonlSink:
    """Appends events to ``<dir>/events-<pid>.jsonl`` (other processes), flushing each line."""

    def __init__(self, directory: str | Path) -> None:
        self.path = Path(directory) / f"events-{os.getpid()}.jsonl"
        self._lock = threading.Lock()
        self._file: TextIO | None = self.path.open("a", encoding="utf-8")

    def add(self, event: RawEvent) -> None:
        with self._lock:
            if self._file is not None:
                self._file.write(event.to_json() + "\n")
                self._file.flush()

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


def read_jsonl(path: str | Path, process: str) -> tuple[list[RawEvent], bool]:
    """Read a sink file; returns ``(events, complete)`` (``False`` if the last line was cut)."""
    events: list[RawEvent] = []
    complete = True
    with Path(path).open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            try:
                row = json.loads(line)
            except ValueError:
                complete = False
                continue
            events.append(
                RawEvent(t=float(row.get("t", 0.0)), name=str(row.get("name", "")),
                         metadata=dict(row.get("metadata") or {}), payload=row.get("payload"),
                         thread=int(row.get("thread", 0)), process=process)
            )
    return events, complete
