"""Observe what runs inside and after a piece compile: vLLM passes, IR lowering, CUDA graphs.

Stage 1 (instrument).

* Pass timings: ``VllmInductorPass.end_and_log`` runs at the end of every timed vLLM pass
  (``time_and_log``); after it, ``pass_name`` and the two ``perf_counter_ns`` stamps give the time
  (docs/design/vllm-hooks.md §4). Passes run inside Inductor during the real compile of a piece, so the piece
  comes from the ``PIECE`` context of the ``CompilerManager.compile`` wrapper. No pass runs on a
  load, a dedup or an AOTAutograd cache hit.
* Lowering: after ``VllmIRLoweringPass.__call__``, ``selected_impls`` (op → node → provider) says
  which implementation each ``vllm_ir`` op was lowered to (§4).
* CUDA graphs: the static graph wrapper's ``__call__`` captures when the forward context's mode
  matches and the batch descriptor has no graph yet (§5); we decide that *before* calling, time
  the call, and count replays in memory (reported by ``report_replays``). Tensors and streams are
  never touched.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from compile_lens import _events
from compile_lens.instrument.vllm import _state
from compile_lens.instrument.vllm._state import GUARD, emit
from compile_lens.model.events import WHOLE_MODEL  # a FULL graph's submod, shared with backend/


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
    emit(_events.VLLM_PASS, {**_where(), "name": str(getattr(vllm_pass, "pass_name", "")),
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
        emit(_events.VLLM_LOWERING, {**_where(), "impls": impls})


def wrap_lowering_call(original: Any) -> Any:
    """Class-level wrapper of ``VllmIRLoweringPass.__call__`` (reads ``selected_impls`` after)."""

    @functools.wraps(original)
    def __call__(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        GUARD.run("vllm.lowering", _report_lowering, self)
        return result

    return __call__


_REPLAYS: Counter[tuple[str, str, int, str, bool]] = Counter()
"""``(graph_key, submod, num_tokens, mode, uniform)`` → replays since the observers' install."""


def reset() -> None:
    """Forget the replays counted so far (a new ``trace()`` block counts its own)."""
    _REPLAYS.clear()
    _CONFIG_SEEN.clear()


def _piece_of(wrapper: Any) -> tuple[str, str] | None:
    """``(graph_key, submod)`` of the runnable a static graph wrapper captures.

    A piece (a ``PiecewiseBackend``) knows its backend and submodule; any other runnable is the
    whole model, captured by vLLM's FULL mode, and is filed under the process's model graph.
    """
    runnable = wrapper.__dict__.get("runnable")
    if runnable is None:
        return None
    index = getattr(runnable, "piecewise_compile_index", None)
    submod = getattr(runnable, "submod_name", "") or ""
    if index is None and not submod:
        model = _state.model_graph()
        return (model.graph_key, WHOLE_MODEL) if model is not None else None
    info = _state.BACKENDS.get(getattr(runnable, "vllm_backend", None))
    if info is None:
        warm = _state.WARM.get()
        info = warm[0] if warm else _state.model_graph()
    if info is None:
        return None
    if not submod and isinstance(index, int) and index < len(info.compiled_submods):
        submod = info.compiled_submods[index]
    return info.graph_key, submod or f"piece_{index}"


@dataclass(frozen=True)
class _Capture:
    graph_key: str
    submod: str
    size: int
    mode: str
    uniform: bool
    num_reqs: int | None


def _will_capture(wrapper: Any) -> _Capture | None:
    """The capture this call is about to make, or ``None`` (a replay is counted here)."""
    forward_context = _state.vllm_module("vllm.forward_context")
    if not forward_context.is_forward_context_available():
        return None
    context = forward_context.get_forward_context()
    mode, descriptor = context.cudagraph_runtime_mode, context.batch_descriptor
    if (descriptor is None or getattr(mode, "name", "NONE") == "NONE"
            or mode != wrapper.__dict__.get("runtime_mode")):
        return None
    piece = _piece_of(wrapper)
    if piece is None:
        return None
    size = int(getattr(descriptor, "num_tokens", 0) or 0)
    uniform = bool(getattr(descriptor, "uniform", False))
    entry = (wrapper.__dict__.get("concrete_cudagraph_entries") or {}).get(descriptor)
    if entry is not None and getattr(entry, "cudagraph", None) is not None:
        _REPLAYS[(piece[0], piece[1], size, str(mode.name), uniform)] += 1
        return None
    reqs = getattr(descriptor, "num_reqs", None)
    return _Capture(piece[0], piece[1], size, str(mode.name), uniform,
                    int(reqs) if isinstance(reqs, int) else None)


