"""Real GPU runs shared by tests/gpu (see conftest.py for the fixtures).

``run_graphs`` compiles the demo model with piecewise CUDA graphs and runs it at every size from
1 to 10 twice (captures at 1, 2, 4, 8; 9 and 10 run without graphs). With
``$COMPILE_LENS_GPU_OUT`` set, traces are also saved there (the device run brings them back).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from _runs import inductor_cache

import compile_lens
from compile_lens import demo_model
from compile_lens.backend import cudagraphs

SIZES = [1, 2, 4, 8]
CALLS = list(range(1, 11))
LAYERS = 3


@dataclass
class GraphRun:
    """What one GPU run produced."""

    trace: Any
    backend: Any
    pieces: list[Any] = field(default_factory=list)
    outputs: dict[int, list[torch.Tensor]] = field(default_factory=dict)
    eager: dict[int, torch.Tensor] = field(default_factory=dict)


def inputs(n: int, dynamic: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Demo inputs of ``n`` tokens on the GPU."""
    return demo_model.example_inputs(n, device="cuda", mark_dynamic=dynamic)


def save(t: Any, name: str) -> None:
    out = os.environ.get("COMPILE_LENS_GPU_OUT")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        t.save(Path(out) / name)


def run_graphs(root: Path, *, cross_check: bool = False) -> GraphRun:
    """The demo model through piecewise CUDA graphs, traced, in the Inductor cache ``root``."""
    with inductor_cache(root / "inductor"):
        model = demo_model.build(layers=LAYERS, device="cuda")
        backend = compile_lens.piecewise(compile_sizes=[4], cudagraph_sizes=SIZES,
                                         cache_dir=str(root / "artifacts"))
        compiled = torch.compile(model, backend=backend)
        run = GraphRun(trace=None, backend=backend)
        since = cudagraphs.capture_seq()
        with torch.no_grad(), compile_lens.trace(strict=True, cross_check=cross_check) as t:
            compiled(*inputs(8, dynamic=True))
            cudagraphs.capture_sizes(compiled, inputs, SIZES)
            for _ in range(2):
                for n in CALLS:
                    run.outputs.setdefault(n, []).append(compiled(*inputs(n)))
            cudagraphs.report_replays(since=since)
        with torch.no_grad():
            run.eager = {n: model(*inputs(n)) for n in CALLS}
        torch.cuda.synchronize()
        # Keep the graph runners alive past torch._dynamo.reset() for the tests to inspect.
        run.pieces = [p for p in list(cudagraphs._LIVE) if p.context is backend.graph_context]
    run.trace = t
    return run
