"""Fixtures for tests/gpu: real GPU runs, shared per session (CUDA only: every test module here
is marked ``gpu`` and skipped without a CUDA device, so CI on CPU collects and skips them)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from _gpu_runs import GraphRun, run_graphs, save


@pytest.fixture(scope="session")
def graphs_run(tmp_path_factory: pytest.TempPathFactory) -> GraphRun:
    """The demo model (3 layers) with cudagraph_sizes [1, 2, 4, 8], compiled cold."""
    run = run_graphs(tmp_path_factory.mktemp("gpu_graphs"))
    save(run.trace, "gpu_graphs.json")
    return run


@pytest.fixture(scope="session")
def cross_check_run(tmp_path_factory: pytest.TempPathFactory) -> GraphRun:
    """The same, compiled with ``trace(cross_check=True)``: both keys for every piece."""
    run = run_graphs(tmp_path_factory.mktemp("gpu_cross"), cross_check=True)
    save(run.trace, "gpu_cross_check.json")
    return run
