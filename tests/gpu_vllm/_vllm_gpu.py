"""Helpers of the GPU vLLM tier: real vLLM (0.26 on the H100) under ``trace()``, cold and warm.

Every run is a fresh interpreter (``_llm_gpu_run.py``) with its own ``VLLM_CACHE_ROOT``; runs are
shared per session because each one starts vLLM's engine and compiles (35 s cold on an H100).
Skipped where vLLM or a CUDA device is missing (CI on CPU collects and skips them). Run on the
GPU machine (see docs/vllm.md, "On the GPU"): ``python -m pytest tests/gpu_vllm -q``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
HAS_VLLM = importlib.util.find_spec("vllm") is not None
RUN_TIMEOUT_S = 600


def cuda_devices() -> int:
    """CUDA devices, counted without initializing CUDA in the test process (NVML)."""
    if shutil.which("nvidia-smi") is None:
        return 0
    proc = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, check=False)
    return sum(1 for line in proc.stdout.splitlines() if line.startswith("GPU "))


GPUS = cuda_devices()
GPU_VLLM = [pytest.mark.gpu, pytest.mark.vllm,
            pytest.mark.skipif(not HAS_VLLM, reason="vLLM is not installed"),
            pytest.mark.skipif(GPUS == 0, reason="needs a CUDA GPU")]


@dataclass
class GpuRun:
    """What one ``_llm_gpu_run.py`` run left: its result, its log and (traced) its trace."""

    out: Path
    cache_root: Path
    result: dict[str, Any]
    log: str

    @property
    def trace(self) -> Any:
        import compile_lens

        return compile_lens.load(self.out / "trace.json")

    def cache_files(self) -> list[str]:
        """Every file vLLM and Inductor wrote under the vLLM cache root, relative paths.

        AOTAutograd and FX graph cache entries are named by their key, then by a hash of the
        entry's bytes (which hold compile timings): the key is what a cache lookup compares, so
        the path is cut after it (``…/aotautograd/<key>``, ``…/fxgraph/<xx>/<key>``).
        """
        root = self.cache_root / "torch_compile_cache"
        out = set()
        for path in root.rglob("*"):
            if path.is_file():
                parts = path.relative_to(root).parts
                for layer in ("aotautograd", "fxgraph"):  # <layer>/[<xx>/]<key>/<entry>
                    if layer in parts:
                        cut = parts.index(layer) + (3 if layer == "fxgraph" else 2)
                        parts = parts[:cut]
                out.add("/".join(parts))
        return sorted(out)


def run_llm(out: Path, cache_root: Path, *args: str) -> GpuRun:
    """Run the script in a fresh interpreter; a failure shows the tail of its log."""
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "VLLM_CACHE_ROOT": str(cache_root), "COMPILE_LENS_DEBUG_CUDA_INIT": "1"}
    for name in ("COMPILE_LENS_SESSION_DIR", "TORCH_LOGS", "TORCH_TRACE", "TORCH_COMPILE_DEBUG",
                 "VLLM_WORKER_MULTIPROC_METHOD"):
        env.pop(name, None)
    proc = subprocess.run([sys.executable, str(HERE / "_llm_gpu_run.py"), str(out), *args],
                          env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
                          check=False)
    log = proc.stdout + proc.stderr
    (out / "log.txt").write_text(log)
    if proc.returncode != 0 or not (out / "result.json").exists():
        pytest.fail(f"vLLM run failed (exit {proc.returncode}):\n{log[-6000:]}")
    return GpuRun(out, cache_root, json.loads((out / "result.json").read_text()), log)


def generated_code(path: str) -> bool:
    """Inductor's generated code and autotune results (``inductor_cache/<xx>/<hash>.py``,
    ``.best_config``): named by the hash of what Inductor generated, not by a cache key."""
    parts = path.split("/")
    return "inductor_cache" in parts and len(parts) > parts.index("inductor_cache") + 2 \
        and parts[parts.index("inductor_cache") + 1] not in ("aotautograd", "fxgraph")
