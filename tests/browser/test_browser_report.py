"""The HTML report in a real headless Chromium: renders, works offline, reacts to clicks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from _browser import PageLog, open_page
from _synthetic import load_synthetic

from compile_lens.views.report import write_html

SECTIONS = 8  # Overview, Compiles, Graph, Pieces & keys, Passes, Lowering, CUDA graphs, Factors


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    record = load_synthetic().synthetic_trace(layers=3, sizes=3, passes=8, capture_sizes=6,
                                              mismatch=True)
    path = tmp_path_factory.mktemp("report") / "report.html"
    write_html(record, path)
    return path


def _assert_clean(log: PageLog) -> None:
    assert log.errors == [], f"console errors: {log.errors}"
    assert log.blocked == [], f"the report tried to reach the network: {log.blocked}"


def test_every_section_renders_offline(browser: Any, report_file: Path, shots: Path) -> None:
    page, log = open_page(browser)
    page.goto(report_file.as_uri())
    page.wait_for_selector(".plotly-graph-div .main-svg")
    sections = page.locator("details.cl-section")
    assert sections.count() == SECTIONS
    for i in range(SECTIONS):
        body = sections.nth(i).locator(".cl-body")
        box = body.bounding_box()
        assert box is not None, f"section {i} has no visible body"
        assert box["height"] > 30, f"section {i} rendered empty"
    plots = page.locator(".cl-plot .plotly-graph-div")
    assert plots.count() >= 6
    for i in range(plots.count()):
        assert plots.nth(i).locator(".main-svg").count() > 0, f"plot {i} did not draw"
    page.screenshot(path=str(shots / "report-top.png"))
    page.locator("details.cl-section").nth(1).screenshot(path=str(shots / "report-graph.png"))
    _assert_clean(log)
    assert all(u.startswith("file:") or u.startswith("data:") for u in log.requests)


def test_clicking_a_piece_shows_its_panel(browser: Any, report_file: Path) -> None:
    page, log = open_page(browser)
    page.goto(report_file.as_uri())
    page.locator('.cl-graph g.node[data-piece="submod_1"]').first.click()
    shown = page.locator(".cl-piece-detail.cl-shown")
    assert shown.count() == 1
    assert shown.get_attribute("data-piece") == "submod_1"
    assert "split op" in shown.inner_text()
    page.select_option("select.cl-piece-select", "submod_6")
    assert page.locator(".cl-piece-detail.cl-shown").get_attribute("data-piece") == "submod_6"
    _assert_clean(log)


def test_filter_sort_and_fold(browser: Any, report_file: Path) -> None:
    page, log = open_page(browser)
    page.goto(report_file.as_uri())
    pieces = page.locator("details.cl-section", has=page.locator("h2", has_text="Pieces & keys"))
    box = pieces.locator("input.cl-filter").first
    box.fill("submod_4")
    table = page.locator("#" + box.get_attribute("data-filter-for"))
    visible = [r for r in table.locator("tbody tr").all() if r.is_visible()]
    assert visible, "the filter hid every row"
    assert all("submod_4" in r.inner_text() for r in visible)
    header = table.locator("th", has_text="seconds")
    header.click()
    header.click()
    assert header.get_attribute("data-dir") == "desc"
    page.click("button[data-fold=close]")
    assert page.locator("details.cl-section[open]").count() == 0
    page.click("button[data-fold=open]")
    assert page.locator("details.cl-section[open]").count() == SECTIONS
    _assert_clean(log)


def test_fallback_layout_without_dot_renders(browser: Any, tmp_path: Path) -> None:
    record = load_synthetic().synthetic_trace(layers=2, sizes=1, passes=2, capture_sizes=0)
    path = tmp_path / "nodot.html"
    write_html(record, path, use_dot=False)
    page, log = open_page(browser)
    page.goto(path.as_uri())
    assert page.locator(".cl-hint", has_text="dot program was not found").count() == 1
    page.locator('.cl-graph g[data-piece="submod_2"]').click()
    assert page.locator(".cl-piece-detail.cl-shown").get_attribute("data-piece") == "submod_2"
    _assert_clean(log)


DEMO = Path(__file__).resolve().parents[1] / "fixtures" / "traces" / "demo.json"


@pytest.mark.skipif(not DEMO.exists(), reason="tests/fixtures/traces/demo.json not recorded yet")
def test_real_demo_report(browser: Any, tmp_path: Path, shots: Path) -> None:
    from compile_lens.model import read_trace

    path = tmp_path / "demo.html"
    record = read_trace(DEMO)
    write_html(record, path)
    page, log = open_page(browser)
    page.goto(path.as_uri())
    page.wait_for_selector(".plotly-graph-div .main-svg")
    assert page.locator("details.cl-section").count() == SECTIONS
    first = next(p for p in record.pieces if not p.is_split_op)
    assert page.locator(".cl-piece-detail.cl-shown").get_attribute("data-piece") == first.submod
    page.screenshot(path=str(shots / "report-demo.png"))
    page.locator("details.cl-section").nth(1).screenshot(path=str(shots / "report-demo-graph.png"))
    _assert_clean(log)
