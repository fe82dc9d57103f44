"""Shared fixtures: isolation of Dynamo/env state, a patch-leak check, and compiled demo runs.

Real Inductor compiles are slow on CPU (~10 s each), so the few real runs are session-scoped and
shared; logic tests use ``backend="eager"`` paths.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import _runs


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch):
    """Scrub env vars that change what torch logs; after the test, check nothing leaked."""
    for name in ("TORCH_LOGS", "TORCH_TRACE", "TORCH_COMPILE_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    yield
    from compile_lens import _session
    from compile_lens._torch import patching
    from compile_lens._torch.keys import LEGACY_TARGET
    from compile_lens.instrument.structured_log import StructuredTraceHandler

    assert _session.current() is None, "a trace session was left active"
    assert not hasattr(patching.current(LEGACY_TARGET), "__wrapped__"), (
        "autograd_cache_key is still wrapped after the test")
    handlers = logging.getLogger("torch.__trace").handlers
    assert not any(isinstance(h, StructuredTraceHandler) for h in handlers), (
        "a compile_lens handler is still attached to torch.__trace")
    filters = [name for name, module in list(sys.modules.items())
               if hasattr(getattr(module, "__dict__", {}).get("trace_structured"),
                          "__compile_lens_payload_filter__")]
    assert not filters, f"trace_structured is still wrapped in {filters[:3]}"
    assert not logging.getLogger("torch.__trace").filters, "a filter is left on torch.__trace"
    assert "COMPILE_LENS_SESSION_DIR" not in os.environ


@pytest.fixture(scope="session")
def demo_traced(tmp_path_factory: pytest.TempPathFactory) -> _runs.DemoRun:
    """The demo model (3 layers, sizes [4]) compiled cold under ``trace()``."""
    return _runs.run_demo_model(tmp_path_factory.mktemp("traced"), traced=True)


@pytest.fixture(scope="session")
def demo_untraced(tmp_path_factory: pytest.TempPathFactory) -> _runs.DemoRun:
    """The same model compiled cold without ``trace()`` (the observer-effect baseline)."""
    return _runs.run_demo_model(tmp_path_factory.mktemp("untraced"), traced=False)
