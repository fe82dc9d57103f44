"""Model: what happened while compiling a piece (keys, outcomes, passes, lowering, captures).

Stage 2 (model): stdlib only. Every record names its piece by ``(graph_id, submod)`` and, where it
depends on the compiled shape, by ``size`` (``"general"`` for the symbolic compile, ``"8"`` for an
exact size, ``"(1, 8192)"`` for a vLLM compile range).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

COMPILED = "compiled"
DEDUPLICATED = "deduplicated"
LOADED = "loaded"
CACHE_HIT = "cache_hit"
FAILED = "failed"  # the compile raised (the exception reached the user; the scope was closed)
OUTCOMES = (COMPILED, DEDUPLICATED, LOADED, CACHE_HIT, FAILED)
GENERAL_SIZE = "general"
WHOLE_MODEL = "<model>"
"""The ``submod`` of a whole-graph (FULL) CUDA graph: it captures every piece and the splitting
ops between them (vLLM's FULL mode and the embedded backend's ``cudagraph_mode="full"``)."""
CUDAGRAPH_MODES = ("NONE", "PIECEWISE", "FULL")
"""CUDA-graph runtime modes, vLLM's names: what one call ran as."""
FALLBACK_REASONS = ("above_largest_size", "static_input_moved", "not_capturable")
"""Why a call ran without a CUDA graph (``CudaGraphFallback.reason`` starts with one of these)."""


@dataclass(frozen=True, kw_only=True)
class PieceCompile:
    """One compile of one piece for one size, with both cache keys and the outcome.

    ``legacy_key`` was captured from ``autograd_cache.autograd_cache_key`` during the real compile;
    ``standalone_key`` was computed up front with ``standalone_compile.autograd_cache_key``. Their
    factor lines live in ``TraceRecord.key_lines`` under the key, so identical keys store them once.
    ``seconds`` is the whole piece compile (key, lookup, compile or load); ``key_seconds`` the part
    spent computing the standalone key.
    ``key_match`` is ``None`` when either key is missing. ``dedup_of`` names the submod whose
    artifact was reused for a ``deduplicated`` outcome.
    """

    graph_id: str
    submod: str
    size: str = GENERAL_SIZE
    outcome: str = COMPILED
    legacy_key: str | None = None
    standalone_key: str | None = None
    key_match: bool | None = None
    dedup_of: str | None = None
    seconds: float = 0.0
    key_seconds: float = 0.0
    start_s: float | None = None
    compile_id: str = ""
    artifact_path: str | None = None
    fx_keys: list[str] = field(default_factory=list)
    cache_state: str = ""
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class PassTiming:
    """Time spent in one Inductor pass or phase while compiling a piece (summed over repeats)."""

    graph_id: str
    submod: str
    size: str
    name: str
    phase: str
    seconds: float
    count: int = 1
    compile_id: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Lowering:
    """One lowering choice read from Inductor's output code.

    ``kind`` is ``cpp_kernel``, ``triton_kernel``, ``triton_template``, ``extern`` (a library call
    such as ``extern_kernels.mm``) or ``fallback`` (an ATen op run as-is). ``ops`` are the original
    ATen ops the kernel implements; ``nodes`` the FX nodes it came from.
    """

    graph_id: str
    submod: str
    size: str
    kind: str
    name: str
    ops: list[str] = field(default_factory=list)
    nodes: list[str] = field(default_factory=list)
    compile_id: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class CudaGraphCapture:
    """One CUDA-graph capture of a piece (or, ``submod == "<model>"``, of the whole model) at one
    batch size.

    ``mode`` is the CUDA-graph runtime mode that captured it (vLLM's ``PIECEWISE`` or ``FULL``;
    empty in traces recorded before modes were recorded). ``memory_bytes`` is what the graph pool
    grew by during the capture; ``held_bytes`` the device memory reserved right after it (what
    the process holds once this graph exists); ``replays`` how often the graph ran inside the
    trace, with ``tokens`` real tokens in all and ``padded_tokens`` (``replays * size - tokens``)
    of padding: the waste of running a call of ``n`` tokens in the graph of size ``size``.
    Warm-up and capture seconds are in ``extra`` (``warmup_seconds``, ``capture_seconds``).
    """

    graph_id: str
    submod: str
    size: int
    seconds: float
    memory_bytes: int = 0
    replays: int = 0
    mode: str = ""
    tokens: int = 0
    padded_tokens: int = 0
    held_bytes: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class CudaGraphFallback:
    """Calls of a piece (or, ``submod == "<model>"``, of the whole graph) that ran without a CUDA
    graph, counted per reason.

    ``reason`` is one of ``FALLBACK_REASONS`` (``above_largest_size``: more tokens than the
    largest capture size; ``static_input_moved``: a parameter or buffer the graph reads in place
    has a new address; ``not_capturable``), optionally followed by ``": "`` and plain words.
    ``mode`` is the mode the call would have run in; ``tokens`` the real tokens of those calls.
    """

    graph_id: str
    submod: str
    mode: str = ""
    reason: str
    calls: int = 0
    tokens: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Span:
    """An interval on the compile timeline, in seconds since the trace started.

    ``category`` is ``dynamo``, ``split``, ``key``, ``compile``, ``load``, ``capture``, ``worker``
    (a piece compiled in a worker process, ``backend/parallel.py``) or ``tracer`` (the tracer's
    own time, shown separately).
    """

    name: str
    category: str
    start_s: float
    end_s: float
    graph_id: str = ""
    submod: str = ""
    size: str = ""
    process: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class InstrumentationIssue:
    """A hook that failed while observing; the user's compile went on (fail open)."""

    hook: str
    message: str
    error_type: str = ""
    count: int = 1
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Artifact:
    """A file the compiler wrote that the trace points at (vLLM's cache files, output code)."""

    name: str
    path: str
    content: str | None = None
    process: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
