"""Model: redaction of secret-looking environment values before they reach a dump, diff or page.

Stage 2 (model): stdlib only, shared by the collector (our own dumps) and the readers (vLLM's
``cache_key_factors.json`` lists raw env values). A redacted value keeps a short fingerprint so two
runs can still be compared ("the token changed") without revealing it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

REDACTED_PREFIX = "<redacted"

_SECRET_NAME = re.compile(
    r"((^|_)TOKEN$|SECRET|PASSW(OR)?D|PASSPHRASE|CREDENTIAL|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY"
    r"|AUTH|COOKIE|SESSION_?(KEY|ID)|SIGNATURE|(^|_)KEY$|(^|_)PAT$)",
    re.IGNORECASE,
)
_SECRET_VALUE = re.compile(
    r"(hf_[A-Za-z0-9]{16,}|sk-[A-Za-z0-9_-]{16,}|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_\w{20,}"
    r"|AKIA[0-9A-Z]{16}|xox[abposr]-[A-Za-z0-9-]{10,}|eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----|://[^/\s:@]+:[^/\s@]+@)"
)


def looks_secret(name: str, value: Any) -> bool:
    """True when an env var's name or value looks like a credential (token, key, password).

    Args:
        name: the variable's name (``HF_TOKEN`` looks secret whatever its value).
        value: its value (``hf_…``, ``sk-…``, ``ghp_…``, AWS key ids, JWTs, URLs with a password).
    """
    if (
        value is None
        or value == ""
        or (isinstance(value, str) and value.startswith(REDACTED_PREFIX))
    ):
        return False
    if _SECRET_NAME.search(name):
        return True
    return isinstance(value, str) and bool(_SECRET_VALUE.search(value))


def is_secret_name(name: str) -> bool:
    """Whether an environment variable *name* looks like it holds a credential."""
    return bool(_SECRET_NAME.search(name))


def redact_text(text: str, placeholder: str = REDACTED_PREFIX + ">") -> str:
    """Mask token-shaped substrings (Hugging Face, OpenAI, GitHub, AWS, Slack, JWT, URL passwords)."""
    return _SECRET_VALUE.sub(placeholder, text)


def redacted_value(name: str, value: Any) -> str:
    """The placeholder stored instead of a secret: ``<redacted sha256:1a2b3c4d>``.

    The fingerprint covers name and value, so a changed secret still shows as changed, but the
    value itself cannot be read back from a dump, a diff or a page.
    """
    digest = hashlib.sha256(f"{name}\x00{value}".encode("utf-8", "replace")).hexdigest()[:8]
    return f"{REDACTED_PREFIX} sha256:{digest}>"


def redact_env(env: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Return ``env`` with secret-looking values replaced, and the names that were redacted."""
    out: dict[str, Any] = {}
    names: list[str] = []
    for name, value in env.items():
        if looks_secret(name, value):
            out[name] = redacted_value(name, value)
            names.append(name)
        else:
            out[name] = value
    return out, sorted(names)
