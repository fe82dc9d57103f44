"""Views: hide secrets before anything is displayed or written to a report.

Stage 4. The rules (which names and value shapes count as secrets, the keyed fingerprints) live
once, in ``compile_lens.model.redaction``, shared with the factor collector, the readers and
``trace_to_json``; this module only applies them to what a page shows: every view renders a
``redact_record`` copy of the trace unless ``redact=False`` is passed.
"""

from __future__ import annotations

import weakref
from typing import Any

from compile_lens.model import redaction
from compile_lens.model.redaction import REDACTED_PREFIX, is_secret_name, redact_record, redact_text

REDACTED = REDACTED_PREFIX + ">"

__all__ = ["REDACTED", "is_secret_name", "redact_env", "redact_record", "redact_text", "redacted",
           "shown"]


def redact_env(env: dict[str, str]) -> dict[str, str]:
    """A copy of ``env`` (sorted by name) with secret-looking values replaced by fingerprints.

    Values already redacted when recorded keep their fingerprint (``<redacted hmac:… key:…>``).
    """
    out, _ = redaction.redact_env({k: str(v) for k, v in env.items()})
    return dict(sorted(out.items()))


_REDACTED: dict[tuple[int, str], tuple[weakref.ref[Any], Any]] = {}


def redacted(record: Any) -> Any:
    """``redact_record(record)``, remembered while ``record`` lives: the notebook display, the
    explorer and the report of one trace redact it once (records are frozen, so a copy made for
    one view is valid for the next; the key file is part of the cache key)."""
    slot = (id(record), str(redaction.key_path()))
    hit = _REDACTED.get(slot)
    if hit is not None and hit[0]() is record:
        return hit[1]
    out = redact_record(record)
    try:
        ref = weakref.ref(record, lambda _, slot=slot: _REDACTED.pop(slot, None))
    except TypeError:  # not weak-referenceable: no caching
        return out
    _REDACTED[slot] = (ref, out)
    return out


def shown(record: Any, redact: bool) -> Any:
    """The record a view renders: redacted unless the caller asked to see secrets."""
    return redacted(record) if redact else record
