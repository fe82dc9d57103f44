"""Load ``tests/fixtures/synthetic.py`` (hand-built traces) by path, once per process.

Shared by the views, browser and hardening tests (``tests`` is on ``sys.path``, not a package).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def load_synthetic() -> Any:
    """Import ``tests/fixtures/synthetic.py`` by path."""
    name = "compile_lens_test_synthetic"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, FIXTURES / "synthetic.py")
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]
