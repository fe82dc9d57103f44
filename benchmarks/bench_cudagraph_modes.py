"""CUDA-graph modes of the embedded backend on one GPU, side by side in one run (issue 15).

    python benchmarks/bench_cudagraph_modes.py --out OUT/cudagraph_modes.json [--quick]
    python benchmarks/bench_cudagraph_modes.py --markdown OUT/cudagraph_modes.json  # the tables

The model is not the demo model: a Llama-style decoder (8 layers, hidden 1024, fp16) whose
attention is a custom op registered with ``torch.library`` (``bench_cg::attention``), the
splitting op, as vLLM's attention is. Measured, each part guarded (a part that fails records its
error and the run goes on; the JSON is rewritten after every part):

* batch-1 decode step time: eager, ``torch.compile(mode="reduce-overhead")`` and the backend in
  each ``cudagraph_mode`` (none, piecewise, full, full_and_piecewise), medians of rounds; and
  each mode against the same model's ``reduce-overhead`` in alternating rounds
  (``side_by_side``), which the ratios use: a baseline timed minutes earlier drifts;
* capturing every size of vLLM's default list (1, 2, 4, 8 … 248 step 8, 256 … 512 step 16) per
  mode: wall seconds, the traced capture seconds (warm-up + capture), pool growth, memory held;
  ``full_and_piecewise`` takes the sizes up to ``--decode-max`` (256, vLLM's default
  ``max_num_seqs``) as full decode sizes;
* outputs versus eager at several sizes (max abs difference, fp16);
* traced / untraced batch-1 step (interleaved rounds with an A/A control) for piecewise and
  full_and_piecewise, and the trace events seen during traced steps (none expected);
* where a piecewise batch-1 step's time goes: CPU time per step in the piece wrappers (of which
  graph launches), in the eager splitting ops, and in Dynamo plus the split graph's glue; and
  the GPU time of the graphs alone and of the splitting ops alone;
* the same model with vLLM's kind of attention op, one that writes into an output tensor the
  previous piece allocated (``bench_cg::attention_out(q, k, v, Tensor(a!) out)``): its batch-1
  step in piecewise mode and with ``reduce-overhead`` (the next piece then reads the attention
  output in place instead of copying it into its static buffer). Skipped by ``--no-out-variant``;
* the same again with the kind of kernel vLLM's attention backends are, one Triton kernel per
  call (``bench_cg::attention_fused(q, k, v, Tensor(a!) out)``: causal flash-attention-style
  online softmax over key blocks, reading the ``unbind`` views through their strides and writing
  into ``out``) instead of SDPA on transposed views plus copies (several kernels and much Python
  per call at 1 token): the kernel against the SDPA op at 1 to 513 tokens, each op's GPU time per
  call at 1 token, then the piecewise step with its breakdown and its own ``reduce-overhead``
  step. It needs Triton and CUDA; without them its parts record why they were skipped and the
  run goes on. Skipped by ``--no-fused-attention``.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

RESULT_NAME = "cudagraph_modes.json"
DEVICE = "cuda"  # the model's device (a CPU smoke run of this script's logic may change it)
MODES = ("full_and_piecewise", "piecewise", "full", "none")
ARMS = ("out", "fused", "lean")
"""The models with another attention op, each against its own ``reduce-overhead``."""


# -- the model ----------------------------------------------------------------------------------
def define_attention() -> None:
    """``bench_cg::attention(q, k, v) -> out``: causal attention over a flat token batch
    (``[tokens, heads, head_dim]``), registered for CUDA and Meta like vLLM's custom ops."""
    import torch
    import torch.nn.functional as F

    if hasattr(torch.ops, "bench_cg") and hasattr(torch.ops.bench_cg, "attention"):
        return
    lib = torch.library.Library("bench_cg", "FRAGMENT")
    lib.define("attention(Tensor q, Tensor k, Tensor v) -> Tensor")

    def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        q4, k4, v4 = (t.transpose(0, 1)[None] for t in (q, k, v))
        out = F.scaled_dot_product_attention(q4, k4, v4, is_causal=True)
        return out[0].transpose(0, 1).contiguous()

    def attention_out(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                      out: torch.Tensor) -> None:
        q4, k4, v4 = (t.transpose(0, 1)[None] for t in (q, k, v))
        out.copy_(F.scaled_dot_product_attention(q4, k4, v4, is_causal=True)[0].transpose(0, 1))

    lib.define("attention_out(Tensor q, Tensor k, Tensor v, Tensor(a!) out) -> ()")
    lib.impl("attention", attention, DEVICE.upper())
    lib.impl("attention", lambda q, k, v: q.new_empty(q.shape), "Meta")
    lib.impl("attention_out", attention_out, DEVICE.upper())
    lib.impl("attention_out", lambda q, k, v, out: None, "Meta")
    define_attention.lib = lib  # type: ignore[attr-defined]  # keep the library alive


# -- the lean attention arm: the flash kernel behind one thin custom op ------------------------
def _flash_op() -> Any:
    """The aten flash-attention forward of the model's device (its Meta kernel is torch's)."""
    import torch

    aten = torch.ops.aten
    return (aten._scaled_dot_product_flash_attention.default if DEVICE == "cuda"
            else aten._scaled_dot_product_flash_attention_for_cpu.default)


def lean_attention(q: Any, k: Any, v: Any) -> Any:
    """Causal attention of ``[1, heads, tokens, head_dim]`` views: the flash kernel, nothing else.

    The transposes around it run inside the piece graphs, so an eager call costs the custom op's
    dispatch plus one aten call (one kernel on CUDA), as a C++ attention op of vLLM's would. The
    output keeps the kernel's own layout (the Meta impl asks the same aten op), which the next
    piece reads through a transpose.
    """
    return _flash_op()(q, k, v, 0.0, True)[0]


def define_lean_attention() -> None:
    """``bench_cg::attention_lean(q, k, v) -> out`` on the model's device and Meta."""
    import torch

    define_attention()
    if hasattr(torch.ops.bench_cg, "attention_lean"):
        return
    lib = torch.library.Library("bench_cg", "FRAGMENT")
    lib.define("attention_lean(Tensor q, Tensor k, Tensor v) -> Tensor")
    lib.impl("attention_lean", lean_attention, DEVICE.upper())
    lib.impl("attention_lean", lean_attention, "Meta")
    define_lean_attention.lib = lib  # type: ignore[attr-defined]  # keep the library alive


