"""Keep the raw structured-trace events of a traced run next to its trace (test helper).

The vLLM-specific events (``vllm_pass``, ``vllm_artifact``, ``vllm_counters`` …) are parsed by
``compile_lens.record.vllm_observer``; tests run that parser on the real events of a run, from
this process (``keep``) and from vLLM's other processes (a copy of the session directory).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def keep(directory: Path) -> Iterator[None]:
    """Also write this process's trace events to ``directory/events-<pid>.jsonl``."""
    from compile_lens.instrument.structured_log import StructuredTraceHandler, attach, detach
    from compile_lens.instrument.vllm.process import _first as first
    from compile_lens.record.raw import JsonlSink

    directory.mkdir(parents=True, exist_ok=True)
    handler = StructuredTraceHandler(JsonlSink(directory))
    attach(handler)
    first(handler)
    try:
        yield
    finally:
        detach(handler)
        handler.sink.close()


def copy_session(directory: Path) -> None:
    """Copy the active trace's session directory (other processes' files) to ``directory``."""
    source = os.environ.get("COMPILE_LENS_SESSION_DIR")
    if source:
        shutil.copytree(source, directory, dirs_exist_ok=True)


def load(out: Path) -> list[Any]:
    """Every kept event of a run: this process's (``events/``) and other processes' (``session/``)."""
    from compile_lens.record.merge import read_session_dir
    from compile_lens.record.raw import read_jsonl

    events = []
    for path in sorted((out / "events").glob("events-*.jsonl")):
        events.extend(read_jsonl(path, "")[0])
    if (out / "session").is_dir():
        events.extend(read_session_dir(out / "session")[0])
    return events


def vllm_records(out: Path) -> Any:
    """``records.collect`` over a run's kept events, with the recorder's graph ids."""
    from compile_lens.record import vllm_observer as records
    from compile_lens.record.recorder import TraceBuilder

    events = load(out)
    builder = TraceBuilder(min((e.t for e in events), default=0.0))
    builder.feed_all(events)
    return records.collect(events, lambda e, key: builder._graph_for_key(e, key).id)
