"""Subscribe to torch's structured trace stream (``torch.__trace``), the tlparse source.

Attaching a ``logging.Handler`` there makes every ``trace_structured`` call reach ``emit`` with
``record.metadata`` and ``record.payload``; no env var, file or monkeypatch
(docs/design/torch-hooks.md §1). The handler only appends to a sink; parsing happens after the
compile. It also times itself, so the tracer's own cost can be reported.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any, Protocol

from compile_lens.record.raw import RawEvent, event_name

TRACE_LOGGER = "torch.__trace"


class Sink(Protocol):
    """Where raw events go (memory in the tracing process, a JSONL file elsewhere)."""

    def add(self, event: RawEvent) -> None: ...

    def close(self) -> None: ...


class StructuredTraceHandler(logging.Handler):
    """Forward each structured-trace record to a sink as a ``RawEvent``; never raises."""

    def __init__(self, sink: Sink, process: str = "") -> None:
        super().__init__(level=logging.DEBUG)
        self.sink = sink
        self.process = process
        self.seconds = 0.0
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        start = time.perf_counter()
        try:
            metadata: dict[str, Any] = dict(getattr(record, "metadata", None) or {})
            payload = getattr(record, "payload", None)
            self.deliver(metadata, payload if payload is None else str(payload))
        except Exception:  # fail open: logging handlers must never break the compile
            self.handleError(record)
        finally:
            self.seconds += time.perf_counter() - start

    def deliver(self, metadata: dict[str, Any], payload: str | None) -> None:
        """Add one record to the sink: a logged one (``emit``), or one torch did not log
        (``payloads.PayloadFilter`` built it and times it; untimed here)."""
        self.sink.add(RawEvent(t=time.time(), name=event_name(metadata), metadata=metadata,
                               payload=payload, thread=threading.get_ident(),
                               process=self.process))
        self.count += 1


def attach(handler: StructuredTraceHandler) -> None:
    """Attach ``handler`` to the trace logger, first in line (idempotent).

    First, because torch's import-time ``LazyTraceHandler`` removes itself from the list while
    the first event is being handled, which makes the handler after it miss that event.
    """
    logger = logging.getLogger(TRACE_LOGGER)
    if handler not in logger.handlers:
        logger.handlers.insert(0, handler)


def detach(handler: StructuredTraceHandler) -> None:
    """Remove ``handler`` from the trace logger (idempotent)."""
    logging.getLogger(TRACE_LOGGER).removeHandler(handler)


def listening() -> bool:
    """Whether any handler listens on the trace logger (torch builds nothing otherwise)."""
    return bool(_TRACE_LOG.handlers)


def others_listen() -> bool:
    """Whether anything but compile_lens listens on torch's structured trace stream.

    torch's own ``LazyTraceHandler`` counts only when it may write: a directory (``TORCH_TRACE``
    at import, or ``set_logs``), an open stream, ``TORCH_TRACE`` set since, or a Meta-internal job
    (``MAST_HPC_JOB_NAME``, where it writes to ``/logs``). Without one it removes itself on the
    first event and nobody reads what it was given.
    """
    for handler in _TRACE_LOG.handlers:
        if isinstance(handler, StructuredTraceHandler):
            continue
        if type(handler).__name__ == "LazyTraceHandler" \
                and getattr(handler, "root_dir", None) is None \
                and getattr(handler, "stream", None) is None \
                and not os.environ.get("TORCH_TRACE") and not os.environ.get("MAST_HPC_JOB_NAME"):
            continue
        return True
    return False


_TRACE_LOG = logging.getLogger(TRACE_LOGGER)
