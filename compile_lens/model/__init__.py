"""The trace model: plain, frozen, JSON-serialisable records (stage 2; stdlib only)."""

from compile_lens.model.events import (
    CACHE_HIT,
    COMPILED,
    DEDUPLICATED,
    FAILED,
    GENERAL_SIZE,
    LOADED,
    OUTCOMES,
    WHOLE_MODEL,
    Artifact,
    CudaGraphCapture,
    CudaGraphFallback,
    InstrumentationIssue,
    Lowering,
    PassTiming,
    PieceCompile,
    Span,
)
from compile_lens.model.factors import FactorDump, PieceKeys
from compile_lens.model.graphs import WHOLE_GRAPH, DynamoGraph, GraphNode, Piece
from compile_lens.model.serialize import read_trace, trace_from_json, trace_to_json
from compile_lens.model.trace import SCHEMA_VERSION, ProcessInfo, RunInfo, TraceRecord

__all__ = [
    "CACHE_HIT",
    "COMPILED",
    "DEDUPLICATED",
    "FAILED",
    "GENERAL_SIZE",
    "LOADED",
    "OUTCOMES",
    "SCHEMA_VERSION",
    "WHOLE_GRAPH",
    "WHOLE_MODEL",
    "Artifact",
    "CudaGraphCapture",
    "CudaGraphFallback",
    "DynamoGraph",
    "FactorDump",
    "GraphNode",
    "InstrumentationIssue",
    "Lowering",
    "PassTiming",
    "Piece",
    "PieceCompile",
    "PieceKeys",
    "ProcessInfo",
    "RunInfo",
    "Span",
    "TraceRecord",
    "read_trace",
    "trace_from_json",
    "trace_to_json",
]
