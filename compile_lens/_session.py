"""The active trace session's options, readable by compilers without importing the observer.

A compiler (the embedded backend, the vLLM wrappers) asks ``current()`` whether a trace is active
and whether it asked for ``cross_check`` (compile every piece through the legacy path and compare
keys). One session at a time per process; nesting is refused by ``instrument``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class SessionOptions:
    """What the active ``trace()`` asked for."""

    cross_check: bool = False
    strict: bool = False


_ACTIVE: SessionOptions | None = None


def current() -> SessionOptions | None:
    """The active session's options, or ``None`` when nothing is being traced."""
    return _ACTIVE


def activate(options: SessionOptions | None) -> SessionOptions | None:
    """Make ``options`` the active session (``None`` ends it); return the previous value."""
    global _ACTIVE
    previous, _ACTIVE = _ACTIVE, options
    return previous