# -- the fused attention arm: one Triton kernel per call, as vLLM's attention backends -----------


def fused_attention_unavailable() -> str | None:
    """Why the fused arm cannot run here (None: it can). It needs Triton, and CUDA unless the
    model runs on the CPU under Triton's interpreter (``TRITON_INTERPRET=1``, a numerics check)."""
    import os

    try:
        import triton  # noqa: F401
    except ImportError as exc:
        return f"skipped: triton is not importable ({exc}); the fused attention op is a Triton kernel"
    import torch

    if DEVICE == "cuda" and not torch.cuda.is_available():
        return "skipped: CUDA is not available; the fused attention op launches a Triton kernel"
    if DEVICE != "cuda" and os.environ.get("TRITON_INTERPRET") != "1":
        return f"skipped: device {DEVICE!r} needs TRITON_INTERPRET=1 for the Triton kernel"
    return None


_KERNEL: list[Any] = []  # the Triton kernel, once made


def _fused_kernel() -> Any:
    """The Triton kernel, made on first use: Triton is imported only here. (Whether it runs
    under the interpreter is decided when Triton is first imported, by ``TRITON_INTERPRET``.)"""
    import triton
    import triton.language as tl

    if _KERNEL:
        return _KERNEL[0]

    @triton.jit(do_not_specialize=["T"])  # one compiled kernel for every token count
    def attention_kernel(q_ptr, k_ptr, v_ptr, o_ptr, T, scale_log2,
                         sq_t, sq_h, sq_d, sk_t, sk_h, sk_d, sv_t, sv_h, sv_d, so_t, so_h, so_d,
                         HEAD_DIM: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_M: tl.constexpr,
                         BLOCK_N: tl.constexpr, PRECISION: tl.constexpr):
        # one program: BLOCK_M query tokens of one head; online softmax over key blocks
        block, head = tl.program_id(0), tl.program_id(1)
        rows = block * BLOCK_M + tl.arange(0, BLOCK_M)
        dims = tl.arange(0, BLOCK_D)
        row_ok, dim_ok = rows < T, dims < HEAD_DIM
        q = tl.load(q_ptr + head * sq_h + rows[:, None] * sq_t + dims[None, :] * sq_d,
                    mask=row_ok[:, None] & dim_ok[None, :], other=0.0)
        m_i = tl.zeros([BLOCK_M], tl.float32) - float("inf")
        l_i = tl.zeros([BLOCK_M], tl.float32)
        acc = tl.zeros([BLOCK_M, BLOCK_D], tl.float32)
        end = tl.minimum((block + 1) * BLOCK_M, T)  # causal: no key after the block's last row
        start = block * 0  # an int32 scalar; a while loop, which Triton's interpreter also runs
        while start < end:
            cols = start + tl.arange(0, BLOCK_N)
            col_ok = cols < T
            kt = tl.load(k_ptr + head * sk_h + cols[None, :] * sk_t + dims[:, None] * sk_d,
                         mask=col_ok[None, :] & dim_ok[:, None], other=0.0)
            s = tl.dot(q, kt, input_precision=PRECISION) * scale_log2
            s = tl.where((rows[:, None] >= cols[None, :]) & col_ok[None, :], s, -1.0e30)
            m_new = tl.maximum(m_i, tl.max(s, 1))
            alpha = tl.exp2(m_i - m_new)
            p = tl.exp2(s - m_new[:, None])
            l_i = l_i * alpha + tl.sum(p, 1)
            v = tl.load(v_ptr + head * sv_h + cols[:, None] * sv_t + dims[None, :] * sv_d,
                        mask=col_ok[:, None] & dim_ok[None, :], other=0.0)
            acc = acc * alpha[:, None] + tl.dot(p.to(v.dtype), v, input_precision=PRECISION)
            m_i = m_new
            start += BLOCK_N
        out = acc / l_i[:, None]
        tl.store(o_ptr + head * so_h + rows[:, None] * so_t + dims[None, :] * so_d,
                 out.to(o_ptr.dtype.element_ty), mask=row_ok[:, None] & dim_ok[None, :])

    _KERNEL.append(attention_kernel)
    return attention_kernel


