"""In-process parts of bench_gpu.py: captures, batch-1 step times, the environment, the table."""

from __future__ import annotations

import inspect
import os
import statistics
from pathlib import Path
from typing import Any

from bench_gpu import CAPTURE_SIZES, LAYERS, step_time

ROUNDS, STEPS = 61, 200


def _params(fn: Any) -> list[str] | str:
    try:
        return list(inspect.signature(fn).parameters)
    except (TypeError, ValueError) as exc:
        return f"unavailable: {exc}"


def environment() -> dict[str, Any]:
    """Versions, the device, and the signatures of every torch API compile_lens relies on here."""
    import platform

    import torch
    import triton
    from torch._inductor import select_algorithm

    from compile_lens._torch import keys, patching
    from compile_lens.instrument import autotune

    props = torch.cuda.get_device_properties(0)
    artifact = getattr(torch._inductor, "CompiledArtifact", None)
    return {
        "device": torch.cuda.get_device_name(), "sms": props.multi_processor_count,
        "memory_gib": round(props.total_memory / 2**30, 1), "torch": torch.__version__,
        "triton": triton.__version__, "cuda": torch.version.cuda,
        "python": platform.python_version(),
        "apis": {
            "trace_structured": _params(torch._logging.trace_structured),
            "standalone_compile": _params(torch._inductor.standalone_compile),
            "standalone_key_api": keys.standalone_key_api() is not None,
            "legacy_autograd_cache_key": _params(patching.current(keys.LEGACY_TARGET)),
            "CompiledArtifact.save": _params(artifact.save) if artifact else None,
            "CompiledArtifact.load": _params(artifact.load) if artifact else None,
            "CUDAGraph.capture_begin": _params(torch.cuda.CUDAGraph.capture_begin),
            "graph_pool_handle": hasattr(torch.cuda, "graph_pool_handle"),
            "feedback_savers": len(autotune._saver_list(select_algorithm)),
            "cuda_graph_hooks": hasattr(torch.cuda.graphs, "register_graph_capture_start_hook"),
        },
    }


def _median_step(fn: Any, args: tuple[Any, ...], rounds: int = 11) -> float:
    return statistics.median(step_time(fn, args, STEPS) for _ in range(rounds))


def _capture_table(record: Any) -> list[dict[str, Any]]:
    rows: dict[int, dict[str, Any]] = {}
    for c in record.captures:
        row = rows.setdefault(c.size, {"size": c.size, "pieces": 0, "seconds": 0.0,
                                       "capture_seconds": 0.0, "memory_bytes": 0,
                                       "allocated_bytes": 0})
        row["pieces"] += 1
        row["seconds"] += c.seconds
        row["capture_seconds"] += float(c.extra.get("capture_seconds", 0.0))
        row["memory_bytes"] += c.memory_bytes
        row["allocated_bytes"] += int(c.extra.get("allocated_bytes", 0))
    return [rows[s] for s in sorted(rows)]


def _capture_all(model: Any, root: Path, trace_out: str | None) -> tuple[Any, dict[str, Any]]:
    """Compile with CUDA graphs and capture every size, traced; return the compiled model."""
    import torch

    import compile_lens
    from compile_lens import demo_model
    from compile_lens.backend import cudagraphs

    backend = compile_lens.piecewise(cudagraph_sizes=CAPTURE_SIZES, cache_dir=str(root / "art"))
    compiled = torch.compile(model, backend=backend)

    def inputs(n: int) -> Any:
        return demo_model.example_inputs(n, device="cuda", mark_dynamic=False)

    since = cudagraphs.capture_seq()
    with compile_lens.trace() as t:
        compiled(*demo_model.example_inputs(CAPTURE_SIZES[-1], device="cuda"))
        cudagraphs.capture_sizes(compiled, inputs, CAPTURE_SIZES)
        for _ in range(3):
            compiled(*inputs(1))
        cudagraphs.report_replays(since=since)
    if trace_out:
        t.save(trace_out)
    worst = max(float((compiled(*inputs(n)) - model(*inputs(n))).abs().max())
                for n in (1, 3, 8, 13, 64, 100))
    info = {"captures": _capture_table(t.record), "max_abs_diff_vs_eager": worst,
            "summary": str(t.summary()), "notes": t.record.run.notes}
    return compiled, info


