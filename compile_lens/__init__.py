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
    payloads: Literal["read", "all"] = "read",
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
        payloads: which structured-trace payloads torch builds for compile_lens while it is the
            only listener on ``torch.__trace``: ``"read"`` (default) only those the trace reads
            (graph prints, guard dumps, repro scripts it never reads are not built: most of the
            tracer's cost); ``"all"`` every one, as for any listener. A ``TORCH_TRACE`` log,
            tlparse or your own handler on ``torch.__trace`` always gets every payload.
    """
    from compile_lens.api import trace as _trace

    return _trace(cross_check=cross_check, strict=strict, progress=progress, factors=factors,
                  bytecode=bytecode, payloads=payloads)


def piecewise(
    *,
    splitting_ops: Sequence[Any] | None = None,
    compile_sizes: Sequence[int] = (),
    dedup: bool = True,
    cache_dir: str | None = None,
    use_artifact_cache: bool = True,
    inductor_config: dict[str, Any] | None = None,
    cudagraph_sizes: Sequence[int] = (),
    cudagraph_mode: Literal["none", "piecewise", "full", "full_and_piecewise"] | None = None,
    cudagraph_full_sizes: Sequence[int] | None = None,
    parallel: bool | int | str | None = None,
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
        cudagraph_sizes: the sizes CUDA graphs are captured at (CUDA only); a call pads to the
            next size, larger calls run without graphs.
        cudagraph_mode: vLLM's modes: ``"piecewise"`` (every compiled piece captured, the
            splitting ops eager between; the default with ``cudagraph_sizes``), ``"full"`` (the
            whole graph, splitting ops included, per size), ``"full_and_piecewise"`` (full
            graphs at ``cudagraph_full_sizes``, piecewise at the other sizes), ``"none"``.
        cudagraph_full_sizes: the decode sizes of ``"full_and_piecewise"`` (full graphs).
        parallel: compile the unique pieces concurrently in worker processes: off by default
            (measured slower on a 16-core H100 host); ``"auto"`` where there are 3+ CPU cores,
            ``True`` always, ``False`` never, or a number of worker processes; ``None`` defers
            to ``$COMPILE_LENS_PARALLEL`` (``auto``, ``on``, ``off`` or a number). Serial,
            with a note saying why, without an artifact cache, with ``dedup=False`` or under
            ``trace(cross_check=True)``.
    """
    from compile_lens.backend.piecewise import PiecewiseBackend

    graphs: dict[str, Any] = {"cudagraph_sizes": cudagraph_sizes, "cudagraph_mode": cudagraph_mode,
                              "cudagraph_full_sizes": cudagraph_full_sizes}
    if splitting_ops is None:
        return PiecewiseBackend(compile_sizes=compile_sizes, dedup=dedup, cache_dir=cache_dir,
                                use_artifact_cache=use_artifact_cache,
                                inductor_config=inductor_config, parallel=parallel, **graphs)
    return PiecewiseBackend(splitting_ops=splitting_ops, compile_sizes=compile_sizes, dedup=dedup,
                            cache_dir=cache_dir, use_artifact_cache=use_artifact_cache,
                            inductor_config=inductor_config, parallel=parallel, **graphs)


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
