"""Parallel piece compiles on CUDA (``backend/parallel.py``): the workers compile Triton code for
the GPU the parent's model lives on; outputs and keys equal the serial path's.

Run on the H100 (see docs/gpu.md): ``python -m pytest tests/gpu/test_parallel_gpu.py -q``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import torch

import compile_lens
from compile_lens import demo_model
from compile_lens.model import COMPILED, DEDUPLICATED, GENERAL_SIZE

pytestmark = [pytest.mark.gpu, pytest.mark.inductor,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


def _run(root: Path, parallel: Any) -> tuple[Any, list[torch.Tensor], Any]:
    previous = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(root / "inductor")
    torch._dynamo.reset()
    try:
        model = demo_model.build(layers=3, device="cuda", hidden=256, heads=4,
                                 intermediate=512).half()
        backend = compile_lens.piecewise(compile_sizes=[4], cache_dir=str(root / "artifacts"),
                                         parallel=parallel)
        compiled = torch.compile(model, backend=backend)
        with torch.no_grad():
            with compile_lens.trace(strict=True) as t:
                compiled(*demo_model.example_inputs(8, device="cuda"))
            outs = [compiled(*demo_model.example_inputs(n, device="cuda", mark_dynamic=False))
                    for n in (4, 8, 13)]
        torch.cuda.synchronize()
    finally:
        torch._dynamo.reset()
        if previous is None:
            os.environ.pop("TORCHINDUCTOR_CACHE_DIR", None)
        else:
            os.environ["TORCHINDUCTOR_CACHE_DIR"] = previous
    return t, outs, backend


def test_cuda_parallel_equals_serial(tmp_path):
    serial, serial_out, _ = _run(tmp_path / "serial", parallel=False)
    par, par_out, backend = _run(tmp_path / "parallel", parallel=3)
    for a, b in zip(serial_out, par_out, strict=True):
        assert torch.equal(a, b)
    rows = {(c.submod, c.size): c for c in par.record.compiles}
    for c in serial.record.compiles:
        other = rows[(c.submod, c.size)]
        assert other.standalone_key == c.standalone_key
        assert other.outcome == c.outcome
        if c.outcome == COMPILED:
            assert other.legacy_key == c.legacy_key
    assert backend.worker_pids, "workers ran"
    assert any("compiled in worker process" in c.note for c in par.record.compiles)
    assert any(s.category == "worker" for s in par.record.spans)
    assert {c.outcome for c in par.record.compiles} <= {COMPILED, DEDUPLICATED}
    general = [c for c in par.record.compiles if c.size == GENERAL_SIZE]
    assert any(c.outcome == DEDUPLICATED for c in general), "the middle layer is reused"
    for pid in backend.worker_pids:
        assert not Path(f"/proc/{pid}").exists()