def fused_attention(q: Any, k: Any, v: Any, out: Any) -> None:
    """Causal attention over the flat token batch (``[tokens, heads, head_dim]``, any strides,
    e.g. the ``unbind`` views of one qkv projection) into ``out``: one kernel launch. Kept lean
    (no imports, no Triton helpers): it runs eagerly between the piece graphs on every step."""
    tokens, heads, head_dim = q.shape
    if tokens == 0:
        return
    kernel = _KERNEL[0] if _KERNEL else _fused_kernel()
    block_m = 16 if tokens <= 16 else 64
    kernel[((tokens + block_m - 1) // block_m, heads)](
        q, k, v, out, tokens, math.log2(math.e) / math.sqrt(head_dim),
        *q.stride(), *k.stride(), *v.stride(), *out.stride(),
        HEAD_DIM=head_dim, BLOCK_D=1 << (head_dim - 1).bit_length(), BLOCK_M=block_m,
        BLOCK_N=64, PRECISION="ieee" if q.element_size() == 4 else "tf32", num_warps=4)


def define_fused_attention() -> None:
    """``bench_cg::attention_fused(q, k, v, Tensor(a!) out) -> ()``: vLLM's kind of attention op,
    one Triton kernel writing into an output the piece before allocated (CUDA, or the model's
    device under Triton's interpreter, and Meta)."""
    import torch

    reason = fused_attention_unavailable()
    if reason:  # before anything is registered
        msg = f"bench_cg::attention_fused: {reason}"
        raise RuntimeError(msg)
    define_attention()
    if hasattr(torch.ops.bench_cg, "attention_fused"):
        return
    lib = torch.library.Library("bench_cg", "FRAGMENT")
    lib.define("attention_fused(Tensor q, Tensor k, Tensor v, Tensor(a!) out) -> ()")
    lib.impl("attention_fused", fused_attention, DEVICE.upper())
    lib.impl("attention_fused", lambda q, k, v, out: None, "Meta")
    define_fused_attention.lib = lib  # type: ignore[attr-defined]  # keep the library alive


def build_model(layers: int, hidden: int, heads: int, vocab: int, *,
                out_variant: bool = False, fused: bool = False, lean: bool = False) -> Any:
    import torch
    import torch.nn.functional as F
    from torch import nn

    define_attention()
    if fused:
        define_fused_attention()
    if lean:
        define_lean_attention()
    inter = (8 * hidden // 3 + 127) // 128 * 128  # Llama's ratio, rounded: 2816 for 1024

    class RMSNorm(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.weight = nn.Parameter(torch.ones(hidden))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            var = x.float().pow(2).mean(-1, keepdim=True)
            return (x.float() * torch.rsqrt(var + 1e-6)).to(x.dtype) * self.weight

    class Layer(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.norm1, self.norm2 = RMSNorm(), RMSNorm()
            self.qkv = nn.Linear(hidden, 3 * hidden, bias=False)
            self.o = nn.Linear(hidden, hidden, bias=False)
            self.gate_up = nn.Linear(hidden, 2 * inter, bias=False)
            self.down = nn.Linear(inter, hidden, bias=False)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            n = x.shape[0]
            q, k, v = self.qkv(self.norm1(x)).view(n, 3, heads, hidden // heads).unbind(1)
            if lean:  # the transposes in the pieces; the op is the flash kernel alone
                q4, k4, v4 = (t.transpose(0, 1)[None] for t in (q, k, v))
                attn = torch.ops.bench_cg.attention_lean(q4, k4, v4)[0].transpose(0, 1)
            elif fused:  # vLLM's way and its kind of kernel: one Triton launch into `out`
                attn = torch.empty_like(q)
                torch.ops.bench_cg.attention_fused(q, k, v, attn)
            elif out_variant:  # vLLM's way: the output is allocated before the op, in the graph
                attn = torch.empty_like(q)
                torch.ops.bench_cg.attention_out(q, k, v, attn)
            else:
                attn = torch.ops.bench_cg.attention(q, k, v)
            x = x + self.o(attn.reshape(n, hidden))
            gate, up = self.gate_up(self.norm2(x)).chunk(2, dim=-1)
            return x + self.down(F.silu(gate) * up)

    class Model(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(vocab, hidden)
            self.layers = nn.ModuleList(Layer() for _ in range(layers))
            self.norm = RMSNorm()
            self.lm_head = nn.Linear(hidden, vocab, bias=False)

        def forward(self, ids: torch.Tensor) -> torch.Tensor:
            x = self.embed(ids)
            for layer in self.layers:
                x = layer(x)
            return self.lm_head(self.norm(x))

    torch.manual_seed(0)
    model = Model().to(device=DEVICE, dtype=torch.float16 if DEVICE == "cuda" else torch.float32)
    for p in model.parameters():
        p.data.mul_(0.5)
    return model.eval()


def inputs(n: int, vocab: int, dynamic: bool = False) -> tuple[Any]:
    import torch

    g = torch.Generator().manual_seed(n)
    ids = torch.randint(0, vocab, (n,), generator=g).to(DEVICE)
    if dynamic:
        torch._dynamo.mark_dynamic(ids, 0)
    return (ids,)


# -- timing -------------------------------------------------------------------------------------
def step_time(fn: Callable[..., Any], args: tuple[Any, ...], steps: int) -> float:
    """Seconds per call, ``steps`` calls then one synchronise."""
    import torch

    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        fn(*args)
    torch.cuda.synchronize()
    return (time.perf_counter() - start) / steps


def step_times(fn: Callable[..., Any], args: tuple[Any, ...], steps: int) -> tuple[float, float]:
    """``(wall, issuing CPU)`` seconds per call: the wall clock as ``step_time``, and this thread's
    CPU time up to the last call's return, before the final synchronise. A piecewise batch-1
    step is CPU-bound, and the CPU time is what any per-step work of the tracer would add,
    without the GPU's and the scheduler's jitter in it."""
    import torch

    torch.cuda.synchronize()
    start, cpu = time.perf_counter(), time.thread_time()
    for _ in range(steps):
        fn(*args)
    issued = time.thread_time() - cpu
    torch.cuda.synchronize()
    return (time.perf_counter() - start) / steps, issued / steps


def median_step_us(fn: Callable[..., Any], args: tuple[Any, ...], rounds: int, steps: int) -> float:
    step_time(fn, args, max(steps // 4, 5))  # warm
    return 1e6 * statistics.median(step_time(fn, args, steps) for _ in range(rounds))


def side_by_side(fn: Callable[..., Any], baseline: Callable[..., Any], args: tuple[Any, ...],
                 rounds: int, steps: int) -> dict[str, Any]:
    """``fn``'s step against ``baseline``'s in alternating rounds (order flipped every round).

    The ratios to ``reduce-overhead`` must not compare a step timed minutes later with one timed
    at the start: on a dedicated H100 the same kind of ``reduce-overhead`` step read 291 µs at
    the start of a run and 329 µs at its end. The baseline is called a few times first: after
    ``torch._dynamo.reset()`` between parts it recompiles (from the warm caches) and recaptures
    outside the timed rounds.
    """
    for _ in range(3):
        fn(*args)
        baseline(*args)
    mine: list[float] = []
    base: list[float] = []
    for r in range(rounds):
        if r % 2 == 0:
            mine.append(step_time(fn, args, steps))
            base.append(step_time(baseline, args, steps))
        else:
            base.append(step_time(baseline, args, steps))
            mine.append(step_time(fn, args, steps))
    paired = [a / b for a, b in zip(mine, base, strict=True)]
    return {"step_us": 1e6 * statistics.median(mine), "baseline_us": 1e6 * statistics.median(base),
            "paired_ratio_median": statistics.median(paired),
            "paired_ratio_quartiles": quartiles(paired), "rounds": rounds, "steps": steps}


def quartiles(values: list[float]) -> list[float]:
    if len(values) < 2:
        return [round(v, 4) for v in values * 3][:3]
    q = statistics.quantiles(values, n=4)
    return [round(q[0], 4), round(statistics.median(values), 4), round(q[2], 4)]


def traced_vs_untraced(fn: Callable[..., Any], args: tuple[Any, ...], rounds: int,
                       steps: int) -> dict[str, Any]:
    """Batch-1 steps inside vs outside ``trace()`` blocks, interleaved, with an A/A control."""
    import logging

    import compile_lens
    from compile_lens.instrument.structured_log import TRACE_LOGGER, StructuredTraceHandler

    blocks: dict[str, list[tuple[float, float]]] = {"untraced": [], "traced": [], "control": []}
    events = 0
    for r in range(rounds):
        order = ["untraced", "traced", "control"]
        for kind in order[r % 3:] + order[:r % 3]:
            if kind != "traced":
                blocks[kind].append(step_times(fn, args, steps))
                continue
            with compile_lens.trace(factors=False, bytecode=False, progress=False):
                handler = next(h for h in logging.getLogger(TRACE_LOGGER).handlers
                               if isinstance(h, StructuredTraceHandler))
                before = handler.count
                blocks["traced"].append(step_times(fn, args, steps))
                events += handler.count - before
    return {**traced_ratios(blocks), "events_during_traced_steps": events, "rounds": rounds,
            "steps": steps}


def traced_ratios(blocks: dict[str, list[tuple[float, float]]]) -> dict[str, Any]:
    """Paired traced/untraced and control/untraced ratios of the rounds' ``(wall, CPU)`` times:
    the wall-clock figures (the goal's), and the same of the issuing CPU time (``cpu_``)."""
    out: dict[str, Any] = {}
    for i, prefix in ((0, ""), (1, "cpu_")):
        u, t, c = ([x[i] for x in blocks[k]] for k in ("untraced", "traced", "control"))
        paired = [a / b for a, b in zip(t, u, strict=True)]
        out.update({f"{prefix}untraced_us": 1e6 * statistics.median(u),
                    f"{prefix}traced_us": 1e6 * statistics.median(t),
                    f"{prefix}paired_ratio_median": statistics.median(paired),
                    f"{prefix}paired_ratio_quartiles": quartiles(paired),
                    f"{prefix}aa_ratio_quartiles": quartiles(
                        [a / b for a, b in zip(c, u, strict=True)])})
    return out


# -- where a step's time goes ------------------------------------------------------------------
class _Timer:
    def __init__(self, fn: Callable[..., Any], totals: dict[str, float], name: str,
                 keep: dict[str, Any] | None = None, key: str = "") -> None:
        self.fn, self.totals, self.name, self.keep, self.key = fn, totals, name, keep, key

    def __call__(self, *args: Any) -> Any:
        start = time.perf_counter()
        try:
            return self.fn(*args)
        finally:
            self.totals[self.name] += time.perf_counter() - start
            if self.keep is not None:
                self.keep[self.key] = args


def cpu_seconds(compiled: Callable[..., Any], args: tuple[Any, ...], steps: int,
                totals: dict[str, float]) -> float:
    """CPU seconds of ``steps`` calls (perf_counter around each, no synchronise inside), after
    10 warm calls; the timers' ``totals`` are zeroed after the warm calls, so they cover the
    same steps."""
    import torch

    step_time(compiled, args, 10)
    for key in totals:
        totals[key] = 0.0
    cpu = 0.0
    torch.cuda.synchronize()
    for _ in range(steps):
        start = time.perf_counter()
        compiled(*args)
        cpu += time.perf_counter() - start
    torch.cuda.synchronize()
    return cpu


def piecewise_breakdown(compiled: Any, args: tuple[Any, ...], split_gm: Any,
                        steps: int) -> dict[str, Any]:
    """CPU time per step by part (timers around the pieces, the launches, the splitting ops),
    and the GPU time of the piece graphs alone and of the splitting ops alone."""

    from compile_lens.backend.cudagraphs import CudaGraphPiece

    totals: dict[str, float] = {"pieces": 0.0, "launches": 0.0, "split_ops": 0.0}
    split_args: dict[str, Any] = {}
    restore: list[tuple[Any, str, Any]] = []
    graphs: list[Any] = []
    split_fns: dict[str, Any] = {}
    pieces = 0
    for name, value in list(vars(split_gm).items()):
        if isinstance(value, CudaGraphPiece):
            pieces += 1
            restore.append((split_gm, name, value))
            setattr(split_gm, name, _Timer(value, totals, "pieces"))
            for entry in value.entries.values():
                graphs.append(entry.graph)
                try:  # time the launch too, where the graph object takes an attribute
                    entry.graph.replay = _Timer(entry.graph.replay, totals, "launches")
                    restore.append((entry.graph, "replay", None))
                except AttributeError:
                    pass
        elif name.startswith("submod_") and callable(value):
            restore.append((split_gm, name, value))
            split_fns[name] = value
            setattr(split_gm, name, _Timer(value, totals, "split_ops", split_args, name))
    try:
        cpu = cpu_seconds(compiled, args, steps, totals)
    finally:
        for owner, name, value in restore:
            if value is None:
                del owner.__dict__[name]
            else:
                setattr(owner, name, value)
    per = {k: 1e6 * v / steps for k, v in totals.items()}
    cpu_us = 1e6 * cpu / steps

    def graphs_only() -> None:
        for g in graphs:
            g.replay()

    def split_only() -> None:
        for name, fn in split_fns.items():
            fn(*split_args[name])

    return {
        "cpu_us_per_step": cpu_us,
        "piece_wrappers_us": per["pieces"],
        "of_which_graph_launches_us": per["launches"],
        "piece_wrapper_python_and_copies_us": per["pieces"] - per["launches"],
        "split_ops_eager_us": per["split_ops"],
        "dynamo_and_split_graph_glue_us": cpu_us - per["pieces"] - per["split_ops"],
        "gpu_graphs_alone_us": 1e6 * step_time(graphs_only, (), steps),
        "gpu_split_ops_alone_us": 1e6 * step_time(split_only, (), steps) if split_args else None,
        "pieces": pieces,
        "split_ops": len(split_fns), "graphs_replayed_per_step": len(graphs),
        "note": ("CPU times are perf_counter around each call without synchronising (launch "
                 "and Python cost; a timer adds ~0.2 µs per call); GPU-alone times replay the "
                 "step's graphs, or call its splitting ops, back to back then synchronise"),
    }


def full_graph_breakdown(compiled: Any, args: tuple[Any, ...], wrapper: Any,
                         steps: int) -> dict[str, Any]:
    """CPU time per step in the FULL wrapper (and its one graph launch) versus Dynamo."""

    from compile_lens.backend.full_graph import FullGraph

    totals = {"wrapper": 0.0, "launches": 0.0}
    original_call = FullGraph.__call__
    timed_graphs = []

    def timed_call(self: Any, *a: Any) -> Any:
        start = time.perf_counter()
        try:
            return original_call(self, *a)
        finally:
            totals["wrapper"] += time.perf_counter() - start

    for entry in wrapper.entries.values():
        try:
            entry.graph.replay = _Timer(entry.graph.replay, totals, "launches")
            timed_graphs.append(entry.graph)
        except AttributeError:
            pass
    FullGraph.__call__ = timed_call  # type: ignore[method-assign]
    try:
        cpu = cpu_seconds(compiled, args, steps, totals)
    finally:
        FullGraph.__call__ = original_call  # type: ignore[method-assign]
        for g in timed_graphs:
            del g.__dict__["replay"]
    cpu_us = 1e6 * cpu / steps
    return {"cpu_us_per_step": cpu_us, "full_wrapper_us": 1e6 * totals["wrapper"] / steps,
            "of_which_graph_launch_us": 1e6 * totals["launches"] / steps,
            "dynamo_us": cpu_us - 1e6 * totals["wrapper"] / steps}


# -- one mode -----------------------------------------------------------------------------------
def _release() -> None:
    import torch

    torch._dynamo.reset()
    gc.collect()
    torch.cuda.synchronize()
    torch.cuda.empty_cache()


def _capture_totals(record: Any) -> dict[str, Any]:
    by_mode: dict[str, dict[str, Any]] = {}
    for c in record.captures:
        row = by_mode.setdefault(c.mode or "?", {"captures": 0, "seconds": 0.0,
                                                 "warmup_seconds": 0.0, "capture_seconds": 0.0,
                                                 "pool_growth_bytes": 0, "sizes": set()})
        row["captures"] += 1
        row["seconds"] += c.seconds
        row["warmup_seconds"] += float(c.extra.get("warmup_seconds", 0.0))
        row["capture_seconds"] += float(c.extra.get("capture_seconds", 0.0))
        row["pool_growth_bytes"] += c.memory_bytes
        row["sizes"].add(c.size)
    for row in by_mode.values():
        row["sizes"] = len(row["sizes"])
    return by_mode


def run_mode(mode: str, model: Any, cfg: argparse.Namespace, root: Path,
             out: dict[str, Any], *, variant: str = "",
             baseline: Callable[..., Any] | None = None) -> None:
    """Compile, capture every size, check outputs, time the batch-1 step (results into out).

    ``variant="out"`` / ``"fused"`` / ``"lean"``: the model with the output-writing attention
    op (SDPA or the one Triton kernel) or with the flash kernel alone as the op: capture sizes
    up to 8 only, no traced/untraced rounds (its step and breakdown are what it is for).
    """
    import torch

    import compile_lens
    from compile_lens.backend import cudagraphs

    sizes = list(cfg.sizes) if mode != "none" else []
    if variant:
        sizes = [s for s in sizes if s <= 8]
    decode = [s for s in sizes if s <= cfg.decode_max]
    op = {"out": "bench_cg::attention_out", "fused": "bench_cg::attention_fused",
          "lean": "bench_cg::attention_lean"}.get(variant, "bench_cg::attention")
    backend = compile_lens.piecewise(
        splitting_ops=[op], cudagraph_sizes=sizes, cudagraph_mode=mode,
        cudagraph_full_sizes=decode if mode == "full_and_piecewise" else None,
        cache_dir=str(root / "artifacts"))
    returned: list[Any] = []

    def keep(gm: Any, example_inputs: Any) -> Any:
        returned.append(backend(gm, example_inputs))
        return returned[-1]

    compiled = torch.compile(model, backend=keep)
    largest = max(cfg.sizes)
    out["sizes"] = len(sizes)
    out["full_sizes"] = len(decode) if mode == "full_and_piecewise" else (
        len(sizes) if mode == "full" else 0)
    since = cudagraphs.capture_seq()
    with torch.no_grad(), compile_lens.trace(factors=False, bytecode=False, progress=False) as t:
        start = time.perf_counter()
        compiled(*inputs(largest + 1, cfg.vocab, dynamic=True))  # compiles; above every size
        torch.cuda.synchronize()
        out["compile_s"] = time.perf_counter() - start
        reserved0 = torch.cuda.memory_reserved()
        start = time.perf_counter()
        for n in sorted(sizes, reverse=True):
            if n != 1:
                compiled(*inputs(n, cfg.vocab))
        torch.cuda.synchronize()
        out["capture_wall_s"] = time.perf_counter() - start
        start = time.perf_counter()
        compiled(*inputs(1, cfg.vocab))  # Dynamo specialises 1: compiles a static graph
        torch.cuda.synchronize()
        out["batch1_compile_and_capture_s"] = time.perf_counter() - start
        out["held_after_captures_bytes"] = torch.cuda.memory_reserved() - reserved0
        cudagraphs.report_replays(since=since)
    record = t.record
    out["captures"] = _capture_totals(record)
    out["capture_seconds_total"] = sum(c.seconds for c in record.captures)
    out["pool_growth_bytes_total"] = sum(c.memory_bytes for c in record.captures)
    out["fallbacks"] = [(f.submod, f.reason, f.calls) for f in record.cudagraph_fallbacks]
    out["notes"] = record.run.notes[:10]
    if cfg.trace_dir:
        t.save(Path(cfg.trace_dir) / f"cudagraph_modes_{mode}{'_' + variant if variant else ''}.json")
    with torch.no_grad():
        diffs = {}
        for n in (1, 3, 17, 200, largest, largest + 1):
            args = inputs(n, cfg.vocab)
            diffs[str(n)] = float((compiled(*args) - model(*args)).abs().max())
        out["max_abs_diff_vs_eager"] = diffs
        args1 = inputs(1, cfg.vocab)
        out["step_us"] = median_step_us(compiled, args1, cfg.rounds, cfg.steps)
        if baseline is not None:  # the same model's reduce-overhead step, rounds alternating
            out["vs_reduce_overhead"] = side_by_side(compiled, baseline, args1, cfg.rounds,
                                                     cfg.steps)
        if mode in ("piecewise", "full_and_piecewise") and not variant:
            out["traced_vs_untraced"] = traced_vs_untraced(compiled, args1, cfg.trace_rounds,
                                                           cfg.steps)
        batch1 = returned[-1]
        if mode == "piecewise" and hasattr(batch1, "__self__"):
            out["breakdown"] = piecewise_breakdown(compiled, args1, batch1.__self__, cfg.steps)
        elif mode in ("full", "full_and_piecewise") and hasattr(batch1, "entries"):
            out["breakdown"] = full_graph_breakdown(compiled, args1, batch1, cfg.steps)


def check_fused_attention(part: dict[str, Any], fused_model: Any, reference: Any,
                          cfg: argparse.Namespace) -> None:
    """The Triton kernel against the SDPA op (``unbind`` views of one qkv tensor, as in the
    model), the fused model's logits against the SDPA model's (same weights), and each op's GPU
    time per call at 1 token."""
    import torch

    heads, head_dim = cfg.heads, cfg.hidden // cfg.heads
    dtype = next(fused_model.parameters()).dtype
    diffs = {}
    for n in (1, 3, 17, 64, 200, 513):
        g = torch.Generator().manual_seed(n)
        q, k, v = torch.randn(n, 3, heads, head_dim, generator=g).to(DEVICE, dtype).unbind(1)
        out = torch.empty_like(q)
        torch.ops.bench_cg.attention_fused(q, k, v, out)
        diffs[str(n)] = float((out - torch.ops.bench_cg.attention(q, k, v)).abs().max())
    part["kernel_vs_sdpa_max_abs_diff"] = diffs
    with torch.no_grad():
        part["model_vs_sdpa_model_max_abs_diff"] = {
            str(n): float((fused_model(*inputs(n, cfg.vocab))
                           - reference(*inputs(n, cfg.vocab))).abs().max()) for n in (1, 17)}
    if DEVICE == "cuda":
        q, k, v = torch.randn(1, 3, heads, head_dim, device=DEVICE, dtype=dtype).unbind(1)
        out = torch.empty_like(q)
        part["fused_op_us_per_call_1_token"] = 1e6 * step_time(
            torch.ops.bench_cg.attention_fused, (q, k, v, out), cfg.steps)
        part["sdpa_op_us_per_call_1_token"] = 1e6 * step_time(
            torch.ops.bench_cg.attention, (q, k, v), cfg.steps)


def arm_keys(arm: str) -> tuple[str, str, str]:
    """An attention arm's parts in the results: its op check, its own ``reduce-overhead`` step,
    its piecewise step."""
    return (f"{arm}_attention_check", f"reduce_overhead_{arm}_attention",
            f"piecewise_{arm}_attention")


FUSED_KEYS = arm_keys("fused")


def attention_arm(arm: str, check: Callable[..., None], results: dict[str, Any],
                  cfg: argparse.Namespace, root: Path, save: Callable[[], None],
                  reduce_overhead: Callable[..., None], reference: Any,
                  baselines: dict[int, Any] | None = None, unavailable: str | None = None) -> None:
    """One attention arm (``"fused"``, ``"lean"``): ``check`` of its op and model against the SDPA
    ones, its ``reduce-overhead`` step, its piecewise step and breakdown (goal: piecewise ≤ 1.5×
    its own ``reduce-overhead``). Where it cannot run, each part records why (``unavailable``)."""
    if unavailable:
        for key in arm_keys(arm):
            results[key] = {"skipped": unavailable}
        save()
        return
    built: list[Any] = []

    def model() -> Any:
        if not built:
            built.append(build_model(cfg.layers, cfg.hidden, cfg.heads, cfg.vocab,
                                     **{arm: True}))
        return built[0]

    check_key, ro_key, piecewise_key = arm_keys(arm)
    _guarded(results, check_key, lambda part: check(part, model(), reference, cfg), save)
    _guarded(results, ro_key, lambda part: reduce_overhead(part, model()), save)
    _guarded(results, piecewise_key,
             lambda part: run_mode("piecewise", model(), cfg, root, part, variant=arm,
                                   baseline=(baselines or {}).get(id(model()))), save)


def fused_arm(results: dict[str, Any], cfg: argparse.Namespace, root: Path,
              save: Callable[[], None], reduce_overhead: Callable[..., None],
              reference: Any, baselines: dict[int, Any] | None = None) -> None:
    """The fused-attention arm; skipped, with the reason, without Triton or CUDA."""
    attention_arm("fused", check_fused_attention, results, cfg, root, save, reduce_overhead,
                  reference, baselines, unavailable=fused_attention_unavailable())


def check_lean_attention(part: dict[str, Any], lean_model: Any, reference: Any,
                         cfg: argparse.Namespace) -> None:
    """The lean op against the SDPA op, the lean model's logits against the SDPA model's (same
    weights), and both ops' CPU cost per call at 1 token (eager, as piecewise mode calls them)."""
    import torch

    heads, head_dim = cfg.heads, cfg.hidden // cfg.heads
    dtype = next(lean_model.parameters()).dtype
    diffs = {}
    for n in (1, 3, 17, 64, 200, 513):
        g = torch.Generator().manual_seed(n)
        q, k, v = torch.randn(n, 3, heads, head_dim, generator=g).to(DEVICE, dtype).unbind(1)
        views = [t.transpose(0, 1)[None] for t in (q, k, v)]
        out = torch.ops.bench_cg.attention_lean(*views)[0].transpose(0, 1)
        diffs[str(n)] = float((out - torch.ops.bench_cg.attention(q, k, v)).abs().max())
    part["op_vs_sdpa_max_abs_diff"] = diffs
    with torch.no_grad():
        part["model_vs_sdpa_model_max_abs_diff"] = {
            str(n): float((lean_model(*inputs(n, cfg.vocab))
                           - reference(*inputs(n, cfg.vocab))).abs().max()) for n in (1, 17)}
    if DEVICE == "cuda":
        q, k, v = torch.randn(1, 3, heads, head_dim, device=DEVICE, dtype=dtype).unbind(1)
        views = tuple(t.transpose(0, 1)[None] for t in (q, k, v))
        part["lean_op_us_per_call_1_token"] = 1e6 * step_time(
            torch.ops.bench_cg.attention_lean, views, cfg.steps)
        part["sdpa_op_us_per_call_1_token"] = 1e6 * step_time(
            torch.ops.bench_cg.attention, (q, k, v), cfg.steps)


def lean_arm(results: dict[str, Any], cfg: argparse.Namespace, root: Path,
             save: Callable[[], None], reduce_overhead: Callable[..., None],
             reference: Any, baselines: dict[int, Any] | None = None) -> None:
    """The lean-attention arm (the flash kernel alone as the splitting op)."""
    attention_arm("lean", check_lean_attention, results, cfg, root, save, reduce_overhead,
                  reference, baselines)


def _guarded(results: dict[str, Any], key: str, fn: Callable[[dict[str, Any]], None],
             save: Callable[[], None]) -> None:
    part: dict[str, Any] = results.setdefault(key, {})
    start = time.perf_counter()
    try:
        fn(part)
    except Exception as exc:  # record and go on: the other modes still run
        part["error"] = f"{type(exc).__name__}: {exc}"[:2000]
        part["traceback"] = traceback.format_exc()[-4000:]
        sys.stderr.write(f"[{key}] failed: {part['error'][:300]}\n")
    finally:
        part["part_s"] = time.perf_counter() - start
        _release()
        save()


def environment() -> dict[str, Any]:
    import platform

    import torch

    props = torch.cuda.get_device_properties(0)
    try:
        import triton

        triton_version = triton.__version__
    except ImportError:
        triton_version = None
    return {"device": torch.cuda.get_device_name(), "sms": props.multi_processor_count,
            "memory_gib": round(props.total_memory / 2**30, 1), "torch": torch.__version__,
            "triton": triton_version, "cuda": torch.version.cuda,
            "python": platform.python_version()}


def ratios(r: dict[str, Any]) -> dict[str, Any]:
    """The issue's goals from the step times (None where a part is missing)."""
    def us(key: str) -> float | None:
        value = r.get(key, {}).get("step_us")
        return float(value) if isinstance(value, int | float) else None

    def vs_ro(key: str, separate: float | None) -> float | None:
        """Against reduce-overhead: the paired rounds where measured, else the separate steps."""
        paired = r.get(key, {}).get("vs_reduce_overhead", {}).get("paired_ratio_median")
        if isinstance(paired, int | float):
            return float(paired)
        mine = us(key)
        return mine / separate if mine is not None and separate else None

    ro, eager = us("reduce_overhead"), us("eager")
    out: dict[str, Any] = {}
    for mode, goal in (("full_and_piecewise", 1.15), ("piecewise", 1.5), ("full", None),
                       ("none", None)):
        mine = us(mode)
        ratio = vs_ro(mode, ro)
        if ratio is not None:
            out[f"{mode}_vs_reduce_overhead"] = {"ratio": ratio, "goal": goal}
        if mine is not None and eager:
            out[f"eager_vs_{mode}"] = {"ratio": eager / mine,
                                       "goal": 5.0 if mode != "none" else None}
    for arm in ARMS:
        ratio = vs_ro(f"piecewise_{arm}_attention", us(f"reduce_overhead_{arm}_attention"))
        if ratio is not None:
            out[f"piecewise_{arm}_attention_vs_reduce_overhead_{arm}_attention"] = {
                "ratio": ratio, "goal": 1.5}
    for mode in ("piecewise", "full_and_piecewise"):
        tv = r.get(mode, {}).get("traced_vs_untraced")
        if tv:
            out[f"{mode}_traced_vs_untraced"] = {"ratio": tv["paired_ratio_median"],
                                                 "goal": 1.005}
            if "cpu_paired_ratio_median" in tv:  # the same rounds' issuing CPU time
                out[f"{mode}_traced_vs_untraced_cpu"] = {"ratio": tv["cpu_paired_ratio_median"],
                                                         "goal": None}
    return out


def _fmt(value: Any, spec: str = ".1f", unit: str = "") -> str:
    return f"{value:{spec}}{unit}" if isinstance(value, int | float) else "–"


def markdown(r: dict[str, Any]) -> str:
    """The RESULTS.md tables of one run (parts that failed show their error)."""
    env = r.get("env", {})
    cfg = r.get("config", {})
    lines = [f"Device: {env.get('device')} ({env.get('sms')} SMs), torch {env.get('torch')}, "
             f"CUDA {env.get('cuda')}, Python {env.get('python')}. Model: {cfg.get('layers')} "
             f"layers, hidden {cfg.get('hidden')}, fp16, custom attention op as splitting op; "
             f"{len(cfg.get('sizes') or [])} capture sizes up to {max(cfg.get('sizes') or [0])}"
             f"{' (--quick)' if cfg.get('quick') else ''}.", "",
             "| measure | result | goal |", "|---|---|---|"]
    for name, row in r.get("ratios", {}).items():
        goal = row.get("goal")
        lines.append(f"| {name.replace('_', ' ')} | {_fmt(row.get('ratio'), '.3f')} | "
                     f"{'–' if goal is None else goal} |")
    lines += ["", "| batch-1 step | µs | compile s | capture wall s | capture s (traced) | "
              "pool growth MiB | held after MiB | max abs diff vs eager |",
              "|---|---|---|---|---|---|---|---|"]
    arm_parts = [f"{kind}_{arm}_attention" for arm in ARMS
                 for kind in ("reduce_overhead", "piecewise")]
    for key in ("eager", "reduce_overhead", *MODES, *arm_parts):
        part = r.get(key)
        if not isinstance(part, dict):
            continue
        if "error" in part or "skipped" in part:
            why = f"error: {part['error'][:120]}" if "error" in part else part["skipped"][:160]
            lines.append(f"| {key} | {why} | | | | | | |")
            continue
        diffs = part.get("max_abs_diff_vs_eager")
        worst = max(diffs.values()) if isinstance(diffs, dict) and diffs else diffs
        lines.append(
            f"| {key} | {_fmt(part.get('step_us'))} | "
            f"{_fmt(part.get('compile_s', part.get('compile_and_warm_s')), '.1f')} | "
            f"{_fmt(part.get('capture_wall_s'), '.2f')} | "
            f"{_fmt(part.get('capture_seconds_total'), '.2f')} | "
            f"{_fmt((part.get('pool_growth_bytes_total') or 0) / 2**20, '.0f')} | "
            f"{_fmt((part.get('held_after_captures_bytes') or 0) / 2**20, '.0f')} | "
            f"{_fmt(worst, '.3g')} |")
    piecewise_arms = [f"piecewise_{arm}_attention" for arm in ARMS]
    paired_rows = [(key, part["vs_reduce_overhead"]) for key in (*MODES, *piecewise_arms)
        if isinstance(part := r.get(key), dict) and part.get("vs_reduce_overhead")]
    if paired_rows:
        lines += ["", "against the same model's `reduce-overhead`, side by side (rounds alternating; "
                  "the ratios above use these):", "",
                  "| mode | step µs | reduce-overhead µs | paired ratio (median) | quartiles |",
                  "|---|---|---|---|---|"]
        for key, p in paired_rows:
            q = p.get("paired_ratio_quartiles") or []
            lines.append(f"| {key} | {_fmt(p.get('step_us'))} | {_fmt(p.get('baseline_us'))} | "
                         f"{_fmt(p.get('paired_ratio_median'), '.3f')} | "
                         f"{' – '.join(_fmt(x, '.3f') for x in q)} |")
    for arm, title in (("fused", "fused attention kernel (one Triton kernel per call)"),
                       ("lean", "lean attention op (the flash kernel alone)")):
        check = r.get(f"{arm}_attention_check") or {}
        if not (any(k.endswith("max_abs_diff") for k in check) or "error" in check):
            continue
        lines += ["", f"{title} against the SDPA op:", ""]
        for k, v in check.items():
            if k in ("part_s", "traceback"):
                continue
            text = (", ".join(f"{n} tokens {_fmt(d, '.3g')}" for n, d in v.items())
                    if isinstance(v, dict) else _fmt(v) if isinstance(v, float) else v)
            lines.append(f"- {k.replace('_', ' ')}: {text}")
    for key in (*MODES, *piecewise_arms):
        b = (r.get(key) or {}).get("breakdown")
        if b:
            lines += ["", f"{key}, batch-1 step, where the time goes (µs per step):", ""]
            lines += [f"- {k.replace('_', ' ')}: {_fmt(v)}" for k, v in b.items()
                      if isinstance(v, int | float)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="the JSON file to write (or a folder)")
    parser.add_argument("--markdown", help="print the tables of a written JSON file and stop")
    parser.add_argument("--quick", action="store_true", help="sizes up to 64, fewer rounds")
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--hidden", type=int, default=1024)
    parser.add_argument("--heads", type=int, default=16)
    parser.add_argument("--vocab", type=int, default=32000)
    parser.add_argument("--decode-max", type=int, default=256,
                        help="full_and_piecewise: sizes up to this are full decode graphs")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--trace-dir", help="save each mode's trace here")
    parser.add_argument("--no-out-variant", action="store_true",
                        help="skip the model whose attention op writes into its output")
    parser.add_argument("--no-fused-attention", action="store_true",
                        help="skip the model whose attention op is one Triton kernel")
    parser.add_argument("--no-lean-attention", action="store_true",
                        help="skip the model whose attention op is the flash kernel alone")
    cfg = parser.parse_args()
    if cfg.markdown:
        print(markdown(json.loads(Path(cfg.markdown).read_text())))
        return
    if not cfg.out:
        parser.error("--out is required")
    from compile_lens.backend.dispatch import VLLM_DEFAULT_CAPTURE_SIZES

    cfg.sizes = [s for s in VLLM_DEFAULT_CAPTURE_SIZES if not cfg.quick or s <= 64]
    cfg.rounds, cfg.steps = (5, 50) if cfg.quick else (11, 200)
    cfg.trace_rounds = 5 if cfg.quick else 31
    if cfg.quick:
        cfg.decode_max = min(cfg.decode_max, 16)
    out_path = Path(cfg.out)
    if out_path.is_dir() or not out_path.suffix:
        out_path = out_path / RESULT_NAME
    out_path.parent.mkdir(parents=True, exist_ok=True)
    if cfg.trace_dir:
        Path(cfg.trace_dir).mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"config": {k: v for k, v in vars(cfg).items()}}

    def save() -> None:
        results["ratios"] = ratios(results)
        out_path.write_text(json.dumps(results, indent=1, default=str))

    import os

    with tempfile.TemporaryDirectory(prefix="cl_cg_modes_") as tmp:
        root = Path(tmp)
        os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(root / "inductor"))
        os.environ.setdefault("TRITON_CACHE_DIR", str(root / "triton"))
        import torch

        results["env"] = environment()
        model = build_model(cfg.layers, cfg.hidden, cfg.heads, cfg.vocab)
        args1 = inputs(1, cfg.vocab)

        def eager(part: dict[str, Any]) -> None:
            with torch.no_grad():
                part["step_us"] = median_step_us(model, args1, cfg.rounds, cfg.steps)

        baselines: dict[int, Any] = {}  # id(model) -> its reduce-overhead callable

        def reduce_overhead(part: dict[str, Any], m: Any = model) -> None:
            compiled = baselines[id(m)] = torch.compile(m, mode="reduce-overhead")
            with torch.no_grad():
                start = time.perf_counter()
                for _ in range(3):
                    compiled(*args1)
                torch.cuda.synchronize()
                part["compile_and_warm_s"] = time.perf_counter() - start
                part["step_us"] = median_step_us(compiled, args1, cfg.rounds, cfg.steps)
                part["max_abs_diff_vs_eager"] = float((compiled(*args1) - m(*args1)).abs().max())

        # the baselines first, then the modes the goals name: a run cut short keeps the ratios
        _guarded(results, "eager", eager, save)
        _guarded(results, "reduce_overhead", reduce_overhead, save)
        for mode in cfg.modes.split(","):
            _guarded(results, mode, lambda part, m=mode: run_mode(
                m, model, cfg, root, part, baseline=baselines.get(id(model))), save)
        if not cfg.no_out_variant:
            out_model = build_model(cfg.layers, cfg.hidden, cfg.heads, cfg.vocab, out_variant=True)
            _guarded(results, "reduce_overhead_out_attention",
                     lambda part: reduce_overhead(part, out_model), save)
            _guarded(results, "piecewise_out_attention",
                     lambda part: run_mode("piecewise", out_model, cfg, root, part, variant="out",
                                           baseline=baselines.get(id(out_model))),
                     save)
        if not cfg.no_lean_attention:
            lean_arm(results, cfg, root, save, reduce_overhead, model, baselines)
        if not cfg.no_fused_attention:
            fused_arm(results, cfg, root, save, reduce_overhead, model, baselines)
    save()
    print(markdown(results))


if __name__ == "__main__":
    main()
