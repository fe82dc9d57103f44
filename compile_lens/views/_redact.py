"""Views: hide secret-looking values before anything is displayed or written to a report.

Stage 4. The rules (which names and value shapes count as secrets) live once, in
``compile_lens.model.redaction``, shared with the factor collector and readers; this module only
applies them to what a page shows. ``redact=False`` on the report turns it off.
"""

from __future__ import annotations

from compile_lens.model.redaction import REDACTED_PREFIX, is_secret_name, looks_secret, redact_text

REDACTED = REDACTED_PREFIX + ">"

__all__ = ["REDACTED", "is_secret_name", "redact_env", "redact_text"]


def redact_env(env: dict[str, str]) -> dict[str, str]:
    """A copy of ``env`` (sorted) with secret-looking values replaced by ``<redacted>``.

    Values already redacted when recorded keep their fingerprint (``<redacted sha256:…>``).
    """
    out = {}
    for name, value in sorted(env.items()):
        text = str(value)
        if text.startswith(REDACTED_PREFIX):
            out[name] = text
        elif looks_secret(name, text):
            out[name] = REDACTED
        else:
            out[name] = redact_text(text, REDACTED)
    return out
