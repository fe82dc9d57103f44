"""Shared paths of the record tests: real TORCH_TRACE logs from tlparse's test inputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent.parent / "fixtures"
LOGS = FIXTURES / "torch_trace"
EVENTS = FIXTURES / "events"


@pytest.fixture(scope="session")
def tlparse_expected() -> dict:
    """What tlparse 0.4.3 found in each log (``make_expected.py``)."""
    return json.loads((LOGS / "tlparse_expected.json").read_text(encoding="utf-8"))["cases"]
