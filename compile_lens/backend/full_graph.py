"""FULL CUDA graphs: the whole compiled graph (pieces and splitting ops) captured per size.

Stage: backend. ``FullGraph`` wraps what the backend returns to Dynamo (the split graph's
forward) and chooses per call, with ``dispatch.Dispatcher``, as vLLM's dispatcher does:

* a FULL size: replay the whole-graph CUDA graph captured at the padded size (captured on the
  first call that pads to it, with the pieces' own graphs passing through meanwhile);
* a PIECEWISE size (``full_and_piecewise``): run the split graph, whose pieces replay their own
  graphs;
* above the largest size: run the split graph without graphs, counted as a fallback of
  ``<model>`` (once, not again by every piece).

A FULL graph captures the splitting ops as well, so they must be capturable: ``check_ops`` refuses
ops tagged ``torch.Tag.cudagraph_unsafe`` up front, and a capture that fails anyway raises
``CudaGraphCaptureError`` naming the splitting ops.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch

from compile_lens.backend.cudagraphs import ABOVE_LARGEST, CudaGraphPiece
from compile_lens.backend.dispatch import FULL, PIECEWISE, CudaGraphModeError, Dispatcher
from compile_lens.backend.graph_memory import Entry, GraphContext
from compile_lens.backend.padding import SizeSpec
from compile_lens.backend.split import normalize_op_name
from compile_lens.errors import CompileLensError
from compile_lens.model.events import WHOLE_MODEL

_PIECES: Any = object()
"""The plan of a call that runs the split graph (its pieces replay their own graphs)."""


class CudaGraphCaptureError(CompileLensError, RuntimeError):
    """Capturing a FULL graph of the whole model failed (an op in it cannot be captured)."""


def unsafe_ops(ops: Iterable[Any]) -> list[str]:
    """Names of the ops (OpOverloads, packets or ``"ns::op"`` names) that carry torch's
    ``cudagraph_unsafe`` tag; ops torch does not know, or without tags, are not listed."""
    tag = getattr(torch.Tag, "cudagraph_unsafe", None)
    if tag is None:
        return []
    found = []
    for op in ops:
        for overload in _overloads(op):
            if tag in getattr(overload, "tags", ()):
                found.append(_name(op))
                break
    return found


def check_ops(ops: Iterable[Any], mode: str) -> None:
    """Raise ``CudaGraphModeError`` if a FULL graph would have to capture an unsafe op."""
    unsafe = list(dict.fromkeys(unsafe_ops(ops)))  # once per op, not once per layer
    if unsafe:
        names = ", ".join(unsafe)
        msg = (f"cudagraph_mode={mode!r} captures the splitting ops inside full CUDA graphs, but "
               f"{names} {'is' if len(unsafe) == 1 else 'are'} tagged torch.Tag.cudagraph_unsafe "
               "(CUDA graphs cannot capture it); use cudagraph_mode='piecewise', which runs the "
               "splitting ops eagerly between the graphs")
        raise CudaGraphModeError(msg)


def _overloads(op: Any) -> list[Any]:
    if isinstance(op, str):  # "ns::op", "ns::op.overload" or "ns.op"
        ns, _, rest = (op if "::" in op else op.replace(".", "::", 1)).partition("::")
        name, _, overload = rest.partition(".")
        packet = getattr(getattr(torch.ops, ns, None), name, None) if name else None
        if packet is None:
            return []
        op = getattr(packet, overload, packet) if overload else packet
    if isinstance(op, torch._ops.OpOverloadPacket):
        return [getattr(op, o) for o in op.overloads()]
    return [op] if isinstance(op, torch._ops.OpOverload) else []


def _name(op: Any) -> str:
    return op if isinstance(op, str) else normalize_op_name(op)


class FullGraph(CudaGraphPiece):
    """The whole compiled graph, captured per FULL size and replayed; other sizes run it as is.

    Args:
        forward: the split graph's forward (what Dynamo calls).
        spec: how the graph's inputs and outputs depend on the dynamic size.
        dispatcher: the mode and padded size of each call.
        context: the backend's shared pool, stream and static memory.
        graph_key: the graph's name in events.
        static_size: the size label of a graph without a dynamic dimension.
        split_ops: the splitting ops' names (for the error when a capture fails).
    """

    mode = FULL

    def __init__(self, forward: Callable[..., Any], spec: SizeSpec, dispatcher: Dispatcher,
                 context: GraphContext, *, graph_key: str, static_size: int,
                 split_ops: Sequence[str] = ()) -> None:
        super().__init__(forward, spec, sorted(dispatcher.settings.full_sizes), context,
                         graph_key=graph_key, submod=WHOLE_MODEL, clone_outputs=True,
                         static_size=static_size)
        self.dispatcher = dispatcher
        self.split_ops = sorted(set(split_ops))

    def __call__(self, *args: Any) -> Any:
        """The hot path: one dict lookup, then a replay or the split graph."""
        locate = self._locate
        if locate is None:
            n = self.static_size
        else:
            i, d = locate
            n = args[i] if d is None else args[i].shape[d]
        plan = self.plans.get(n)
        if plan is None:
            return self._first_call(int(n), args)
        if plan is _PIECES:
            return self.piece(*args)
        return self._replay(plan, args)

    def _first_call(self, n: int, args: tuple[Any, ...]) -> Any:
        mode, size = self.dispatcher.choose(n)
        if mode == FULL and size is not None:
            # a graph without a dynamic size is captured at its one size, never padded
            at = n if self._locate is None else size
            return self._replay(self._plan_for(at, n, args), args)
        if mode == PIECEWISE:
            self.plans[n] = _PIECES
        else:
            self._fallback(ABOVE_LARGEST, n)
        return self.piece(*args)

    def _address_miss(self, n: int, args: tuple[Any, ...]) -> Any:
        """A moved parameter: this call runs without any graph (the pieces pass through too,
        as the fallback's reason says)."""
        ctx = self.context
        before, ctx.full_active = ctx.full_active, True
        try:
            return super()._address_miss(n, args)
        finally:
            ctx.full_active = before

    def _capture(self, size: int, n: int, args: tuple[Any, ...]) -> Entry:
        """Capture with the pieces passing through; a failure names the splitting ops."""
        ctx = self.context
        ctx.full_active = True
        try:
            return super()._capture(size, n, args)
        except Exception as exc:
            first = (str(exc).strip().splitlines() or [""])[0][:300]
            ops = ", ".join(self.split_ops) or "none"
            msg = (f"{self.graph_key}: capturing the full CUDA graph at size {size} failed "
                   f"({type(exc).__name__}: {first}). A full graph captures the splitting ops too "
                   f"({ops}); if one of them cannot be captured, use cudagraph_mode='piecewise' "
                   "(they then run eagerly between the graphs)")
            raise CudaGraphCaptureError(msg) from exc
        finally:
            ctx.full_active = False
