"""The why block opens the summary, the notebook display, the explorer and the report.

A real eager compile recompiles twice: on a new size, and on a module attribute holding markup
(``<script>…``, then changed) that Dynamo guards on, so torch's guard text carries user-controlled HTML. Each
output must open with the why block, link each cause to its compile's details on the same page,
and escape torch's texts.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import torch

import compile_lens
from compile_lens.views import display, report, widgets
from compile_lens.views.why_view import row_anchor

MARKUP = "<script>alert(1)</script>"


class Mode(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.mode = MARKUP

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 2 if self.mode == "plain" else x - 1


@pytest.fixture(scope="module")
def trace() -> Any:
    torch._dynamo.reset()
    module = Mode()
    compiled = torch.compile(module, backend="eager")
    try:
        with compile_lens.trace(strict=True, progress=False) as t:
            compiled(torch.randn(4))
            compiled(torch.randn(6))
            module.mode = "plain"
            compiled(torch.randn(6))
        return t
    finally:
        torch._dynamo.reset()


def test_torch_guard_text_carries_the_markup(trace: Any) -> None:
    reasons = [r for f in trace.record.frame_compiles for r in f.recompile_reasons]
    assert any(f"self.mode == '{MARKUP}'" in r for r in reasons), reasons


def test_report_opens_with_why_and_links_resolve(trace: Any) -> None:
    html = report.render(trace)
    overview = html[html.index("<h2>Overview</h2>"):html.index("<h2>Compiles</h2>")]
    assert overview.index("Why it compiled") < overview.index('class="cl-cards"')
    links = re.findall(r'<a href="#(compile-[0-9a-f]+)">', overview)
    assert len(links) == 2
    assert all(f'id="{anchor}"' in html for anchor in links)
    assert MARKUP not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in overview
    first = next(r for r in trace.record.frame_compiles if r.recompile_reasons)
    assert row_anchor(1) in links and first.compile_id == "0/1"


def test_notebook_display_opens_with_why(trace: Any) -> None:
    bundle = display.trace_mimebundle(trace)
    assert bundle["text/plain"].splitlines()[1] == "why:"
    html = bundle["text/html"]
    assert html.index("Why it compiled") < html.index('class="cl-cards"')
    assert "<h2>Compiles</h2>" in html and MARKUP not in html


def test_explorer_has_the_why_block_and_a_compiles_tab(trace: Any) -> None:
    pytest.importorskip("ipywidgets")
    tab = widgets.explorer(trace, lazy=False)
    titles = list(tab.titles)
    assert titles[:2] == ["Overview", "Compiles"]
    overview = tab.children[0].children[0].value
    assert "Why it compiled" in overview and 'href="#compile-' not in overview
    ledger_html = tab.children[1].value
    assert "t.compiles is this table" in ledger_html and MARKUP not in ledger_html
