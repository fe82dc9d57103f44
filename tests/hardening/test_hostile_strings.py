"""Hostile strings from a trace: no live links in plots, no raw terminal escapes, visible bidi
controls (issue 9, items 4-5). The same strings in a real browser: tests/browser/test_browser_hostile.py.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

import compile_lens
from compile_lens.cli import main
from compile_lens.model import trace_to_json
from compile_lens.views import plots
from compile_lens.views.page import render_page

LINK = '<a href="https://example.com/pwn">click</a>'
ESCAPES = ("\x1b[2J\x1b[H", "\x1b]52;c;ZXZpbA==\x07", "\x1b]8;;https://example.com\x1b\\x\x1b]8;;\x1b\\",
           "\x9b31m", "\x07", "\r")
BIDI = "\u202e"


def hostile(record: Any, text: str) -> Any:
    """``record`` with ``text`` in piece names, pass names, notes, env names and issue messages."""
    def name(s: str) -> str:
        return f"{s}{text}"

    pieces = [dataclasses.replace(p, submod=name(p.submod)) for p in record.pieces]
    compiles = [dataclasses.replace(c, submod=name(c.submod)) for c in record.compiles]
    passes = [dataclasses.replace(p, submod=name(p.submod), name=name(p.name))
              for p in record.passes]
    lowerings = [dataclasses.replace(x, submod=name(x.submod), kind=name(x.kind))
                 for x in record.lowerings]
    captures = [dataclasses.replace(c, submod=name(c.submod)) for c in record.captures]
    spans = [dataclasses.replace(s, submod=name(s.submod), name=name(s.name))
             for s in record.spans]
    factors = dataclasses.replace(record.factors, env={**record.factors.env, name("EVIL_"): "1"})
    run = dataclasses.replace(record.run, notes=[name("note ")])
    return dataclasses.replace(record, pieces=pieces, compiles=compiles, passes=passes,
                               lowerings=lowerings, captures=captures, spans=spans,
                               factors=factors, run=run)


@pytest.fixture
def linked(synthetic: Any) -> Any:
    base = synthetic.synthetic_trace(layers=2, sizes=2, passes=4, capture_sizes=2, mismatch=True)
    return hostile(base, LINK)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


@pytest.mark.parametrize("figure", ["timeline_figure", "passes_bar_figure",
                                    "passes_heatmap_figure", "lowering_figure", "captures_figure"])
def test_plot_labels_carry_no_pseudo_html(linked: Any, figure: str) -> None:
    spec = getattr(plots, figure)(linked)
    texts = _strings(spec["data"]) + _strings(spec["layout"])
    assert any("click" in t for t in texts), "the hostile name is shown"
    tagged = [t for t in texts if "click" in t and "<" in t]
    assert tagged == [], f"plotly would turn these into markup: {tagged[:3]}"


def test_escaped_plot_label_shows_the_original_text(linked: Any) -> None:
    spec = plots.lowering_figure(linked)
    label = spec["data"][0]["x"][0]
    assert "&lt;a href=" in label and "&gt;click&lt;/a&gt;" in label


def test_page_csp_forbids_forms_frames_and_base_changes() -> None:
    page = render_page("t", [("s", "<p>x</p>")])
    csp = page.split('http-equiv="Content-Security-Policy" content="')[1].split('"')[0]
    for directive in ("form-action 'none'", "base-uri 'none'", "frame-src 'none'",
                      "object-src 'none'"):
        assert directive in csp


def test_bidi_controls_are_visible_in_html(synthetic: Any) -> None:
    from compile_lens.views.report import render

    record = hostile(synthetic.synthetic_trace(layers=1, sizes=1, passes=2, capture_sizes=0),
                     f"{BIDI}gnp.exe")
    page = render(record, use_dot=False)
    assert BIDI not in page, "a raw RIGHT-TO-LEFT OVERRIDE reorders what the reader sees"
    assert "U+202E" in page


@pytest.fixture
def escaped_trace(synthetic: Any, tmp_path: Path) -> Path:
    base = synthetic.synthetic_trace(layers=1, sizes=1, passes=2, capture_sizes=0, mismatch=True)
    record = hostile(base, "".join(ESCAPES) + BIDI)
    path = tmp_path / "esc.json"
    path.write_text(trace_to_json(record))
    return path


def _assert_no_controls(text: str, where: str) -> None:
    bad = sorted({hex(ord(ch)) for ch in text
                  if (ord(ch) < 32 and ch not in "\n\t") or 0x7f <= ord(ch) < 0xa0
                  or ch == BIDI})
    assert bad == [], f"{where} writes raw control characters {bad}"


def test_summary_cli_shows_escapes_visibly(escaped_trace: Path, capsys: Any) -> None:
    assert main(["summary", "--cross-check", str(escaped_trace)]) == 0
    out = capsys.readouterr().out
    _assert_no_controls(out, "compile-lens summary")
    assert "\\x1b" in out, "the escape is shown, not hidden"


def test_diff_text_shows_escapes_visibly(escaped_trace: Path, synthetic: Any,
                                         tmp_path: Path, capsys: Any) -> None:
    other = tmp_path / "other.json"
    other.write_text(trace_to_json(synthetic.synthetic_trace(layers=1, sizes=1, passes=2,
                                                             capture_sizes=0)))
    assert main(["diff", str(escaped_trace), str(other)]) == 1
    out = capsys.readouterr().out
    _assert_no_controls(out, "compile-lens diff")
    d = compile_lens.diff(str(escaped_trace), str(other))
    _assert_no_controls(str(d), "str(Diff)")
    _assert_no_controls(repr(d), "repr(Diff)")


def test_python_text_outputs_show_escapes_visibly(escaped_trace: Path) -> None:
    t = compile_lens.load(escaped_trace)
    _assert_no_controls(str(t.summary()), "Trace.summary()")
    _assert_no_controls(str(t.cross_check()), "Trace.cross_check()")
    _assert_no_controls(t._repr_mimebundle_(include=["text/plain"])["text/plain"], "text/plain")


def test_error_messages_show_escapes_visibly(tmp_path: Path, capsys: Any) -> None:
    bad = tmp_path / "x\x1b[2Jy.json"
    bad.write_text(json.dumps({"format": "compile_lens.trace", "schema_version": "\x1b]52;c;x\x07"}))
    assert main(["summary", str(bad)]) == 2
    _assert_no_controls(capsys.readouterr().err, "the error line")
