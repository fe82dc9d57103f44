"""Torch's own records of a compile, kept by the tests to check compile_lens' causes against.

``TorchRecords`` is a plain ``logging.Handler`` on torch's structured-trace stream that keeps each
record's metadata and payload untouched; it knows nothing of compile_lens' parser. Tests compare
the causes compile_lens reports with these records and with torch's counters and
``torch._dynamo.utils.guard_failures``, never with strings of their own.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from typing import Any

TRACE_LOGGER = "torch.__trace"


class TorchRecords(logging.Handler):
    """Every structured-trace record torch emitted while attached: ``(metadata, payload)``."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.items: list[tuple[dict[str, Any], str | None]] = []

    def emit(self, record: logging.LogRecord) -> None:
        payload = getattr(record, "payload", None)
        self.items.append((dict(getattr(record, "metadata", {}) or {}),
                           None if payload is None else str(payload)))

    def artifacts(self, name: str) -> list[tuple[dict[str, Any], str | None]]:
        """Records of the artifact ``name`` (e.g. ``aotautograd_cache_bypass``)."""
        return [(md, p) for md, p in self.items
                if (md.get("artifact") or {}).get("name") == name]

    def json_artifacts(self, name: str) -> list[dict[str, Any]]:
        """The JSON payloads of the artifact ``name``."""
        return [json.loads(p) for _, p in self.artifacts(name) if p]

    def metrics(self) -> list[dict[str, Any]]:
        """Every ``compilation_metrics`` record's fields."""
        return [md["compilation_metrics"] for md, _ in self.items if "compilation_metrics" in md]


@contextlib.contextmanager
def torch_records() -> Iterator[TorchRecords]:
    """Keep torch's structured-trace records for the block (first in line, removed after)."""
    handler = TorchRecords()
    logger = logging.getLogger(TRACE_LOGGER)
    logger.handlers.insert(0, handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


def counter_deltas(before: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """torch's ``counters`` now minus ``before`` (a snapshot from ``counter_snapshot``)."""
    now = counter_snapshot()
    return {group: {k: v - before.get(group, {}).get(k, 0) for k, v in values.items()
                    if v != before.get(group, {}).get(k, 0)}
            for group, values in now.items()}


def counter_snapshot() -> dict[str, dict[str, int]]:
    """A copy of ``torch._dynamo.utils.counters``."""
    from torch._dynamo.utils import counters

    return {group: dict(values) for group, values in counters.items()}
