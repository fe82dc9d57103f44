"""Views: hide secret-looking values before anything is displayed or written to a report.

Stage 4: stdlib only. Environment variables whose *names* look like credentials (``HF_TOKEN``,
``AWS_SECRET_ACCESS_KEY``, ``*_PASSWORD``…) lose their values, and values shaped like well-known
token formats are masked wherever they appear in key factor lines. ``redact=False`` turns it off.
"""

from __future__ import annotations

import re

REDACTED = "<redacted>"
_SECRET_NAME = re.compile(
    r"(TOKEN|SECRET|PASSW(OR)?D|PASSPHRASE|CREDENTIAL|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|"
    r"AUTH|COOKIE|SESSION_?ID|SIGNATURE|(^|_)KEY$)",
    re.IGNORECASE,
)
_SECRET_VALUE = re.compile(
    r"(hf_[A-Za-z0-9]{8,}|sk-[A-Za-z0-9_-]{16,}|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_\w{20,}"
    r"|AKIA[0-9A-Z]{16}|xox[abpr]-[A-Za-z0-9-]{10,}|eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"
    r"\.[A-Za-z0-9_-]{10,})"
)


def is_secret_name(name: str) -> bool:
    """Whether an environment variable name looks like it holds a credential."""
    return bool(_SECRET_NAME.search(name))


def redact_text(text: str) -> str:
    """Mask token-shaped substrings (Hugging Face, OpenAI, GitHub, AWS, Slack, JWT)."""
    return _SECRET_VALUE.sub(REDACTED, text)


def redact_env(env: dict[str, str]) -> dict[str, str]:
    """A copy of ``env`` with secret-looking names' values replaced by ``<redacted>``."""
    return {k: _redact_value(k, str(v)) for k, v in sorted(env.items())}


def _redact_value(name: str, value: str) -> str:
    if value.startswith("<redacted"):  # already redacted when recorded (keeps its fingerprint)
        return value
    return REDACTED if is_secret_name(name) and value else redact_text(value)
