"""The explorer rendered by a real JupyterLab (local server on 127.0.0.1) in headless Chromium.

A notebook loads a saved trace and shows ``t.explorer()``; the test runs it from JupyterLab's Run
menu, waits for the ipywidgets tab bar, checks the plotly timeline drew, opens the Graph tab,
and saves screenshots. The server gets a random token, no browser, no announcements/update
checks, and is stopped (process group) when the test ends.
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _browser import open_page
from _synthetic import load_synthetic

from compile_lens.model import trace_to_json

pytestmark = pytest.mark.skipif(importlib.util.find_spec("jupyterlab") is None,
                                reason="jupyterlab is not installed; see .ci/views-setup.sh")
DEMO = Path(__file__).resolve().parents[1] / "fixtures" / "traces" / "demo.json"
CELLS = [
    "import compile_lens\nt = compile_lens.load('trace.json')\nt.explorer()",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _notebook(path: Path) -> None:
    nb = {"cells": [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
                     "source": src} for src in CELLS],
          "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                      "language": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb), encoding="utf-8")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A JupyterLab server on 127.0.0.1 serving a notebook and a trace; yields (base, token)."""
    root = tmp_path_factory.mktemp("lab")
    real = Path(os.environ.get("COMPILE_LENS_LAB_TRACE", DEMO))
    if real.exists():  # a real recorded trace (the committed demo trace by default)
        shutil.copy(real, root / "trace.json")
    else:
        record = load_synthetic().synthetic_trace(layers=3, sizes=2, passes=6, capture_sizes=4)
        (root / "trace.json").write_text(trace_to_json(record), encoding="utf-8")
    _notebook(root / "explorer.ipynb")
    port, token = _free_port(), secrets.token_hex(16)
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
           f"--ServerApp.port={port}", f"--IdentityProvider.token={token}",
           f"--ServerApp.root_dir={root}", "--LabApp.news_url=",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
           "--LabApp.extension_manager=readonly"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # CI containers run as root
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(root / ".jupyter"),
           "JUPYTER_RUNTIME_DIR": str(root / ".runtime")}
    proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=subprocess.DEVNULL,
                            stderr=(root / "lab.log").open("wb"), start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(f"{base}/api/status?token={token}", proc, root / "lab.log")
        yield base, token
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop the server and its kernels (its own process group)."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path, limit_s: float = 90) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"jupyter lab exited early:\n{log.read_text(errors='replace')[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"jupyter lab did not start in {limit_s} s")


def _dismiss_dialogs(page: Any) -> None:
    """Accept the kernel picker if JupyterLab asks, and decline the news toast."""
    select = page.locator(".jp-Dialog button", has_text="Select")
    try:
        select.first.wait_for(timeout=15_000)
        select.first.click()
    except Exception:  # no dialog this time: the kernel started by itself
        pass
    no_news = page.locator(".jp-toast-button", has_text="No")
    if no_news.count():
        no_news.first.click()
    page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").first.wait_for(
        state="attached")


def test_explorer_renders_in_jupyterlab(browser: Any, lab: tuple[str, str], shots: Path) -> None:
    base, token = lab
    page, log = open_page(browser, allow=(base,))
    page.set_default_timeout(float(os.environ.get("COMPILE_LENS_LAB_TIMEOUT_MS", "120000")))
    page.goto(f"{base}/lab/tree/explorer.ipynb?token={token}")
    page.wait_for_selector(".jp-Notebook .jp-Cell")
    _dismiss_dialogs(page)
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
    tabs = page.locator(".jp-OutputArea .widget-tab, .jp-OutputArea .jupyter-widget-tab")
    try:
        tabs.first.wait_for()
    except Exception:
        page.screenshot(path=str(shots / "explorer-failure.png"))
        raise
    titles = page.locator(".jp-OutputArea .lm-TabBar-tabLabel").all_inner_texts()
    assert titles[:4] == ["Overview", "Compiles", "Graph", "Pieces & keys"]
    page.locator(".jp-OutputArea .plotly .main-svg").first.wait_for()
    assert page.locator(".jp-OutputArea .cl-card").count() >= 6, "the headline cards show"
    page.wait_for_timeout(500)
    page.locator(".jp-OutputArea").first.screenshot(path=str(shots / "explorer-overview.png"))
    page.locator(".jp-OutputArea .lm-TabBar-tab", has_text="Graph").first.click()
    page.locator(".jp-OutputArea .cl-graph svg").first.wait_for()
    page.locator(".jp-OutputArea .cl-piece-detail", has_text="(piece 0)").first.wait_for()
    page.wait_for_timeout(300)
    page.locator(".jp-OutputArea").first.screenshot(path=str(shots / "explorer-graph.png"))
    page.locator(".jp-OutputArea .lm-TabBar-tab", has_text="Passes").first.click()
    page.wait_for_function(  # the Passes tab's two figures drew (the Overview's is hidden now)
        "() => Array.from(document.querySelectorAll('.jp-OutputArea .js-plotly-plot'))"
        ".filter(e => e.offsetParent !== null).length >= 2")
    page.wait_for_timeout(300)
    page.locator(".jp-OutputArea").first.screenshot(path=str(shots / "explorer-passes.png"))
    assert page.locator(".jp-OutputArea .jp-RenderedText[data-mime-type*=stderr]").count() == 0
    assert log.blocked == [], f"the page tried to reach the network: {log.blocked}"
    ours = [e for e in log.errors if "compile_lens" in e or "plotly" in e.lower()]
    assert ours == [], f"console errors from our output: {ours}"
