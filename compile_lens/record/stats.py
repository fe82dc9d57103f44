"""What the parser saw: handled, unknown and malformed records, counted (never dropped silently).

A newer torch or vLLM adds event names; a cut or corrupted log yields records that cannot be read.
Both are data: ``ParseStats`` counts them by name (with where each malformed one came from) and is
stored in the trace as ``run.extra["parser"]``, so the summary and the report can say what was not
understood instead of quietly showing less.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from compile_lens.record.raw import RawEvent

MAX_LISTED = 50
"""Malformed records listed one by one (all are counted)."""


class Malformed(ValueError):
    """A record the parser knows by name but whose content it cannot read."""


def json_body(event: RawEvent) -> dict[str, Any]:
    """The payload of ``event`` as a JSON object; ``Malformed`` if it is missing or not one."""
    body = event.json_payload()
    if not isinstance(body, dict):
        raise Malformed("payload is not a JSON object" if event.payload else "payload is missing")
    return body


@dataclass
class ParseStats:
    """Counts of what the parser was fed (``events``), by outcome."""

    events: int = 0
    handled: dict[str, int] = field(default_factory=dict)
    unknown: dict[str, int] = field(default_factory=dict)
    malformed: list[dict[str, str]] = field(default_factory=list)
    malformed_count: int = 0
    first_error: Exception | None = None
    """The first malformed record's error: a live trace reports it as an instrumentation issue."""

    def malformed_event(self, event: RawEvent, exc: Exception) -> None:
        """Count ``event`` as malformed; list it (name, where, why) up to ``MAX_LISTED``."""
        self.malformed_count += 1
        self.first_error = self.first_error or exc
        if len(self.malformed) < MAX_LISTED:
            where = event.origin or f"event {self.events}"
            self.malformed.append({"name": event.name, "at": where,
                                   "error": f"{type(exc).__name__}: {exc}"[:200]})

    def to_dict(self) -> dict[str, Any]:
        """The JSON form kept in ``run.extra["parser"]`` (sorted, deterministic)."""
        return {"events": self.events, "handled": dict(sorted(self.handled.items())),
                "unknown": dict(sorted(self.unknown.items())), "malformed": list(self.malformed),
                "malformed_count": self.malformed_count}
