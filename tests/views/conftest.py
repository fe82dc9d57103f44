"""Fixtures for the view tests: synthetic traces (small, hostile, scale) loaded by file path."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from _synthetic import load_synthetic

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture(scope="session")
def synthetic() -> Any:
    """The synthetic-trace module (``synthetic.synthetic_trace(...)``)."""
    return load_synthetic()


@pytest.fixture(scope="session")
def small_trace(synthetic: Any) -> Any:
    """Three layers, a key mismatch on the last piece, a few CUDA-graph capture sizes."""
    return synthetic.synthetic_trace(layers=3, sizes=3, passes=6, capture_sizes=4, mismatch=True)


EVIL = '<script>alert("x")</script>'


@pytest.fixture(scope="session")
def hostile_trace(small_trace: Any) -> Any:
    """The small trace with user-controlled strings that try to break out of the HTML."""
    g = small_trace.graphs[0]
    nodes = [dataclasses.replace(n, target=EVIL) if i == 2 else n for i, n in enumerate(g.nodes)]
    graph = dataclasses.replace(g, name=EVIL, code=g.code + f"\n# {EVIL}", nodes=nodes,
                                bytecode_source=f"def f():\n    return '{EVIL}'\n")
    pieces = [dataclasses.replace(p, code=p.code + f"\n# {EVIL}") for p in small_trace.pieces]
    return dataclasses.replace(small_trace, graphs=[graph], pieces=pieces)


@pytest.fixture(scope="session")
def demo_trace() -> Any:
    """The lead's recorded demo trace, when it is committed (skips otherwise)."""
    from compile_lens.model import read_trace

    path = FIXTURES / "traces" / "demo.json"
    if not path.exists():
        pytest.skip("tests/fixtures/traces/demo.json is not recorded yet")
    return read_trace(path)
