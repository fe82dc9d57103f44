"""CUDA graphs of compiled pieces (PIECEWISE) and of whole compiled graphs (FULL, ``full_graph``).

Stage: backend (a compiler feature, not an observer). It follows vLLM's ``CUDAGraphWrapper``
(docs/design/vllm-hooks.md §5); this module is the piecewise wrapper, ``full_graph.py`` the
whole-graph one built on it:

* **lazy capture**: the first call whose size pads to capture size ``s`` captures the piece at
  ``s`` (one warm-up run, then the capture); vLLM's model runner makes those first calls for
  every size at start-up, largest first, and ``capture_sizes()`` does the same here;
* **static input buffers**: tensors with the dynamic size are copied into buffers of their shape
  at ``s`` (padding: rows past ``n`` are left as they are, and sliced off); module parameters and
  buffers (marked static by Dynamo) are read in place and their addresses checked per replay; an
  input that is an earlier piece's static output is used as is, and an input an earlier piece
  already copied in this forward is not copied again;
* **one memory pool** per backend, shared by every piece and size (``graph_pool_handle()``);
* sizes above the largest capture size run the compiled piece without a graph;
* while a FULL graph of the whole model is warmed up or captured (``GraphContext.full_active``)
  the pieces run through without graphs of their own (one graph cannot capture another).

Recording costs nothing per step: each capture emits ``compile_lens_capture`` (mode, seconds,
memory); a replay is one integer increment on its plan (its real size ``n`` is on the plan, so
padding needs no second counter); a call without a graph counts per reason. All of it goes out
as ``compile_lens_replays`` (rows and fallbacks) from ``report_replays()``.

A piece belongs to the ``trace()`` block that compiled it (``_session.current()`` when it was
built; ``None`` when compiled untraced): its captures and replays are reported to that block only.
A later block that runs the same compiled model never sees them as graphs of its own (it did not
compile them, so it has no record of those graphs), and every block's replay counts are its own.
"""

from __future__ import annotations

import bisect
import time
import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch

from compile_lens import _events, _session
from compile_lens.backend.graph_memory import (
    LAST_SEQ,
    Buffer,
    Entry,
    GraphContext,
    Plan,
    flat,
    is_static_address,
)
from compile_lens.backend.padding import SYM, TENSOR, SizeSpec, evaluate, narrow_to, shape_at

_LIVE: weakref.WeakSet[CudaGraphPiece] = weakref.WeakSet()
_ACTIVE: Any = object()  # report_replays' default: the active trace() block
STATIC_PIECE_SIZE = 0  # the size label of a piece without a dynamic dimension (one capture)
ABOVE_LARGEST, STATIC_MOVED = "above_largest_size", "static_input_moved"
_PTRS_EQUAL: Any = getattr(torch._C, "_tensors_data_ptrs_at_indices_equal", None)
"""torch's one-shot C++ check of input addresses (CUDA builds; cudagraph trees use it)."""


def capture_seq() -> int:
    """A number that grows with every capture: pass it to ``report_replays(since=...)``."""
    return LAST_SEQ[0]


