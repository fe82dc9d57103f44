"""Observe what runs inside and after a piece compile: vLLM passes, IR lowering, CUDA graphs.

Stage 1 (instrument).

* Pass timings: ``VllmInductorPass.end_and_log`` runs at the end of every timed vLLM pass
  (``time_and_log``); after it, ``pass_name`` and the two ``perf_counter_ns`` stamps give the time
  (vllm-hooks §5.3). Passes run inside Inductor during the real compile of a piece, so the piece
  comes from the ``PIECE`` context of the ``CompilerManager.compile`` wrapper. No pass runs on a
  load, a dedup or an AOTAutograd cache hit.
* Lowering: after ``VllmIRLoweringPass.__call__``, ``selected_impls`` (op → node → provider) says
  which implementation each ``vllm_ir`` op was lowered to (§5.4).
* CUDA graphs: the static graph wrapper's ``__call__`` captures when the forward context's mode
  matches and the batch descriptor has no graph yet (§6.1); we decide that *before* calling, time
  the call, and count replays in memory (reported by ``report_replays``). Tensors and streams are
  never touched.
"""

from __future__ import annotations

import functools
import time
from collections import Counter
from typing import Any

from compile_lens.instrument.vllm import _state
from compile_lens.instrument.vllm._state import GUARD, emit

_REPLAYS: Counter[tuple[str, str, int]] = Counter()


def _where() -> dict[str, Any]:
    frame = _state.PIECE.get()
    if frame is None:
        return {}
    return {"graph_key": frame.info.graph_key, "submod": frame.submod, "size": frame.size}


def _report_pass(vllm_pass: Any) -> None:
    start, end = getattr(vllm_pass, "_start_time", None), getattr(vllm_pass, "_end_time", None)
    if not isinstance(start, int) or not isinstance(end, int):
        return
    ordinal = getattr(type(vllm_pass), "dump_prefix", None)
    emit("vllm_pass", {**_where(), "name": str(getattr(vllm_pass, "pass_name", "")),
                       "seconds": (end - start) / 1e9,
                       "ordinal": ordinal if isinstance(ordinal, int) else None})


def wrap_end_and_log(original: Any) -> Any:
    """Class-level wrapper of ``VllmInductorPass.end_and_log``."""

    @functools.wraps(original)
    def end_and_log(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        GUARD.run("vllm.pass_timing", _report_pass, self)
        return result

    return end_and_log


def _report_lowering(lowering_pass: Any) -> None:
    selected = getattr(lowering_pass, "selected_impls", None) or {}
    impls = {str(op): {str(n): str(p) for n, p in dict(nodes).items()}
             for op, nodes in dict(selected).items()}
    if impls:
        emit("vllm_lowering", {**_where(), "impls": impls})


def wrap_lowering_call(original: Any) -> Any:
    """Class-level wrapper of ``VllmIRLoweringPass.__call__`` (reads ``selected_impls`` after)."""

    @functools.wraps(original)
    def __call__(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        GUARD.run("vllm.lowering", _report_lowering, self)
        return result

    return __call__


def _piece_of(wrapper: Any) -> tuple[str, str] | None:
    runnable = wrapper.__dict__.get("runnable")
    info = _state.BACKENDS.get(getattr(runnable, "vllm_backend", None))
    if info is None:
        warm = _state.WARM.get()
        info = warm[0] if warm else None
    if info is None or runnable is None:
        return None
    submod = getattr(runnable, "submod_name", "") or ""
    index = getattr(runnable, "piecewise_compile_index", None)
    if not submod and isinstance(index, int) and index < len(info.compiled_submods):
        submod = info.compiled_submods[index]
    return info.graph_key, submod or f"piece_{index}"


def _will_capture(wrapper: Any) -> tuple[tuple[str, str], int] | None:
    """``((graph_key, submod), num_tokens)`` if this call is about to capture a CUDA graph."""
    from vllm.forward_context import get_forward_context, is_forward_context_available

    if not is_forward_context_available():
        return None
    context = get_forward_context()
    mode, descriptor = context.cudagraph_runtime_mode, context.batch_descriptor
    if (descriptor is None or getattr(mode, "name", "NONE") == "NONE"
            or mode != wrapper.__dict__.get("runtime_mode")):
        return None
    piece = _piece_of(wrapper)
    if piece is None:
        return None
    size = int(getattr(descriptor, "num_tokens", 0) or 0)
    entry = (wrapper.__dict__.get("concrete_cudagraph_entries") or {}).get(descriptor)
    if entry is not None and getattr(entry, "cudagraph", None) is not None:
        _REPLAYS[(piece[0], piece[1], size)] += 1
        return None
    return piece, size


def _memory() -> int:
    import torch

    return int(torch.cuda.memory_allocated()) if torch.cuda.is_available() else 0


def wrap_static_graph_call(original: Any) -> Any:
    """Class-level wrapper of the platform's static graph wrapper ``__call__``."""

    @functools.wraps(original)
    def __call__(self: Any, *args: Any, **kwargs: Any) -> Any:
        capture = GUARD.run("vllm.cudagraph", _will_capture, self)
        if capture is None:
            return original(self, *args, **kwargs)
        memory, start = GUARD.run("vllm.cudagraph", _memory) or 0, time.perf_counter()
        result = original(self, *args, **kwargs)
        seconds = time.perf_counter() - start
        used = (GUARD.run("vllm.cudagraph", _memory) or 0) - memory
        (graph_key, submod), size = capture
        emit("capture", {"graph_key": graph_key, "submod": submod, "size": size,
                         "seconds": seconds, "memory_bytes": max(used, 0)})
        return result

    return __call__


def report_replays() -> None:
    """Emit the replay counts seen so far, one ``replays`` event per graph."""
    by_graph: dict[str, dict[str, int]] = {}
    for (graph_key, submod, size), n in sorted(_REPLAYS.items()):
        by_graph.setdefault(graph_key, {})[f"{submod}|{size}"] = n
    for graph_key, counts in by_graph.items():
        emit("replays", {"graph_key": graph_key, "counts": counts})
