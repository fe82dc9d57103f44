"""Fixtures for the hardening tests: synthetic traces, hostile strings, a private redaction key.

Every test here gets its own redaction key file (``COMPILE_LENS_REDACTION_KEY``), so fingerprints
are reproducible inside a test and never touch the key in the user's home.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from _synthetic import load_synthetic


@pytest.fixture
def synthetic() -> Any:
    """The synthetic-trace module."""
    return load_synthetic()


@pytest.fixture(autouse=True)
def private_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh redaction key file for this test (created on first use)."""
    path = tmp_path / "keys" / "redaction.key"
    monkeypatch.setenv("COMPILE_LENS_REDACTION_KEY", str(path))
    return path
