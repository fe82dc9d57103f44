"""Model: the root record of one trace, ``TraceRecord``, and the run metadata.

Stage 2 (model): stdlib only. ``compile_lens.Trace`` (the user-facing object) wraps a
``TraceRecord``; this module stays free of pandas, torch and display code so traces can be loaded
and analysed anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from compile_lens.model.causes import CacheDecision, FrameCompile
from compile_lens.model.events import (
    Artifact,
    CudaGraphCapture,
    CudaGraphFallback,
    InstrumentationIssue,
    Lowering,
    PassTiming,
    PieceCompile,
    Span,
)
from compile_lens.model.factors import FactorDump
from compile_lens.model.graphs import DynamoGraph, Piece

SCHEMA_VERSION = 1
FORMAT_NAME = "compile_lens.trace"


@dataclass(frozen=True, kw_only=True)
class ProcessInfo:
    """A process whose compile events the trace holds (vLLM's EngineCore and workers)."""

    name: str
    pid: int = 0
    role: str = ""
    rank: int | None = None
    complete: bool = True
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class RunInfo:
    """Versions, device and the tracer's own cost.

    ``features`` records what the installed torch offers (``standalone_key_api`` …), found by
    probing, never by version strings; ``notes`` explain degraded capabilities in plain words.
    ``tracer_overhead_s`` is the time compile_lens itself spent (hooks, parsing, its extra key
    computations), with the parts in ``overhead_breakdown``.
    """

    torch_version: str = ""
    triton_version: str | None = None
    python_version: str = ""
    platform: str = ""
    device: str = "cpu"
    cuda_version: str | None = None
    vllm_version: str | None = None
    compile_lens_version: str = ""
    started_at: str = ""
    wall_s: float = 0.0
    tracer_overhead_s: float = 0.0
    overhead_breakdown: dict[str, float] = field(default_factory=dict)
    features: dict[str, bool] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class TraceRecord:
    """Everything one ``compile_lens.trace()`` block recorded.

    ``key_lines`` maps a cache key to its factor lines (``[hash] name: value``), stored once per key.
    ``counters`` are deltas over the block (Dynamo counters, vLLM's ``compilation_counter``).
    ``frame_compiles`` and ``cache_decisions`` say why things compiled, in torch's words
    (``analysis.ledger`` joins them with ``compiles`` into the compile ledger).
    ``extra`` keeps top-level fields a newer compile_lens wrote, so they survive a load/save.
    """

    schema_version: int = SCHEMA_VERSION
    run: RunInfo = field(default_factory=RunInfo)
    graphs: list[DynamoGraph] = field(default_factory=list)
    pieces: list[Piece] = field(default_factory=list)
    compiles: list[PieceCompile] = field(default_factory=list)
    passes: list[PassTiming] = field(default_factory=list)
    lowerings: list[Lowering] = field(default_factory=list)
    captures: list[CudaGraphCapture] = field(default_factory=list)
    cudagraph_fallbacks: list[CudaGraphFallback] = field(default_factory=list)
    spans: list[Span] = field(default_factory=list)
    factors: FactorDump | None = None
    key_lines: dict[str, list[str]] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    artifacts: list[Artifact] = field(default_factory=list)
    issues: list[InstrumentationIssue] = field(default_factory=list)
    processes: list[ProcessInfo] = field(default_factory=list)
    frame_compiles: list[FrameCompile] = field(default_factory=list)
    cache_decisions: list[CacheDecision] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
