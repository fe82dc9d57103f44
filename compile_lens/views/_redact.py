"""Views: hide secrets before anything is displayed or written to a report.

Stage 4. The rules (which names and value shapes count as secrets, the keyed fingerprints) live
once, in ``compile_lens.model.redaction``, shared with the factor collector, the readers and
``trace_to_json``; this module only applies them to what a page shows: every view renders a
``redact_record`` copy of the trace unless ``redact=False`` is passed.
"""

from __future__ import annotations

from typing import Any

from compile_lens.model import redaction
from compile_lens.model.redaction import REDACTED_PREFIX, is_secret_name, redact_record, redact_text

REDACTED = REDACTED_PREFIX + ">"

__all__ = ["REDACTED", "is_secret_name", "redact_env", "redact_record", "redact_text", "shown"]


def redact_env(env: dict[str, str]) -> dict[str, str]:
    """A copy of ``env`` (sorted by name) with secret-looking values replaced by fingerprints.

    Values already redacted when recorded keep their fingerprint (``<redacted hmac:… key:…>``).
    """
    out, _ = redaction.redact_env({k: str(v) for k, v in env.items()})
    return dict(sorted(out.items()))


def shown(record: Any, redact: bool) -> Any:
    """The record a view renders: redacted unless the caller asked to see secrets."""
    return redact_record(record) if redact else record