def report_replays(since: int = 0, session: Any = _ACTIVE) -> int:
    """Emit ``compile_lens_replays`` (one per graph) for graphs captured after ``since``.

    Each row is one captured graph: ``replays``, real ``tokens`` and ``padded_tokens``; each
    fallback row counts the calls of a piece (or of ``<model>``) that ran without a graph, per
    reason. Only wrappers compiled in ``session`` count (default: the active ``trace()`` block;
    ``None``: compiled untraced), so counts are totals since each capture, all inside that block.
    Returns the number of events emitted.
    """
    owner = _session.current() if session is _ACTIVE else session
    rows: dict[str, list[dict[str, Any]]] = {}
    fallbacks: dict[str, list[dict[str, Any]]] = {}
    for piece in sorted(list(_LIVE), key=lambda p: (p.graph_key, p.submod)):
        if piece.session is not owner:
            continue
        reported = piece.created_seq >= since
        for size, entry in sorted(piece.entries.items()):
            if entry.seq > since:
                reported = True
                replays, tokens = entry.replays, entry.tokens
                rows.setdefault(piece.graph_key, []).append({
                    "submod": piece.submod, "size": size, "mode": piece.mode, "uniform": False,
                    "replays": replays, "tokens": tokens, "padded_tokens": replays * size - tokens})
        if reported:
            for reason, (calls, tokens) in sorted(piece.fallbacks.items()):
                fallbacks.setdefault(piece.graph_key, []).append({
                    "submod": piece.submod, "mode": piece.mode, "reason": reason,
                    "calls": calls, "tokens": tokens})
    keys = sorted(set(rows) | set(fallbacks))
    for graph_key in keys:
        body = _events.Replays(graph_key=graph_key, rows=rows.get(graph_key, []))
        if graph_key in fallbacks:
            body["fallbacks"] = fallbacks[graph_key]
        _events.emit(_events.REPLAYS, body)
    return len(keys)


def capture_sizes(fn: Callable[..., Any], make_inputs: Callable[[int], Sequence[Any]],
                  sizes: Iterable[int]) -> None:
    """Call ``fn`` once per size, largest first, so every capture happens now (vLLM's start-up)."""
    for size in sorted(set(sizes), reverse=True):
        fn(*make_inputs(size))


