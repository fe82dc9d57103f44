"""Multi-rank for real: a 2-GPU ``torchrun`` job (NCCL, tensor parallel, embedded backend) with
TORCH_TRACE per rank, opened by ``compile_lens.load``; then one rank made to compile differently,
which the divergence analysis must name. The NCCL tests are skipped without 2 CUDA devices; a
dry run of the same script over gloo on CPU runs everywhere (Inductor tier).

    python -m pytest -q tests/gpu/test_torchrun_tp.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

import compile_lens  # noqa: E402

two_gpus = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available() or torch.cuda.device_count() < 2,
                       reason="needs 2 CUDA devices"),
]
HERE = Path(__file__).parent


def _torchrun(out: Path, *extra: str) -> Path:
    logs = out / "torch_trace"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TORCHINDUCTOR_", "TORCH_LOGS"))}
    env.update(TORCH_TRACE=str(logs), TORCHINDUCTOR_CACHE_DIR=str(out / "inductor"),
               PYTHONDONTWRITEBYTECODE="1")
    torchrun = shutil.which("torchrun") or f"{sys.executable} -m torch.distributed.run"
    cmd = [*torchrun.split(), "--nproc-per-node", "2", str(HERE / "torchrun_tp.py"), *extra]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return logs


@two_gpus[0]
@two_gpus[1]
def test_two_ranks_alike(tmp_path):
    trace = compile_lens.load(_torchrun(tmp_path))
    assert trace.ranks == [0, 1]
    div = trace.divergence()
    assert not div.diverged, str(div)
    for rank in (0, 1):
        one = trace.rank(rank).record
        assert {c.submod for c in one.compiles} >= {"submod_0", "submod_2"}
        assert all(c.outcome in ("compiled", "deduplicated", "loaded", "cache_hit")
                   for c in one.compiles)
    # Each rank compiles for its own GPU: the keys differ, in the device index only.
    diff = compile_lens.diff(trace.rank(0), trace.rank(1))
    assert "only the device index differs" in str(diff)
    assert "dtype, shape, stride or device differs" not in str(diff)
    print(trace.summary())


def _odd_rank_is_named(trace: compile_lens.Trace) -> None:
    assert trace.ranks == [0, 1]
    div = trace.divergence()
    assert div.diverged
    assert [g.ranks for g in div.groups["piece keys"]] == [(0,), (1,)]
    assert str(trace.summary()).startswith("ranks DIVERGE (2 ranks)")
    sizes = {r: {c.size for c in trace.rank(r).record.compiles} for r in (0, 1)}
    assert "8" in sizes[1] and "8" not in sizes[0]
    print(div)


@two_gpus[0]
@two_gpus[1]
def test_the_rank_that_compiles_differently_is_named(tmp_path):
    _odd_rank_is_named(compile_lens.load(_torchrun(tmp_path, "--odd-rank", "1")))


@pytest.mark.inductor
def test_gloo_dry_run_names_the_odd_rank(tmp_path):
    """The same job over gloo on CPU (2 processes): the script and the analysis, not NCCL."""
    _odd_rank_is_named(compile_lens.load(_torchrun(tmp_path, "--odd-rank", "1", "--cpu")))
