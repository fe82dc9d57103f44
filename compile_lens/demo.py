"""The demo: trace the built-in small Llama through the embedded piecewise backend.

Library code (no printing, no exit codes): ``run_demo`` returns the ``Trace`` and the largest
difference from eager PyTorch; ``compile-lens demo`` (cli.py) prints and writes files.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch

import compile_lens
from compile_lens import demo_model
from compile_lens.api import Trace


@dataclass(frozen=True)
class DemoResult:
    """What the demo produced."""

    trace: Trace
    max_abs_diff: float
    sizes_checked: list[int]


@contextlib.contextmanager
def _cold_caches(cold: bool) -> Iterator[str | None]:
    """With ``cold``: fresh Inductor and artifact caches for the block (a true cold compile)."""
    if not cold:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="compile_lens_demo_") as tmp:
        previous = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = os.path.join(tmp, "inductor")
        try:
            yield os.path.join(tmp, "artifacts")
        finally:
            if previous is None:
                os.environ.pop("TORCHINDUCTOR_CACHE_DIR", None)
            else:
                os.environ["TORCHINDUCTOR_CACHE_DIR"] = previous


def run_demo(layers: int = 4, compile_sizes: Sequence[int] = (1, 4), num_tokens: int = 8,
             cross_check: bool = False, cold: bool = False, cache_dir: str | None = None,
             check_sizes: Sequence[int] = (1, 4, 8, 13)) -> DemoResult:
    """Compile and run the demo model under ``trace()``; compare with eager at several sizes."""
    model = demo_model.build(layers=layers)
    torch._dynamo.reset()
    with _cold_caches(cold) as cold_dir, torch.no_grad():
        backend = compile_lens.piecewise(compile_sizes=compile_sizes,
                                         cache_dir=cache_dir or cold_dir)
        compiled = torch.compile(model, backend=backend)
        with compile_lens.trace(cross_check=cross_check) as t:
            compiled(*demo_model.example_inputs(num_tokens))
        worst = 0.0
        for n in check_sizes:
            ids, pos = demo_model.example_inputs(n, mark_dynamic=False)
            worst = max(worst, float((compiled(ids, pos) - model(ids, pos)).abs().max()))
    return DemoResult(trace=t, max_abs_diff=worst, sizes_checked=list(check_sizes))