def _memory() -> tuple[int, int]:
    """``(allocated, reserved)`` device bytes; zeros where CUDA is not initialized (never
    initializes it: this runs in vLLM's worker, where the model already lives on the GPU)."""
    import torch

    if not torch.cuda.is_initialized():
        return 0, 0
    return int(torch.cuda.memory_allocated()), int(torch.cuda.memory_reserved())


def wrap_static_graph_call(original: Any) -> Any:
    """Class-level wrapper of the platform's static graph wrapper ``__call__``."""

    @functools.wraps(original)
    def __call__(self: Any, *args: Any, **kwargs: Any) -> Any:
        capture = GUARD.run("vllm.cudagraph", _will_capture, self)
        if capture is None:
            return original(self, *args, **kwargs)
        GUARD.run("vllm.cudagraph", _report_config, self)
        before, start = GUARD.run("vllm.cudagraph", _memory) or (0, 0), time.perf_counter()
        result = original(self, *args, **kwargs)
        seconds = time.perf_counter() - start
        after = GUARD.run("vllm.cudagraph", _memory) or (0, 0)
        emit(_events.CAPTURE, {"graph_key": capture.graph_key, "submod": capture.submod,
                         "size": capture.size, "mode": capture.mode, "uniform": capture.uniform,
                         "num_reqs": capture.num_reqs, "seconds": seconds,
                         "memory_bytes": max(after[1] - before[1], 0),
                         "allocated_bytes": after[0] - before[0]})
        return result

    return __call__


CAPTURE_LOGGERS = ("vllm.v1.worker.gpu_model_runner", "vllm.v1.worker.gpu.model_runner")
"""Where vLLM logs its own account of the capture phase (the model runners, v1 and v2)."""
CAPTURE_MESSAGE = "Graph capturing finished"


class CaptureAccountHandler(logging.Handler):
    """Reads vLLM's own "Graph capturing finished in X secs, took Y GiB" record.

    A handler on the model runner's logger sees the record with its unrounded arguments; the
    record still reaches every other handler unchanged. Nothing is read at ``DEBUG`` cost: the
    message is logged once per capture phase.
    """

    def emit(self, record: logging.LogRecord) -> None:
        if not str(record.msg).startswith(CAPTURE_MESSAGE):
            return
        args = record.args if isinstance(record.args, tuple) else ()
        numbers = [float(a) for a in args if isinstance(a, int | float)]
        GUARD.run("vllm.capture_account", emit, _events.VLLM_CUDAGRAPHS, {
            "vllm_seconds": numbers[0] if numbers else None,
            "vllm_gib": numbers[1] if len(numbers) > 1 else None,
            "vllm_message": record.getMessage()})


def install_capture_account() -> Any:
    """Listen for vLLM's capture-phase account; returns the undo."""
    handler = CaptureAccountHandler(level=logging.DEBUG)
    loggers = [logging.getLogger(name) for name in CAPTURE_LOGGERS]
    for logger in loggers:
        logger.addHandler(handler)

    def undo() -> None:
        for logger in loggers:
            logger.removeHandler(handler)

    return undo


_CONFIG_SEEN: set[int] = set()


def _report_config(wrapper: Any) -> None:
    """vLLM's CUDA-graph settings, once per process: mode and capture sizes."""
    _report_config_of(wrapper.__dict__.get("compilation_config"))


def _report_config_of(config: Any) -> None:
    if config is None or id(config) in _CONFIG_SEEN:
        return
    _CONFIG_SEEN.add(id(config))
    mode = getattr(config, "cudagraph_mode", None)
    sizes = getattr(config, "cudagraph_capture_sizes", None) or []
    emit(_events.VLLM_CUDAGRAPHS, {"cudagraph_mode": str(getattr(mode, "name", mode)),
                             "capture_sizes": [int(x) for x in sizes]})


