"""compile_lens: see what torch.compile (and vLLM's piecewise backend) really did.

Stable API (documented in the README)::

    with compile_lens.trace() as t:          # record every compile inside the block
        ...
    t.summary(); t.pieces; t.save("t.json")  # headline, DataFrames, JSON
    compile_lens.load("t.json")              # read a saved trace back
    compile_lens.piecewise(splitting_ops=[...], compile_sizes=[...])   # embedded backend
    compile_lens.diff(a, b)                  # why did the cache miss?
    compile_lens.factors()                   # this process's cache-key factors
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from compile_lens._version import __version__
from compile_lens.api import Trace, load
from compile_lens.errors import (
    CompileLensError,
    InstrumentationError,
    MissingDependencyError,
    TraceFormatError,
)

if TYPE_CHECKING:
    from compile_lens.backend.piecewise import PiecewiseBackend
    from compile_lens.model import FactorDump


def trace(*, cross_check: bool = False, strict: bool = False, **options: Any) -> Any:
    """Record every ``torch.compile`` inside a ``with`` block; yields a ``Trace``.

    Args:
        cross_check: compile every piece through the legacy path (no dedup skipping) and compare
            the legacy AOTAutograd key with the standalone key piece by piece.
        strict: raise ``InstrumentationError`` when a hook fails instead of recording it and
            warning once (the default keeps your compile going).
        **options: see ``compile_lens.instrument.session.trace``.
    """
    from compile_lens.instrument.session import trace as _trace

    return _trace(cross_check=cross_check, strict=strict, **options)


def piecewise(**kwargs: Any) -> PiecewiseBackend:
    """The embedded piecewise backend: ``torch.compile(m, backend=compile_lens.piecewise(...))``.

    See ``compile_lens.backend.piecewise.PiecewiseBackend`` for the arguments.
    """
    from compile_lens.backend.piecewise import PiecewiseBackend

    return PiecewiseBackend(**kwargs)


def diff(a: Any, b: Any, **kwargs: Any) -> Any:
    """Explain why two runs' cache keys differ (traces, factor dumps, vLLM factor files/dirs)."""
    from compile_lens.analysis.factor_diff import diff as _diff

    return _diff(a, b, **kwargs)


def factors(**kwargs: Any) -> FactorDump:
    """Dump this process's cache-key factors without compiling anything."""
    from compile_lens.instrument.factors import collect_factors

    return collect_factors(**kwargs)


__all__ = [
    "CompileLensError",
    "InstrumentationError",
    "MissingDependencyError",
    "Trace",
    "TraceFormatError",
    "__version__",
    "diff",
    "factors",
    "load",
    "piecewise",
    "trace",
]
