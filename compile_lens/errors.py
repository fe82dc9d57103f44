"""Error hierarchy: every error compile_lens raises on purpose is a ``CompileLensError``.

Messages say what went wrong, with which value, and how to fix it.
"""

from __future__ import annotations


class CompileLensError(Exception):
    """Base class of every error raised deliberately by compile_lens."""


class InstrumentationError(CompileLensError):
    """A hook could not be installed or failed while observing (raised only with ``strict=True``)."""


class TraceFormatError(CompileLensError, ValueError):
    """A trace or factor file is missing, corrupt, truncated or of an unknown schema."""


class MissingDependencyError(CompileLensError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""


def missing_dependency(module: str, feature: str, extra: str = "notebook") -> MissingDependencyError:
    """Build the standard "install the extra" error for an optional import that failed."""
    msg = (
        f"compile_lens: {feature} needs the optional package '{module}', which is not installed. "
        f"Install it with: pip install 'compile-lens[{extra}]'"
    )
    return MissingDependencyError(msg)
