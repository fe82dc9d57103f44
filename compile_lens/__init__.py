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

from collections.abc import Mapping, Sequence
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
    import os
    from contextlib import AbstractContextManager
    from typing import Literal, TypeAlias

    from compile_lens.api import Diff
    from compile_lens.backend.piecewise import PiecewiseBackend
    from compile_lens.model import FactorDump, TraceRecord

    #: What ``diff`` compares: a trace (object or ``.json``), a factor dump (object or ``.json``),
    #: a vLLM ``cache_key_factors.json`` or a vLLM cache directory.
    DiffInput: TypeAlias = Trace | TraceRecord | FactorDump | str | os.PathLike[str]


def trace(
    *,
    cross_check: bool = False,
    strict: bool = False,
    progress: bool | Literal["auto"] = "auto",
    factors: bool = True,
    bytecode: bool = True,
) -> AbstractContextManager[Trace]:
    """Record every ``torch.compile`` inside a ``with`` block; yields a ``Trace`` (filled on exit).

    Args:
        cross_check: compile every piece through the legacy path (no dedup skipping) and compare
            the legacy AOTAutograd key with the standalone key piece by piece.
        strict: raise ``InstrumentationError`` when a hook fails instead of recording it and
            warning once (the default keeps your compile going).
        progress: a live progress line in notebooks (``"auto"``), or none (``False``).
        factors: dump the process's cache-key factors when the block ends (``factors()``).
        bytecode: keep Dynamo's transformed bytecode and decompile it with depyf (if installed).
    """
    from compile_lens.api import trace as _trace

    return _trace(cross_check=cross_check, strict=strict, progress=progress, factors=factors,
                  bytecode=bytecode)


def piecewise(
    *,
    splitting_ops: Sequence[Any] | None = None,
    compile_sizes: Sequence[int] = (),
    dedup: bool = True,
    cache_dir: str | None = None,
    use_artifact_cache: bool = True,
    inductor_config: dict[str, Any] | None = None,
    cudagraph_sizes: Sequence[int] = (),
) -> PiecewiseBackend:
    """The embedded piecewise backend: ``torch.compile(m, backend=compile_lens.piecewise(...))``.

    Args:
        splitting_ops: where to split: custom ops by name (``"ns::op"``) and torch functions;
            ``None`` means ``(torch.nn.functional.scaled_dot_product_attention,)``.
        compile_sizes: exact sizes of the dynamic dimension compiled besides the general graph.
        dedup: compile each unique standalone key once and reuse the artifact.
        cache_dir: the persistent artifact cache (default ``$COMPILE_LENS_CACHE_DIR`` or
            ``~/.cache/compile_lens/artifacts``).
        use_artifact_cache: ``False`` never loads or saves artifacts.
        inductor_config: Inductor config patches for every piece compile.
        cudagraph_sizes: capture every compiled piece as a CUDA graph at these sizes (CUDA only).
    """
    from compile_lens.backend.piecewise import PiecewiseBackend

    if splitting_ops is None:
        return PiecewiseBackend(compile_sizes=compile_sizes, dedup=dedup, cache_dir=cache_dir,
                                use_artifact_cache=use_artifact_cache,
                                inductor_config=inductor_config, cudagraph_sizes=cudagraph_sizes)
    return PiecewiseBackend(splitting_ops=splitting_ops, compile_sizes=compile_sizes, dedup=dedup,
                            cache_dir=cache_dir, use_artifact_cache=use_artifact_cache,
                            inductor_config=inductor_config, cudagraph_sizes=cudagraph_sizes)


def diff(a: DiffInput, b: DiffInput, *, redact: bool = True) -> Diff:
    """Explain why two runs' cache keys differ (traces, factor dumps, vLLM factor files/dirs).

    ``redact=False`` shows secret-looking env values. Bad input raises ``TraceFormatError``.
    """
    from compile_lens.api import diff as _diff

    return _diff(a, b, redact=redact)


def factors(
    *,
    traced_files: Sequence[str] = (),
    redact: bool = True,
    environ: Mapping[str, str] | None = None,
    strict: bool = False,
) -> FactorDump:
    """Dump this process's cache-key factors (env, configs, code, system) without compiling.

    Args:
        traced_files: source files to record with their sha256 (what Dynamo traced).
        redact: replace secret-looking values by a keyed fingerprint (the default).
        environ: the environment to read (default ``os.environ``).
        strict: raise ``InstrumentationError`` when a part cannot be read.
    """
    from compile_lens.instrument.factors import collect_factors

    return collect_factors(traced_files=traced_files, redact=redact, environ=environ, strict=strict)


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
