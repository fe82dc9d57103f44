"""Browser fixtures: Debian's chromium driven by Playwright for Python (see ``_browser.py``).

Skipped cleanly when chromium or the ``playwright`` package is missing; every test here is marked
``browser``. Screenshots go to ``$COMPILE_LENS_SCREENSHOTS`` (default: the test's tmp dir).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _browser import ARGS, CHROMIUM, skip_reason


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    reason = skip_reason()
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Debian chromium (one per test module)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where screenshots go."""
    out = Path(os.environ.get("COMPILE_LENS_SCREENSHOTS", tmp_path / "screenshots"))
    out.mkdir(parents=True, exist_ok=True)
    return out
