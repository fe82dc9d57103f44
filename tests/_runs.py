"""Real compile runs shared by the tests (see conftest.py), in fresh caches each."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

import compile_lens
from compile_lens import demo_model

LAYERS = 3
SIZES = [4]
CHECK_SIZES = [1, 4, 8, 13]


@dataclass
class DemoRun:
    """What one run produced."""

    root: Path
    trace: Any
    outputs: dict[int, torch.Tensor]
    eager: dict[int, torch.Tensor]
    backend: Any
    inductor_entries: list[str] = field(default_factory=list)
    artifacts: list[str] = field(default_factory=list)


def cache_listing(directory: Path) -> list[str]:
    """Relative paths of the files Inductor/AOTAutograd cached (what a cache hit looks up)."""
    if not directory.exists():
        return []
    keep = ("aotautograd", "fxgraph")
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*")
                  if p.is_file() and p.relative_to(directory).parts[0] in keep)


@contextlib.contextmanager
def inductor_cache(directory: Path | str) -> Iterator[None]:
    """Point Inductor's caches at ``directory`` for the block; reset Dynamo on both ends."""
    previous = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(directory)
    torch._dynamo.reset()
    try:
        yield
    finally:
        torch._dynamo.reset()
        if previous is None:
            os.environ.pop("TORCHINDUCTOR_CACHE_DIR", None)
        else:
            os.environ["TORCHINDUCTOR_CACHE_DIR"] = previous


def run_demo_model(root: Path, *, traced: bool, layers: int = LAYERS, **trace_kw: Any) -> DemoRun:
    """Compile the demo model cold in ``root`` (its own Inductor + artifact caches)."""
    with inductor_cache(root / "inductor"):
        model = demo_model.build(layers=layers)
        backend = compile_lens.piecewise(compile_sizes=SIZES, cache_dir=str(root / "artifacts"))
        compiled = torch.compile(model, backend=backend)
        outputs, eager = {}, {}
        with torch.no_grad():
            if traced:
                with compile_lens.trace(strict=True, **trace_kw) as t:
                    compiled(*demo_model.example_inputs(8))
            else:
                compiled(*demo_model.example_inputs(8))
                t = None
            for n in CHECK_SIZES:
                ids, pos = demo_model.example_inputs(n, mark_dynamic=False)
                outputs[n], eager[n] = compiled(ids, pos), model(ids, pos)
    return DemoRun(
        root=root, trace=t, outputs=outputs, eager=eager, backend=backend,
        inductor_entries=cache_listing(root / "inductor"),
        artifacts=sorted(p.name for p in (root / "artifacts").glob("*.bin")),
    )