def _quartiles(values: list[float]) -> list[float]:
    q = statistics.quantiles(values, n=4)
    return [round(q[0], 4), round(statistics.median(values), 4), round(q[2], 4)]


def _traced_vs_untraced(compiled: Any, args: tuple[Any, ...]) -> dict[str, Any]:
    """Batch-1 steps inside vs outside a trace() block, in rounds of three adjacent blocks
    (untraced, traced, untraced again; the order rotates). The untraced/untraced pair is an A/A
    control: its spread is the noise floor. Also counts the trace events the traced steps
    produced (the tracer's per-step work: none expected)."""
    import logging

    import compile_lens
    from compile_lens.instrument.structured_log import TRACE_LOGGER, StructuredTraceHandler

    blocks: dict[str, list[float]] = {"untraced": [], "traced": [], "control": []}
    events = 0
    for r in range(ROUNDS):
        order = ["untraced", "traced", "control"]
        for kind in order[r % 3:] + order[:r % 3]:
            if kind != "traced":
                blocks[kind].append(step_time(compiled, args, STEPS))
                continue
            with compile_lens.trace(factors=False, bytecode=False, progress=False):
                handler = next(h for h in logging.getLogger(TRACE_LOGGER).handlers
                               if isinstance(h, StructuredTraceHandler))
                before = handler.count
                blocks["traced"].append(step_time(compiled, args, STEPS))
                events += handler.count - before
    untraced, traced, control = blocks["untraced"], blocks["traced"], blocks["control"]
    paired = [t / u for t, u in zip(traced, untraced, strict=True)]
    aa = [c / u for c, u in zip(control, untraced, strict=True)]
    return {"untraced_us": 1e6 * statistics.median(untraced),
            "traced_us": 1e6 * statistics.median(traced),
            "ratio_of_medians": statistics.median(traced) / statistics.median(untraced),
            "paired_ratio_median": statistics.median(paired),
            "paired_ratio_quartiles": _quartiles(paired), "aa_ratio_quartiles": _quartiles(aa),
            "events_during_traced_steps": events, "rounds": ROUNDS, "steps": STEPS}


def batched_attention(model: Any) -> Any:
    """The demo model with 4-D (batched) attention inputs: SDPA then runs one fused kernel on
    CUDA instead of the math fallback it takes for 3-D inputs (same weights, same function)."""
    import torch.nn.functional as F

    from compile_lens import demo_model

    class BatchedAttentionLayer(demo_model.DecoderLayer):
        def forward(self, x: Any, positions: Any) -> Any:
            tokens, hidden = x.shape
            q, k, v = self.qkv_proj(self.input_norm(x)).chunk(3, dim=-1)
            q, k, v = (t.view(tokens, self.heads, self.head_dim).transpose(0, 1)
                       for t in (q, k, v))
            q = demo_model.rotary(q, positions, self.head_dim)
            k = demo_model.rotary(k, positions, self.head_dim)
            attn = F.scaled_dot_product_attention(q[None], k[None], v[None], is_causal=True)[0]
            x = x + self.o_proj(attn.transpose(0, 1).reshape(tokens, hidden))
            gate, up = self.gate_up_proj(self.post_norm(x)).chunk(2, dim=-1)
            return x + self.down_proj(F.silu(gate) * up)

    for layer in model.layers:
        layer.__class__ = BatchedAttentionLayer
    return model


def bench_variant(model: Any, root: Path, trace_out: str | None) -> dict[str, Any]:
    """Batch-1 step times of one model: eager, piecewise with/without graphs, reduce-overhead."""
    import torch

    import compile_lens
    from compile_lens import demo_model

    out: dict[str, Any] = {}
    args = demo_model.example_inputs(1, device="cuda", mark_dynamic=False)
    out["eager_us"] = 1e6 * _median_step(model, args)
    torch._dynamo.reset()
    compiled, out["graphs"] = _capture_all(model, root, trace_out)
    out["decode"] = _traced_vs_untraced(compiled, args)
    out["piecewise_graphs_us"] = 1e6 * _median_step(compiled, args)
    torch._dynamo.reset()
    plain = torch.compile(model, backend=compile_lens.piecewise(cache_dir=str(root / "a2")))
    plain(*args)
    out["piecewise_no_graphs_us"] = 1e6 * _median_step(plain, args)
    torch._dynamo.reset()
    overhead = torch.compile(model, mode="reduce-overhead")
    for _ in range(3):
        overhead(*args)
    out["reduce_overhead_us"] = 1e6 * _median_step(overhead, args)
    out["reduce_overhead_max_abs_diff"] = float((overhead(*args) - model(*args)).abs().max())
    torch._dynamo.reset()
    out["speedup_vs_eager"] = out["eager_us"] / out["piecewise_graphs_us"]
    out["vs_reduce_overhead"] = out["piecewise_graphs_us"] / out["reduce_overhead_us"]
    return out


