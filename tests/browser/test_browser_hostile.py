"""Hostile strings in a real Chromium: nothing runs, nothing navigates (issue 9, items 4-5).

Piece, pass and kernel names carry links, scripts and bidi controls. Every link the report shows
(in HTML and inside plotly's SVG) is clicked: the page must stay where it is, open nothing and
request nothing.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from _browser import open_page
from _synthetic import load_synthetic

from compile_lens.views.report import write_html

LINK = '<a href="https://example.com/pwn">click</a>'
SCRIPT = '<img src=x onerror="document.title=\'pwned\'">'
JS_LINK = "<a href=\"javascript:document.title='pwned'\">js</a>"


def _hostile() -> Any:
    record = load_synthetic().synthetic_trace(layers=2, sizes=2, passes=4, capture_sizes=3,
                                              mismatch=True)
    evil = f"{LINK}{SCRIPT}{JS_LINK}\u202e"

    def name(s: str) -> str:
        return s + evil

    return dataclasses.replace(
        record,
        pieces=[dataclasses.replace(p, submod=name(p.submod)) for p in record.pieces],
        compiles=[dataclasses.replace(c, submod=name(c.submod)) for c in record.compiles],
        passes=[dataclasses.replace(p, submod=name(p.submod), name=name(p.name))
                for p in record.passes],
        lowerings=[dataclasses.replace(x, submod=name(x.submod), kind=name(x.kind))
                   for x in record.lowerings],
        captures=[dataclasses.replace(c, submod=name(c.submod)) for c in record.captures],
        spans=[dataclasses.replace(s, submod=name(s.submod)) for s in record.spans],
        run=dataclasses.replace(record.run, notes=[name("note ")]),
    )


@pytest.fixture(scope="module")
def hostile_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("hostile") / "report.html"
    write_html(_hostile(), path)
    return path


def test_clicking_every_link_never_navigates(browser: Any, hostile_report: Path) -> None:
    page, log = open_page(browser)
    url = hostile_report.as_uri()
    page.goto(url)
    page.wait_for_selector(".plotly-graph-div .main-svg")
    page.click("button[data-fold=open]")
    links = page.locator("a")
    count = links.count()
    assert count > 5, "the nav bar and key links are there to click"
    opened: list[Any] = []

    def on_page(new: Any) -> None:  # playwright wants a Python function, not a bound builtin
        opened.append(new)

    page.context.on("page", on_page)
    for i in range(count):
        link = links.nth(i)
        if not link.is_visible():
            continue
        link.click(force=True, modifiers=[])
        link.click(force=True, button="middle")
        assert page.url.split("#")[0] == url, f"link {i} navigated to {page.url}"
    assert opened == [], f"a link opened a new window: {[p.url for p in opened]}"
    assert log.blocked == [], f"the page tried to fetch {log.blocked}"
    assert page.title() != "pwned", "a script from the trace ran"
    plot_links = page.locator(".plotly-graph-div a")
    assert plot_links.count() == 0, "plot labels must not become links"
    assert page.locator("text=click").count() > 0, "the hostile text is shown as text"


def test_a_link_that_escaped_anyway_is_not_followed(browser: Any, hostile_report: Path) -> None:
    """Defence in depth: a live external link injected into the page does not navigate."""
    page, log = open_page(browser)
    url = hostile_report.as_uri()
    page.goto(url)
    page.evaluate("""() => {
        const a = document.createElement('a'); a.href = 'https://example.com/x'; a.id = 'inj';
        a.textContent = 'injected'; document.querySelector('main').prepend(a);
        const f = document.createElement('form'); f.action = 'https://example.com/f';
        f.id = 'frm'; document.querySelector('main').prepend(f);
    }""")
    page.click("#inj")
    page.evaluate("() => { try { document.getElementById('frm').submit(); } catch (e) {} }")
    page.wait_for_timeout(300)
    assert page.url == url, f"navigated to {page.url}"
    assert log.blocked == [], f"the page tried to fetch {log.blocked}"
