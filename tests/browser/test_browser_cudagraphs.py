"""The CUDA-graphs section of the report in a real headless Chromium (issue 15): vLLM's H100
trace draws its four plots and tables offline; hostile names from an embedded run show as text,
never as links or scripts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from _browser import FIXTURES, open_page
from _cudagraph_trace import embedded_trace

from compile_lens.model import read_trace
from compile_lens.views.report import write_html

LINK = '<a href="https://example.com/pwn">click</a>'
SCRIPT = "<img src=x onerror=\"document.title='pwned'\">"
SECTION = "details.cl-section:has(h2:text-is('CUDA graphs'))"


@pytest.fixture(scope="module")
def vllm_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cg") / "vllm.html"
    write_html(read_trace(FIXTURES / "traces" / "vllm_gpu_h100.json"), path)
    return path


def test_vllm_section_draws_its_plots_and_tables(browser: Any, vllm_report: Path,
                                                 shots: Path) -> None:
    page, log = open_page(browser)
    page.goto(vllm_report.as_uri())
    section = page.locator(SECTION)
    section.locator(".plotly-graph-div .main-svg").first.wait_for()
    plots = section.locator(".cl-plot .plotly-graph-div")
    assert plots.count() == 4
    for i in range(4):
        assert plots.nth(i).locator(".main-svg").count() > 0, f"plot {i} did not draw"
    bars = section.locator(".cl-plot").first.locator("g.point")
    assert bars.count() >= 2 * 51, "a capture bar per size and mode"
    text = section.inner_text()
    assert "Graph capturing finished in 2 secs, took 0.13 GiB" in text
    assert "Dispatch (what vLLM's --cudagraph-metrics counts)" in text
    section.screenshot(path=str(shots / "cudagraphs-vllm.png"))
    assert log.errors == [], f"console errors: {log.errors}"
    assert log.blocked == [], f"the page tried to reach the network: {log.blocked}"


def test_hostile_names_stay_text(browser: Any, tmp_path: Path) -> None:
    path = tmp_path / "hostile.html"
    write_html(embedded_trace(LINK + SCRIPT + "\u202e"), path)
    page, log = open_page(browser)
    page.goto(path.as_uri())
    section = page.locator(SECTION)
    section.locator(".plotly-graph-div .main-svg").first.wait_for()
    assert section.locator("a").count() == 0, "no link inside the section"
    assert section.locator("img").count() == 0
    assert "click" in section.inner_text(), "the hostile name is shown as text"
    assert page.title() != "pwned", "a script from the trace ran"
    assert log.errors == [] and log.blocked == []
