"""CUDA-graph modes of the embedded backend and the per-call choice of a graph (pure, no torch).

Stage: backend. The modes are vLLM's (``vllm/config/compilation.py``: ``CUDAGraphMode``) and so
is the choice per call (``vllm/v1/cudagraph_dispatcher.py``): a call with ``n`` tokens is padded
to the smallest capture size ``s >= n`` and runs the graph captured at ``s`` in the mode that
size has; a call above the largest capture size runs without a graph. The embedded backend has
no batch descriptor (uniform decode or not): the user says which sizes are decode sizes
(``cudagraph_full_sizes``), and those get a FULL graph in ``FULL_AND_PIECEWISE`` mode.

* ``NONE``: no graphs.
* ``PIECEWISE``: every compiled piece captured per size; the splitting ops run eagerly between.
* ``FULL``: the whole compiled graph (pieces and splitting ops) captured per size.
* ``FULL_AND_PIECEWISE``: a FULL graph at the full sizes, PIECEWISE graphs at the other sizes.

The choice for every ``n`` up to the largest size is computed once (a list index per call), as
vLLM precomputes its padded sizes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from compile_lens.errors import CompileLensError

NONE, PIECEWISE, FULL = "NONE", "PIECEWISE", "FULL"
FULL_AND_PIECEWISE = "FULL_AND_PIECEWISE"
MODES = {"none": NONE, "piecewise": PIECEWISE, "full": FULL,
         "full_and_piecewise": FULL_AND_PIECEWISE}
"""``cudagraph_mode`` argument → vLLM's mode name (the name traces record)."""


class CudaGraphModeError(CompileLensError, ValueError):
    """A ``cudagraph_mode`` that cannot be honoured: a bad argument, or a FULL graph that would
    have to capture an op that CUDA graphs cannot capture."""


@dataclass(frozen=True)
class CudaGraphSettings:
    """What the backend captures: the mode and the sizes of each kind of graph.

    ``capture_sizes`` are all sizes a graph is captured at (sorted); ``full_sizes`` those
    captured as one FULL graph of the whole compiled graph; the others are PIECEWISE.
    """

    mode: str = NONE
    capture_sizes: tuple[int, ...] = ()
    full_sizes: frozenset[int] = field(default_factory=frozenset)

    @property
    def piecewise_sizes(self) -> list[int]:
        """Sizes whose calls run the pieces' graphs (empty in ``FULL`` and ``NONE`` modes)."""
        return [s for s in self.capture_sizes if s not in self.full_sizes]

    @property
    def has_full(self) -> bool:
        return bool(self.full_sizes)

    @property
    def has_piecewise(self) -> bool:
        return bool(self.piecewise_sizes)

    def payload(self) -> dict[str, object]:
        """The ``cudagraphs`` event: the keys vLLM's ``vllm_cudagraphs`` has."""
        return {"cudagraph_mode": self.mode, "capture_sizes": list(self.capture_sizes),
                "full_sizes": sorted(self.full_sizes)}


def settings(mode: str | None, sizes: Sequence[int],
             full_sizes: Sequence[int] | None = None) -> CudaGraphSettings:
    """Check the backend's arguments and decide what is captured; bad ones raise one clear line.

    ``mode=None`` keeps the behaviour from before modes: PIECEWISE when ``sizes`` are given,
    else NONE. ``full_sizes`` are the decode sizes of ``"full_and_piecewise"`` (required there;
    sizes not in ``sizes`` are added to the capture sizes); ``"full"`` captures every size FULL.
    """
    if mode is None:
        mode = "piecewise" if sizes else "none"
    name = MODES.get(str(mode).lower())
    if name is None:
        choices = ", ".join(repr(m) for m in MODES)
        msg = f"cudagraph_mode={mode!r} is not one of {choices}"
        raise CudaGraphModeError(msg)
    capture = _sizes(sizes, "cudagraph_sizes")
    full = _sizes(full_sizes or (), "cudagraph_full_sizes")
    if full and name not in (FULL, FULL_AND_PIECEWISE):
        msg = (f"cudagraph_full_sizes={sorted(full)} needs cudagraph_mode='full_and_piecewise' "
               f"(or 'full'), not {mode!r}")
        raise CudaGraphModeError(msg)
    if name == NONE:
        return CudaGraphSettings()
    all_sizes = tuple(sorted(set(capture) | set(full)))
    if not all_sizes:
        msg = f"cudagraph_mode={mode!r} needs cudagraph_sizes (the batch sizes to capture)"
        raise CudaGraphModeError(msg)
    if name == PIECEWISE:
        return CudaGraphSettings(PIECEWISE, all_sizes)
    if name == FULL:
        return CudaGraphSettings(FULL, all_sizes, frozenset(all_sizes))
    if not full:
        msg = ("cudagraph_mode='full_and_piecewise' needs cudagraph_full_sizes: the decode "
               "sizes captured as full graphs (the other cudagraph_sizes are captured piecewise)")
        raise CudaGraphModeError(msg)
    return CudaGraphSettings(FULL_AND_PIECEWISE, all_sizes, frozenset(full))


def _sizes(values: Sequence[int], name: str) -> list[int]:
    out = sorted({int(v) for v in values})
    if out and out[0] < 1:
        msg = f"{name} must be positive sizes, got {out[0]}"
        raise CudaGraphModeError(msg)
    return out


class Dispatcher:
    """The mode and padded size of a call with ``n`` tokens: ``choose(n) -> (mode, size)``.

    ``(FULL, s)`` or ``(PIECEWISE, s)`` with ``s`` the smallest capture size ``>= n``;
    ``(NONE, None)`` above the largest capture size (and in ``NONE`` mode).
    """

    def __init__(self, cg: CudaGraphSettings) -> None:
        self.settings = cg
        sizes = list(cg.capture_sizes) if cg.mode != NONE else []
        self.largest = sizes[-1] if sizes else -1
        table: list[tuple[str, int | None]] = []
        i = 0
        for n in range(self.largest + 1):
            while sizes[i] < n:
                i += 1
            size = sizes[i]
            table.append((FULL if size in cg.full_sizes else PIECEWISE, size))
        self._table = table

    def choose(self, n: int) -> tuple[str, int | None]:
        """The mode and capture size a call with ``n`` tokens runs at."""
        if 0 <= n <= self.largest:
            return self._table[n]
        return NONE, None

    def mode_of(self, n: int) -> str:
        """The mode of a graph without a dynamic size (captured at exactly ``n``)."""
        return self.choose(n)[0]


VLLM_DEFAULT_CAPTURE_SIZES: tuple[int, ...] = (
    1, 2, 4, *range(8, 256, 8), *range(256, 513, 16))
"""vLLM's default ``cudagraph_capture_sizes`` up to 512: 1, 2, 4, then steps of 8 to 248, then
steps of 16 from 256 to 512 (``CompilationConfig``; max_num_batched_tokens caps it there)."""
