"""Helpers for the browser tests: where chromium is, offline pages, the synthetic traces.

Every request a page makes is routed: ``file:``/``data:``/``blob:`` (and the local Jupyter server,
when allowed) go through; anything else is aborted and recorded, so a test can assert that
nothing left the machine.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM = os.environ.get("COMPILE_LENS_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def skip_reason() -> str | None:
    """Why the browser tests cannot run here, or ``None``."""
    if importlib.util.find_spec("playwright") is None:
        return "playwright (Python package) is not installed; see .ci/views-setup.sh"
    if not Path(CHROMIUM).exists():
        return f"chromium not found at {CHROMIUM}; apt-get install chromium"
    return None


@dataclass
class PageLog:
    """What a page did: console errors, uncaught exceptions, blocked requests."""

    errors: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


def open_page(browser: Any, allow: tuple[str, ...] = (),
              ignore: tuple[str, ...] = ()) -> tuple[Any, PageLog]:
    """A new page whose non-local requests are aborted and recorded.

    Args:
        browser: a Playwright browser.
        allow: URL prefixes let through besides ``file:``/``data:``/``blob:``.
        ignore: console-error substrings that are not ours (a server's own noise).
    """
    log = PageLog()
    page = browser.new_page(viewport={"width": 1360, "height": 900})
    page.set_default_timeout(20_000)

    def console(m: Any) -> None:
        if m.type == "error" and not any(s in m.text for s in ignore):
            log.errors.append(m.text)

    page.on("console", console)
    page.on("pageerror", lambda e: log.errors.append(f"pageerror: {e}"))

    def route(r: Any) -> None:
        url = r.request.url
        log.requests.append(url)
        if url.startswith(("file:", "data:", "blob:", *allow)):
            r.continue_()
        else:
            log.blocked.append(url)
            r.abort()

    page.route("**/*", route)
    return page, log
