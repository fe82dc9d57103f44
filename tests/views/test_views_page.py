"""The page template: self-contained, escaped, deterministic, each asset once."""

from __future__ import annotations

import re

from compile_lens.views._html import content_id, esc, table
from compile_lens.views.page import render_fragment, render_page


def test_page_is_complete_escaped_and_deterministic() -> None:
    sections = [("A <b>", "<p>body one</p>"), ("B & C", "<p>body two</p>")]
    page = render_page("T <x>", sections, subtitle="s <y>")
    assert page == render_page("T <x>", sections, subtitle="s <y>")
    assert page.startswith("<!DOCTYPE html>")
    assert page.rstrip().endswith("</html>")
    assert "<title>T &lt;x&gt;</title>" in page
    assert "A &lt;b&gt;" in page
    assert "B &amp; C" in page
    assert "s &lt;y&gt;" in page
    assert page.count('<details class="cl-section"') == 2, "one collapsible block per section"
    assert page.count("<style>") == 1, "CSS embedded once"
    assert page.count("<script>") == 1, "JS embedded once"


def test_page_forbids_network_and_loads_nothing_external() -> None:
    page = render_page("t", [("a", "<p>x</p>")])
    assert "default-src 'none'" in page, "the CSP must block every fetch"
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page), "no external resources"


def test_nav_links_point_at_section_ids() -> None:
    page = render_page("t", [("One", ""), ("Two", "")])
    ids = re.findall(r'<details class="cl-section" id="([^"]+)"', page)
    assert len(ids) == 2
    assert len(set(ids)) == 2
    for sid in ids:
        assert f'href="#{sid}"' in page


def test_fragment_has_no_script_and_same_sections() -> None:
    frag = render_fragment("t", [("One", "<p>1</p>"), ("Two", "<p>2</p>")], open_=1)
    assert "<script" not in frag
    assert frag.count("<details") == 2
    assert frag.count(" open>") == 1


def test_table_escapes_cells_and_keeps_numbers_sortable() -> None:
    html = table(["a<", "n"], [["<i>x</i>", 1.5]], table_id=content_id("t", 1), filterable=True)
    assert "<i>x</i>" not in html
    assert esc("<i>x</i>") in html
    assert 'data-v="1.5"' in html
    assert "cl-sortable" in html
    assert 'data-filter-for="t-' in html