def bench_steps(tmp: Path, trace_out: str | None) -> dict[str, Any]:
    """The demo model as is (3-D attention) and with batched attention, in this process."""
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(tmp / "steps" / "inductor")
    os.environ["TRITON_CACHE_DIR"] = str(tmp / "steps" / "triton")
    import torch

    from compile_lens import demo_model

    with torch.no_grad():
        demo = bench_variant(demo_model.build(layers=LAYERS, device="cuda"), tmp / "demo",
                             trace_out)
        batched = bench_variant(batched_attention(demo_model.build(layers=LAYERS, device="cuda")),
                                tmp / "batched", None)
    return {**demo, "batched_attention": batched}


def _step_rows(name: str, r: dict[str, Any]) -> list[str]:
    d = r["decode"]
    return [
        f"| {name}: decode step (batch 1, piecewise CUDA graphs) traced/untraced | "
        f"{d['paired_ratio_median']:.4f} (quartiles {d['paired_ratio_quartiles'][0]:.3f}–"
        f"{d['paired_ratio_quartiles'][2]:.3f}; A/A control {d['aa_ratio_quartiles'][0]:.3f}–"
        f"{d['aa_ratio_quartiles'][2]:.3f}; {d['events_during_traced_steps']} trace events "
        f"in {d['rounds'] * d['steps']} traced steps; {d['untraced_us']:.1f} µs untraced) "
        "| ≤ 1.005 |",
        f"| {name}: batch-1 step eager / piecewise CUDA graphs | {r['speedup_vs_eager']:.1f}× "
        f"({r['eager_us']:.0f} µs vs {r['piecewise_graphs_us']:.1f} µs) | ≥ 5× |",
        f"| {name}: batch-1 step piecewise CUDA graphs / reduce-overhead | "
        f"{r['vs_reduce_overhead']:.2f}× ({r['reduce_overhead_us']:.1f} µs reduce-overhead) "
        "| ≤ 1.5× |",
        f"| {name}: batch-1 step, piecewise without graphs | "
        f"{r['piecewise_no_graphs_us']:.0f} µs | – |",
    ]


def markdown(r: dict[str, Any]) -> str:
    """The RESULTS.md tables."""
    env = r["env"]
    lines = [f"Device: {env['device']} ({env['sms']} SMs), torch {env['torch']}, triton "
             f"{env['triton']}, CUDA {env['cuda']}, Python {env['python']}.", "",
             "| measure | result | goal |", "|---|---|---|"]
    if "cold_compile" in r:
        c = r["cold_compile"]
        lines.append(f"| cold compile traced/untraced ({LAYERS} layers, median of "
                     f"{len(c['ratios'])}) | {c['ratio_median']:.3f} "
                     f"({statistics.median(c['untraced_s']):.1f} s untraced) | ≤ 1.02 |")
    lines += _step_rows("demo", r)
    if "batched_attention" in r:
        lines += _step_rows("demo, batched attention", r["batched_attention"])
    lines += ["", "| capture size | pieces | capture s (incl. warm-up) | pool growth MiB | "
              "held MiB |", "|---|---|---|---|---|"]
    for row in r["graphs"]["captures"]:
        lines.append(f"| {row['size']} | {row['pieces']} | {row['seconds']:.3f} "
                     f"({row['capture_seconds']:.3f} capture) | "
                     f"{row['memory_bytes'] / 2**20:.2f} | {row['allocated_bytes'] / 2**20:.2f} |")
    return "\n".join(lines)
