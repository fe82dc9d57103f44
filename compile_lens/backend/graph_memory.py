"""Static memory of piecewise CUDA graphs: input buffers, captured entries, the shared pool.

Stage: backend. ``GraphContext`` is what all pieces of one backend share (vLLM keeps one global
graph pool for the same reason: graphs captured into one pool reuse each other's free memory,
which is safe because pieces replay in the order they were captured and never concurrently).
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable
from typing import Any

import torch

_SEQ = itertools.count(1)
LAST_SEQ = [0]


def is_static_address(value: Any) -> bool:
    """Parameters and module buffers: Dynamo marks them; their memory does not move."""
    return (getattr(value, "_dynamo_static_input_type", None) is not None
            or isinstance(value, torch.nn.Parameter))


class Buffer:
    """A static input buffer.

    ``src`` is the tensor last copied into it, held so that its memory cannot be reused by
    another tensor meanwhile: a later piece given that same tensor object skips the copy.
    """

    __slots__ = ("ptr", "src", "tensor")

    def __init__(self, tensor: torch.Tensor) -> None:
        self.tensor, self.ptr = tensor, tensor.data_ptr()
        self.src: torch.Tensor | None = None


class Entry:
    """One captured graph: the piece at one capture size.

    ``addresses`` are ``(arg index, data_ptr)`` of the inputs read in place (parameters,
    buffers); ``ptrs``/``indices`` the same as the lists torch's one-shot C++ check takes.
    Replays are counted on the plans (one per real size ``n``), so that the real tokens of the
    replays cost no second counter: ``replays`` and ``tokens`` sum them.
    """

    __slots__ = ("addresses", "buffers", "graph", "indices", "outputs", "plans", "ptrs", "seq",
                 "size")

    def __init__(self, size: int, graph: Any, buffers: dict[int, tuple[Buffer, bool]],
                 addresses: list[tuple[int, int]], outputs: tuple[Any, ...],
                 num_args: int = 0) -> None:
        self.size, self.graph, self.buffers = size, graph, buffers
        self.addresses, self.outputs = addresses, outputs
        self.indices = [i for i, _ in addresses]
        self.ptrs = [0] * max(num_args, 1 + max(self.indices, default=-1))
        for i, ptr in addresses:
            self.ptrs[i] = ptr
        self.plans: list[Plan] = []
        self.seq = next(_SEQ)
        LAST_SEQ[0] = self.seq

    @property
    def replays(self) -> int:
        """How often this graph was replayed (the capture call included)."""
        return sum(p.calls for p in self.plans)

    @property
    def tokens(self) -> int:
        """Real tokens over all replays (``replays * size - tokens`` is the padding)."""
        return sum(p.calls * p.n for p in self.plans)


class Plan:
    """What a call with ``n`` tokens does: which entry, which copies, which output views.

    ``calls`` counts the replays this plan ran (the only counter on the hot path).
    """

    __slots__ = ("calls", "copies", "entry", "n", "outputs")

    def __init__(self, entry: Entry, copies: list[tuple[int, Any, Buffer, bool]],
                 outputs: tuple[Any, ...], n: int = 0) -> None:
        self.entry, self.copies, self.outputs, self.n = entry, copies, outputs, n
        self.calls = 0
        entry.plans.append(self)


class GraphContext:
    """What all pieces of one backend share: the graph pool, a side stream, static memory."""

    def __init__(self) -> None:
        self._pool: Any = None
        self._stream: Any = None
        self._warm_stream: Any = None
        self.full_active = False
        """True while a FULL graph of the whole model is warmed up or captured: the pieces'
        own graphs pass through (vLLM's forward context says the same with its runtime mode)."""
        self.outputs: dict[tuple[str, int], dict[int, torch.Tensor]] = {}
        self.buffers: dict[tuple[str, int, int], Buffer] = {}

    def pool(self) -> Any:
        """The one memory pool every capture of this backend uses."""
        if self._pool is None:
            self._pool = torch.cuda.graph_pool_handle()
        return self._pool

    def stream(self) -> Any:
        """The side stream captures run on (never the default stream, never a warm-up)."""
        if self._stream is None:
            self._stream = torch.cuda.Stream()
        return self._stream

    def warm_stream(self) -> Any:
        """The side stream warm-ups run on: another one than the captures'.

        cuBLAS keeps one workspace per (handle, stream), allocated at the stream's first matmul.
        A warm-up on the capture stream would allocate it there outside any capture, from the
        general allocator, and every graph would then use memory it does not own: torch's
        ``reduce-overhead`` frees all cuBLAS workspaces before each of its recordings, and the
        next replay of ours read freed memory (an illegal memory access on an H100 when both
        ran in one process). Warmed up elsewhere, the capture stream's workspace is allocated
        during the first capture, inside the shared pool, which keeps it while graphs exist.
        """
        if self._warm_stream is None:
            self._warm_stream = torch.cuda.Stream()
        return self._warm_stream

    def memory(self) -> tuple[int, int]:
        """``(reserved, allocated)`` device bytes once queued work is done."""
        torch.cuda.synchronize()
        return torch.cuda.memory_reserved(), torch.cuda.memory_allocated()

    def warm_up(self, fn: Callable[..., Any], args: list[Any]) -> None:
        """Run ``fn`` once outside capture: lazy kernel loads and library handles happen here."""
        stream = self.warm_stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            fn(*args)
        torch.cuda.current_stream().wait_stream(stream)

    def capture(self, fn: Callable[..., Any], args: list[Any]) -> tuple[Any, Any]:
        """``(graph, outputs)`` of ``fn(*args)`` captured into the shared pool."""
        graph = torch.cuda.CUDAGraph()
        stream = self.stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            graph.capture_begin(pool=self.pool())
            try:
                out = fn(*args)
            except Exception:
                with contextlib.suppress(Exception):  # the capture error below is secondary
                    graph.capture_end()
                _end_generator_capture(stream)
                raise
            graph.capture_end()
        torch.cuda.current_stream().wait_stream(stream)
        return graph, out

    def register_outputs(self, graph_key: str, size: int, outputs: tuple[Any, ...]) -> None:
        """Remember a capture's static outputs: later pieces at ``size`` read them in place."""
        registry = self.outputs.setdefault((graph_key, size), {})
        for value in outputs:
            if isinstance(value, torch.Tensor):
                registry.setdefault(value.data_ptr(), value)

    def adoptable(self, graph_key: str, size: int, value: torch.Tensor, shape: list[int],
                  stride: list[int]) -> torch.Tensor | None:
        """An earlier piece's static output that ``value`` is (a view at offset 0 of), if any."""
        found = self.outputs.get((graph_key, size), {}).get(value.data_ptr())
        if found is None or list(found.shape) != shape or list(found.stride()) != stride:
            return None
        return found if found.dtype == value.dtype else None


def flat(outputs: Any, single: bool) -> tuple[Any, ...]:
    return (outputs,) if single else tuple(outputs)


def _end_generator_capture(stream: Any) -> None:
    """Take the CUDA RNG out of capture mode after a capture that failed.

    ``capture_begin`` puts the device's default generator in capture mode and only a
    ``capture_end`` that succeeds takes it out; after a failed one every later random op of the
    process raises "Offset increment outside graph capture encountered unexpectedly". An empty
    capture on the same stream runs the generator's epilogue on its own state (a fresh state
    would detach the graphs already captured from the RNG offsets they replay with).
    """
    import warnings

    with contextlib.suppress(Exception), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "the CUDA graph is empty"
        empty = torch.cuda.CUDAGraph()
        with torch.cuda.stream(stream):
            empty.capture_begin()
            empty.capture_end()
