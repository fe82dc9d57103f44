"""Fixtures of the GPU vLLM tier (helpers in ``_vllm_gpu``)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from _vllm_gpu import GpuRun, run_llm


@pytest.fixture(scope="session")
def gpu_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, GpuRun]:
    """Cold then warm, untraced (root A) and traced (root B), interleaved; plus a second
    untraced cold start (root C)."""
    base = tmp_path_factory.mktemp("gpu_vllm")
    runs = {}
    for phase in ("cold", "warm"):
        runs[f"untraced_{phase}"] = run_llm(base / f"untraced_{phase}", base / "root_a")
        if phase == "cold":  # a second untraced cold start: what varies between any two runs
            runs["untraced_cold2"] = run_llm(base / "untraced_cold2", base / "root_c")
        runs[f"traced_{phase}"] = run_llm(base / f"traced_{phase}", base / "root_b", "--trace")
        if phase == "cold":  # the key cross-check (on torch 2.11 it runs the probe in vLLM)
            runs["cross_cold"] = run_llm(base / "cross_cold", base / "root_d", "--trace",
                                         "--cross-check")
    keep = os.environ.get("COMPILE_LENS_KEEP_TRACES")
    if keep:  # the GPU fixture for the CPU tests and the views (tests/fixtures/traces)
        Path(keep).mkdir(parents=True, exist_ok=True)
        for name, run in runs.items():
            if (run.out / "trace.json").exists():
                shutil.copy(run.out / "trace.json", Path(keep) / f"vllm_gpu_{name}.json")
            shutil.copy(run.out / "log.txt", Path(keep) / f"vllm_gpu_{name}.log")
    return runs
