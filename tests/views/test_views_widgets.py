"""The ipywidgets explorer: tabs, lazy building, piece picker, filters, factor search."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("ipywidgets")

from compile_lens.views import explorer_tabs, tables
from compile_lens.views.widgets import TABS, explorer, figure_bundle


def test_explorer_has_the_tabs_and_builds_lazily(small_trace: Any) -> None:
    tab = explorer(small_trace)
    assert tuple(tab.titles) == tuple(TABS)
    assert "loading" in tab.children[3].value, "Passes is not built before it is selected"
    tab.selected_index = 3
    assert type(tab.children[3]).__name__ == "VBox", "selecting a tab builds it"


def test_every_tab_builds_without_error(small_trace: Any) -> None:
    tab = explorer(small_trace, lazy=False)
    for child in tab.children:
        assert "this tab failed" not in str(getattr(child, "value", ""))
    overview = tab.children[0]
    plots = overview.children[1]
    assert plots.outputs[0]["data"]["application/vnd.plotly.v1+json"]["data"]


def test_graph_tab_piece_picker_shows_the_piece(small_trace: Any) -> None:
    box = explorer_tabs.graph_tab(small_trace)
    picker = box.children[1].children[1].children[0]
    detail = box.children[1].children[1].children[1]
    assert picker.value == "submod_0", "the first compiled piece is selected from the start"
    assert "submod_0 (piece 0)" in detail.value
    picker.value = "submod_1"
    assert "split op" in detail.value
    assert "l0_sdpa" in detail.value
    picker.value = "submod_6"
    assert "MISMATCH" in detail.value


def test_pieces_filter_and_sort(small_trace: Any) -> None:
    frame = tables.pieces_frame(small_trace)
    hits = explorer_tabs.filtered(frame, "SUBMOD_4", "seconds", True)
    assert set(hits["submod"]) == {"submod_4"}
    assert list(hits["seconds"]) == sorted(hits["seconds"], reverse=True)
    assert len(explorer_tabs.filtered(frame, "", None, False)) == len(frame)


def test_factor_search_redacts(small_trace: Any) -> None:
    box = explorer_tabs.factors_tab(small_trace)
    query, out = box.children
    query.value = "token"
    assert "HF_TOKEN" in out.value
    assert "1 of" in out.value
    assert small_trace.factors.env["HF_TOKEN"] not in out.value


def test_figure_bundle_is_plain_json(small_trace: Any) -> None:
    import json

    from compile_lens.views.plots import timeline_figure

    bundle = figure_bundle(timeline_figure(small_trace))
    json.dumps(bundle, allow_nan=False)
    assert bundle["data"]["text/plain"].startswith("<plotly figure: Compile timeline")
