"""The report, the notebook display and the explorer are loops over one section list
(``views.registry.SECTIONS``); the key-mismatch block says what ``t.cross_check()`` says."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest

import compile_lens
from compile_lens.analysis.aggregate import capture_totals, pass_totals
from compile_lens.views import registry, report, sections, widgets
from compile_lens.views.display import trace_sections


def _mismatch_trace(synthetic: Any) -> Any:
    """A mismatch whose two keys carry real torch-format factor lines: three differ (one only in
    the legacy key, one only in the standalone key, one changed), two agree."""
    base = synthetic.synthetic_trace(layers=1, sizes=1, passes=1, capture_sizes=0, mismatch=True)
    bad = next(c for c in base.compiles if c.key_match is False)
    legacy = ["[aaaaaaaaaaaaaaaa] inductor_config[same]: 1", "[bbbbbbbbbbbbbbbb] fx_kwargs[x]: 2",
              "[cccccccccccccccc] inductor_config[gone]: 3",
              "[dddddddddddddddd] torch_version: <bytes>"]
    standalone = ["[aaaaaaaaaaaaaaaa] inductor_config[same]: 1",
                  "[eeeeeeeeeeeeeeee] fx_kwargs[x]: 5", "[ffffffffffffffff] inductor_config[new]: 4",
                  "[dddddddddddddddd] torch_version: <bytes>"]
    lines = {**base.key_lines, bad.legacy_key: legacy, bad.standalone_key: standalone}
    return dataclasses.replace(base, key_lines=lines), bad


@pytest.mark.parametrize("torch_format", [True, False], ids=["torch-lines", "synthetic-lines"])
def test_mismatch_block_and_cross_check_name_the_same_factors(synthetic: Any,
                                                               torch_format: bool) -> None:
    if torch_format:
        record, bad = _mismatch_trace(synthetic)
    else:  # the synthetic trace's own lines carry a short hash: compared by value, still listed
        record = synthetic.synthetic_trace(layers=2, sizes=2, passes=1, capture_sizes=0,
                                           mismatch=True)
        bad = next(c for c in record.compiles if c.key_match is False)
    check = compile_lens.Trace(record).cross_check()
    listed = next(c for c in check.mismatches if (c.submod, c.size) == (bad.submod, bad.size))
    block = sections.mismatch_block(record, bad)
    shown = re.search(r"factor\(s\) differ: ([^<]*)</p>", block)
    assert shown is not None, block[:400]
    assert shown.group(1).split(", ") == [ch.name for ch in listed.changes]
    assert listed.changes, "a mismatch always names at least one factor here"
    if torch_format:
        assert [ch.name for ch in listed.changes] == [
            "fx_kwargs[x]", "inductor_config[gone]", "inductor_config[new]"]
        legacy_side = block.split("only in the legacy key")[1].split("only in the standalone")[0]
        assert "inductor_config[gone]" in legacy_side and "[same]" not in legacy_side
    # and the page's mismatch fold carries that same block
    assert shown.group(0) in report.render(record)


def test_all_three_outputs_follow_the_registry(small_trace: Any) -> None:
    titles = [s.title for s in registry.SECTIONS]
    in_report = [t for t, _ in report.build_sections(small_trace)]
    assert in_report == [t for t in titles if t != "Ranks"]  # one rank: no Ranks section
    assert [s.title for s in registry.explorer_sections()] == widgets.TABS
    in_notebook = [t for t, _ in trace_sections(small_trace)]
    assert in_notebook == [t for t in in_report if t in in_notebook]


def test_a_new_section_shows_in_the_report_the_notebook_and_the_explorer(
        small_trace: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("ipywidgets")
    extra = registry.Section("Extra", lambda record, view: f"<p>extra for {view.kind}</p>")
    monkeypatch.setattr(registry, "SECTIONS", (*registry.SECTIONS, extra))
    assert ("Extra", "<p>extra for report</p>") in report.build_sections(small_trace)
    assert ("Extra", "<p>extra for notebook</p>") in trace_sections(small_trace)
    tab = widgets.explorer(small_trace, lazy=False)
    assert "Extra" in tab.titles
    assert "extra for explorer" in tab.children[list(tab.titles).index("Extra")].value


def test_an_absent_section_is_a_note_in_the_report_and_left_out_of_the_notebook(
        synthetic: Any) -> None:
    record = synthetic.synthetic_trace(layers=1, sizes=1, passes=1, capture_sizes=0)
    assert not record.captures
    assert ("CUDA graphs", '<p class="cl-hint">no CUDA-graph captures in this trace</p>') in (
        report.build_sections(record))
    assert "CUDA graphs" not in [t for t, _ in trace_sections(record)]


def test_tables_show_the_analysis_aggregates(small_trace: Any) -> None:
    passes = pass_totals(small_trace)
    assert passes and sum(r[3] for r in passes) == sum(p.count for p in small_trace.passes)
    assert f"<td>{passes[0][0]}</td>" in sections.pass_table(small_trace)
    captures = capture_totals(small_trace)
    assert sum(r[1] for r in captures) == len(small_trace.captures)
    assert [r[0] for r in captures] == sorted({c.size for c in small_trace.captures})