def wrap_manager_capture(original: Any) -> Any:
    """Class-level wrapper of the V2 model runner's ``CudaGraphManager.capture``.

    The V2 runner captures its FULL graphs with ``torch.cuda.graph`` itself and keeps them in
    ``self.graphs`` (descriptor → graph); PIECEWISE graphs are captured inside the same call by
    the pieces' static graph wrappers (observed there). While the call runs, ``torch.cuda.graph``'s
    enter and exit are timed (outside the capture itself); when it returns, every new descriptor
    in ``self.graphs`` becomes one FULL capture, with the time and pool growth of its graph.
    """

    @functools.wraps(original)
    def capture(self: Any, *args: Any, **kwargs: Any) -> Any:
        before = set(getattr(self, "graphs", {}) or {})
        timings: dict[int, tuple[float, int, int]] = {}
        scope = GUARD.run("vllm.cudagraph", _timing_graph_contexts, timings)
        try:
            with scope if scope is not None else contextlib.nullcontext():
                return original(self, *args, **kwargs)
        finally:
            GUARD.run("vllm.cudagraph", _report_manager_captures, self, before, timings)

    return capture


def _timing_graph_contexts(timings: dict[int, tuple[float, int, int]]) -> Any:
    """Time each ``torch.cuda.graph`` block, keyed by the id of the graph it captures into."""
    from compile_lens._torch.patching import Patch, patched

    starts: dict[int, tuple[float, int, int]] = {}

    def make_enter(original: Any) -> Any:
        def __enter__(self: Any) -> Any:
            starts[id(self)] = (time.perf_counter(), *_memory())
            return original(self)

        return __enter__

    def make_exit(original: Any) -> Any:
        def __exit__(self: Any, *exc: Any) -> Any:
            result = original(self, *exc)
            start = starts.pop(id(self), None)
            graph = getattr(self, "cuda_graph", None)
            if start is not None and graph is not None:
                allocated, reserved = _memory()
                timings[id(graph)] = (time.perf_counter() - start[0], allocated - start[1],
                                      reserved - start[2])
            return result

        return __exit__

    why = "time the V2 model runner's FULL captures (only during its capture phase)"
    return patched(Patch("torch.cuda.graphs:graph.__enter__", make_enter, why=why),
                   Patch("torch.cuda.graphs:graph.__exit__", make_exit, why=why))


def _report_manager_captures(manager: Any, before: set[Any],
                             timings: dict[int, tuple[float, int, int]]) -> None:
    model = _state.model_graph()
    if model is None:
        return
    for desc, graph in list((getattr(manager, "graphs", {}) or {}).items()):
        if desc in before:
            continue
        seconds, allocated, reserved = timings.get(id(graph), (0.0, 0, 0))
        mode = getattr(getattr(desc, "cg_mode", None), "name", "FULL")
        reqs = getattr(desc, "num_reqs", None)
        emit(_events.CAPTURE, {"graph_key": model.graph_key, "submod": WHOLE_MODEL,
                         "size": int(getattr(desc, "num_tokens", 0) or 0), "mode": mode,
                         "uniform": getattr(desc, "uniform_token_count", None) is not None,
                         "num_reqs": int(reqs) if isinstance(reqs, int) else None,
                         "seconds": seconds, "memory_bytes": max(reserved, 0),
                         "allocated_bytes": allocated})
    _report_config_of(getattr(manager, "compilation_config", None))


def wrap_run_fullgraph(original: Any) -> Any:
    """Class-level wrapper of ``CudaGraphManager.run_fullgraph``: one counter per replay."""

    @functools.wraps(original)
    def run_fullgraph(self: Any, desc: Any, *args: Any, **kwargs: Any) -> Any:
        GUARD.run("vllm.cudagraph", _count_full_replay, desc)
        return original(self, desc, *args, **kwargs)

    return run_fullgraph


def _count_full_replay(desc: Any) -> None:
    model = _state.model_graph()
    if model is not None:
        _REPLAYS[(model.graph_key, WHOLE_MODEL, int(getattr(desc, "num_tokens", 0) or 0),
                  str(getattr(getattr(desc, "cg_mode", None), "name", "FULL")),
                  getattr(desc, "uniform_token_count", None) is not None)] += 1


def report_replays() -> None:
    """Emit the replay counts seen so far, one ``replays`` event per graph (cumulative)."""
    by_graph: dict[str, list[dict[str, Any]]] = {}
    for (graph_key, submod, size, mode, uniform), n in sorted(_REPLAYS.items()):
        by_graph.setdefault(graph_key, []).append(
            {"submod": submod, "size": size, "mode": mode, "uniform": uniform, "replays": n})
    for graph_key, rows in by_graph.items():
        emit(_events.REPLAYS, {"graph_key": graph_key, "rows": rows})