class CudaGraphPiece:
    """Runs one compiled piece through CUDA graphs, one per capture size.

    Args:
        piece: the compiled piece (a ``PieceRunner``): what is warmed up and captured.
        spec: how its inputs and outputs depend on the dynamic size (``padding.build_spec``).
        sizes: the capture sizes.
        context: the backend's shared pool, stream and static memory.
        graph_key, submod: names for the events.
        clone_outputs: return fresh tensors (for pieces whose outputs leave the graph).
        static_size: the size label of a piece without a dynamic dimension.
        count_above: count calls above the largest size as fallbacks (``False`` under a FULL
            wrapper of the whole graph, which counts them once for the whole model).
    """

    mode = "PIECEWISE"

    def __init__(self, piece: Callable[..., Any], spec: SizeSpec, sizes: Sequence[int],
                 context: GraphContext, *, graph_key: str, submod: str,
                 clone_outputs: bool = False, static_size: int = STATIC_PIECE_SIZE,
                 count_above: bool = True) -> None:
        self.piece, self.spec, self.context = piece, spec, context
        self.sizes = sorted({int(s) for s in sizes})
        self.graph_key, self.submod = graph_key, submod
        self.clone_outputs, self.static_size = clone_outputs, static_size
        self.count_above = count_above
        self.entries: dict[int, Entry] = {}
        self.plans: dict[int, Any] = {}
        self.fallbacks: dict[str, list[int]] = {}  # reason -> [calls, tokens]
        self._locate = spec.locate
        self._single = spec.single_output
        self.session = _session.current()  # the trace() block that compiled it (None: untraced)
        self.created_seq = LAST_SEQ[0]
        _LIVE.add(self)

    @property
    def eager_calls(self) -> int:
        """Calls above the largest capture size (run without a graph)."""
        return self.fallbacks.get(ABOVE_LARGEST, [0])[0]

    @property
    def address_misses(self) -> int:
        """Calls whose parameters or buffers had moved since the capture (run without a graph)."""
        return self.fallbacks.get(STATIC_MOVED, [0])[0]

    def size_of(self, args: tuple[Any, ...]) -> int:
        """The dynamic size of a call (the static size label for a piece without one)."""
        locate = self._locate
        if locate is None:
            return self.static_size
        i, d = locate
        return args[i] if d is None else args[i].shape[d]

    def __call__(self, *args: Any) -> Any:
        """The hot path: one dict lookup, the copies that are needed, one replay."""
        locate = self._locate
        if locate is None:
            n = self.static_size
        else:
            i, d = locate
            n = args[i] if d is None else args[i].shape[d]
        plan = self.plans.get(n)
        if plan is None:
            return self._first_call(int(n), args)
        return self._replay(plan, args)

    def _replay(self, plan: Plan, args: tuple[Any, ...]) -> Any:
        entry = plan.entry
        if entry.indices:
            if _PTRS_EQUAL is not None:
                if not _PTRS_EQUAL(list(args), entry.ptrs, entry.indices):
                    return self._address_miss(plan.n, args)
            else:
                for i, ptr in entry.addresses:
                    if args[i].data_ptr() != ptr:
                        return self._address_miss(plan.n, args)
        for i, view, buf, owner in plan.copies:
            value = args[i]
            if owner or value is not buf.src:
                if value.data_ptr() != buf.ptr:
                    view.copy_(value)
                buf.src = value
        entry.graph.replay()
        plan.calls += 1
        out = plan.outputs
        if self.clone_outputs:
            out = tuple(o.clone() if isinstance(o, torch.Tensor) else o for o in out)
        return out[0] if self._single else out

    # -- first call of a size -----------------------------------------------------------------
    def capture_size_for(self, n: int) -> int | None:
        """The capture size a call with ``n`` runs at (``None``: above the largest, no graph)."""
        if self._locate is None:
            return n if not self.sizes or n <= self.sizes[-1] else None
        i = bisect.bisect_left(self.sizes, n)
        return self.sizes[i] if i < len(self.sizes) else None

    def _first_call(self, n: int, args: tuple[Any, ...]) -> Any:
        if self.context.full_active:  # inside a FULL warm-up or capture: no graph of our own
            return self.piece(*args)
        size = self.capture_size_for(n)
        if size is None:
            if self.count_above:
                self._fallback(ABOVE_LARGEST, n)
            return self.piece(*args)
        return self._replay(self._plan_for(size, n, args), args)

    def _plan_for(self, size: int, n: int, args: tuple[Any, ...]) -> Plan:
        """The plan of ``n`` in the graph at ``size`` (captured now if it is the first)."""
        entry = self.entries.get(size) or self._capture(size, n, args)
        plan = self.plans[n] = self._plan(entry, n)
        return plan

    def _fallback(self, reason: str, n: int) -> None:
        counts = self.fallbacks.get(reason)
        if counts is None:
            counts = self.fallbacks[reason] = [0, 0]
        counts[0] += 1
        counts[1] += n

    def _reported(self) -> bool:
        """Whether events of this piece go to the active block (the one that compiled it)."""
        return self.session is _session.current()

    def _address_miss(self, n: int, args: tuple[Any, ...]) -> Any:
        if not self.address_misses and self._reported():
            _events.emit(_events.NOTE, {"message": (
                f"{self.graph_key} {self.submod}: a parameter or buffer moved since its CUDA graph "
                "was captured; that call ran without the graph")})
        self._fallback(STATIC_MOVED, n)
        return self.piece(*args)

    def _plan(self, entry: Entry, n: int) -> Plan:
        symbol, specs = self.spec.symbol, self.spec.args
        copies = []
        for i, (buf, owner) in sorted(entry.buffers.items()):
            view = buf.tensor if n == entry.size else narrow_to(buf.tensor, specs[i], symbol, n)
            copies.append((i, view, buf, owner))
        outputs = []
        for value, spec in zip(entry.outputs, self.spec.outs, strict=True):
            if n != entry.size and spec.kind == TENSOR and spec.dynamic_dims:
                outputs.append(narrow_to(value, spec, symbol, n))
            elif n != entry.size and spec.kind == SYM:
                outputs.append(evaluate(spec.expr, symbol, n))
            else:
                outputs.append(value)
        return Plan(entry, copies, tuple(outputs), n)

    def _static_inputs(self, size: int, n: int, args: tuple[Any, ...]) -> tuple[
            list[Any], dict[int, tuple[Buffer, bool]], list[tuple[int, int]], dict[str, int]]:
        """The arguments the graph is captured with, and which of them are copied per replay."""
        symbol = self.spec.symbol
        static: list[Any] = []
        buffers: dict[int, tuple[Buffer, bool]] = {}
        addresses: list[tuple[int, int]] = []
        stats = {"copied": 0, "adopted": 0, "shared": 0, "in_place": 0, "static_input_bytes": 0}
        for i, (value, spec) in enumerate(zip(args, self.spec.args, strict=True)):
            if spec.kind == SYM and symbol is not None:
                static.append(evaluate(spec.expr, symbol, size))
                continue
            if spec.kind != TENSOR or not isinstance(value, torch.Tensor):
                static.append(value)
                continue
            if is_static_address(value):
                static.append(value)
                addresses.append((i, value.data_ptr()))
                stats["in_place"] += 1
                continue
            shape, stride = (shape_at(spec, symbol, size) if symbol is not None
                             else (list(value.shape), list(value.stride())))
            buf, owner, how = self._buffer_for(size, value, shape, stride)
            stats[how] += 1
            if how == "copied":
                stats["static_input_bytes"] += buf.tensor.untyped_storage().nbytes()
                view = buf.tensor if n == size else narrow_to(buf.tensor, spec, symbol, n)
                view.copy_(value)
                buf.src = value
            buffers[i] = (buf, owner)
            static.append(buf.tensor)
        return static, buffers, addresses, stats

    def _buffer_for(self, size: int, value: torch.Tensor, shape: list[int],
                    stride: list[int]) -> tuple[Buffer, bool, str]:
        """Adopt an earlier piece's output, share an earlier piece's copy, or make a buffer."""
        ctx = self.context
        adopted = ctx.adoptable(self.graph_key, size, value, shape, stride)
        if adopted is not None:
            return Buffer(adopted), False, "adopted"
        key = (self.graph_key, size, value.data_ptr())
        shared = ctx.buffers.get(key)
        if (shared is not None and shared.src is value  # the tensor an earlier piece copied
                and list(shared.tensor.shape) == shape and list(shared.tensor.stride()) == stride):
            return shared, False, "shared"
        tensor = torch.empty_strided(shape, stride, dtype=value.dtype, device=value.device).zero_()
        buf = Buffer(tensor)
        ctx.buffers[key] = buf
        return buf, True, "copied"

    def _capture(self, size: int, n: int, args: tuple[Any, ...]) -> Entry:
        """Warm up and capture the piece at ``size``; emit ``compile_lens_capture``.

        ``memory_bytes`` is what the shared pool grew by during the capture itself (later
        captures reuse free pool memory, so it is the increment, as vLLM reports it);
        ``reserved_bytes`` also counts new static input buffers and the warm-up run;
        ``held_bytes`` is all memory reserved once the graph exists.
        """
        ctx = self.context
        reserved0, allocated0 = ctx.memory()
        start = time.perf_counter()
        static, buffers, addresses, stats = self._static_inputs(size, n, args)
        ctx.warm_up(self.piece, static)
        reserved1, _ = ctx.memory()
        warm_end = time.perf_counter()
        graph, out = ctx.capture(self.piece, static)
        reserved2, allocated2 = ctx.memory()
        end = time.perf_counter()
        outputs = flat(out, self._single)
        ctx.register_outputs(self.graph_key, size, outputs)
        entry = Entry(size, graph, buffers, addresses, outputs, len(args))
        self.entries[size] = entry
        body = {
            "graph_key": self.graph_key, "submod": self.submod, "size": size,
            "mode": self.mode, "seconds": end - start, "capture_seconds": end - warm_end,
            "warmup_seconds": warm_end - start,
            "memory_bytes": reserved2 - reserved1, "reserved_bytes": reserved2 - reserved0,
            "allocated_bytes": allocated2 - allocated0, "held_bytes": reserved2,
            "first_tokens": n, **stats,
        }
        sized = getattr(self.piece, "sized", None)
        if sized is not None:
            body["artifact"] = "exact" if size in sized else "general"
        if self._reported():
            _events.emit(_events.CAPTURE, body)
        return entry
