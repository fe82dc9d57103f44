"""Rules for vLLM's own structured-trace artifacts (what vLLM writes for TORCH_TRACE/tlparse).

vLLM reports its piecewise compilation itself, independently of compile_lens' wrappers:

* ``artifact:vllm_compilation_config``: mode, backend, splitting ops, CUDA-graph mode, compile sizes;
* ``graph_dump`` named ``vllm_piecewise_split_graph``: the split graph (which submodules exist);
* ``artifact:vllm_piecewise_compile_start``: one piece compile (submodule, index, compile range,
  whether the range is a CUDA-graph capture size);
* ``graph_dump`` named ``vllm_<submod>`` (a piece's graph) or ``vllm_post_grad.<N>.<pass>`` (vLLM's
  pass graphs, newer vLLM), ``artifact:vllm_execution_code`` (the stitching code).

They become ``run.extra["vllm_account"]`` (vLLM's account of the run, per process) and, for a graph
compile_lens' own events did not describe, the trace's pieces and piece compiles, so a TORCH_TRACE
of a plain vLLM run opens with its split and its pieces × compile ranges. A compile start also opens
a piece scope, so torch's cache and lowering records that follow attach to that piece.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from compile_lens.model import GENERAL_SIZE
from compile_lens.record.raw import RawEvent
from compile_lens.record.stats import Malformed, json_body

if TYPE_CHECKING:
    from compile_lens.record.recorder import TraceBuilder

_SUBMOD_CALL = re.compile(r"^\s+(?:\w+(?:,\s*\w+)*\s*=\s*)?self\.(submod_\d+)\(")


def size_label(start: Any, end: Any) -> str:
    """vLLM's compile range as compile_lens labels sizes: ``"8"`` or ``"(1, 8192)"``."""
    if start is None:
        return GENERAL_SIZE
    return str(start) if start == end else f"({start}, {end})"


def _account(builder: TraceBuilder, event: RawEvent) -> dict[str, Any]:
    return builder.vllm_account.setdefault(event.process or "main", {})


def on_config(builder: TraceBuilder, event: RawEvent) -> None:
    """``vllm_compilation_config``: kept as vLLM wrote it (per process)."""
    _account(builder, event)["config"] = json_body(event)


def on_compile_start(builder: TraceBuilder, event: RawEvent) -> None:
    """One piece compile as vLLM reports it; opens a piece scope unless compile_lens' is open."""
    body = json_body(event)
    submod = str(body.get("submod_name") or "")
    if not submod:
        msg = "vllm_piecewise_compile_start without submod_name"
        raise Malformed(msg)
    size = size_label(body.get("compile_range_start"), body.get("compile_range_end"))
    row = {"compile_id": event.compile_id, "submod": submod, "size": size,
           "index": body.get("piecewise_index"), "total": body.get("total_piecewise_compiles"),
           "cudagraph_size": bool(body.get("is_cudagraph_capture_size"))}
    _account(builder, event).setdefault("compiles", []).append(row)
    builder.vllm_compile_start(event, submod, size, row)


def on_graph_dump(builder: TraceBuilder, event: RawEvent) -> None:
    """vLLM's graph dumps: the split graph, a piece's graph, a pass graph."""
    name = str((event.metadata.get("graph_dump") or {}).get("name", ""))
    account = _account(builder, event)
    if name == "vllm_piecewise_split_graph":
        submods = []
        for line in (event.payload or "").splitlines():
            if (m := _SUBMOD_CALL.match(line)) and m.group(1) not in submods:
                submods.append(m.group(1))
        if not submods:
            msg = "vllm_piecewise_split_graph names no submodule"
            raise Malformed(msg)
        account.setdefault("splits", []).append({"compile_id": event.compile_id,
                                                 "submods": submods})
        builder.vllm_split(event, submods)
    elif name.startswith("vllm_post_grad."):
        account.setdefault("pass_graphs", []).append({"compile_id": event.compile_id,
                                                      "name": name.removeprefix("vllm_")})
    elif name.startswith("vllm_"):
        account.setdefault("piece_graphs", []).append({"compile_id": event.compile_id,
                                                       "submod": name.removeprefix("vllm_")})
    # other dumps (Inductor's AOT kernel and wrapper code) are known and not parsed yet


def on_execution_code(builder: TraceBuilder, event: RawEvent) -> None:
    """``vllm_execution_code``: the code that stitches the pieces (its size is kept, not the text)."""
    _account(builder, event).setdefault("execution_code", []).append(
        {"compile_id": event.compile_id, "chars": len(event.payload or "")})


HANDLERS = {
    "artifact:vllm_compilation_config": on_config,
    "artifact:vllm_piecewise_compile_start": on_compile_start,
    "artifact:vllm_execution_code": on_execution_code,
    "graph_dump": on_graph_dump,
}
