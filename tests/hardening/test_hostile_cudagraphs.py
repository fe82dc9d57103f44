"""The CUDA-graphs view and its diff with hostile strings from a trace (runtime mode names, piece
names, fallback reasons, the run's settings and vLLM's capture message): escaped in HTML, plain
text in plot labels, controls visible in text, secrets redacted (issue 9's rules, issue 15's view).
The same report in a real browser: tests/browser/test_browser_cudagraphs.py.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from _cudagraph_trace import embedded_trace

import compile_lens
from compile_lens.views import cudagraph_plots, report
from compile_lens.views.cudagraphs_view import section

LINK = '<a href="https://example.com/pwn">click</a>'
SCRIPT = "<img src=x onerror=alert(1)>"
BIDI = "\u202e"
ESC = "\x1b]8;;https://example.com\x1b\\"
SECRET = "hf_" + "A1b2C3d4E5f6G7h8J9k0"


def _hostile() -> Any:
    record = embedded_trace(LINK + SCRIPT + BIDI + ESC)
    vllm = {f"engine{LINK}": {"cudagraph_mode": f"FULL{SCRIPT}", "capture_sizes": [1, 2],
                              "vllm_gib": 0.5, "vllm_seconds": 1.0,
                              "vllm_message": f"Graph capturing finished {LINK} token {SECRET}"}}
    run = dataclasses.replace(record.run, extra={**record.run.extra, "vllm_cudagraphs": vllm})
    return dataclasses.replace(record, run=run)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def test_section_html_escapes_every_string_from_the_trace() -> None:
    html = section(_hostile())
    assert "click" in html, "the hostile names are shown"
    for raw in ("<a href", "<img", BIDI, "\x1b"):
        assert raw not in html, f"{raw!r} reached the HTML unescaped"
    assert "&lt;a href=" in html and "U+202E" in html


def test_plot_labels_carry_no_pseudo_html() -> None:
    record = _hostile()
    for spec in (cudagraph_plots.capture_figure(record), cudagraph_plots.dispatch_figure(record),
                 cudagraph_plots.memory_figure(record)):
        texts = _strings(spec["data"]) + _strings(spec["layout"])
        assert any("click" in t for t in texts)
        tagged = [t for t in texts if "click" in t and "<" in t]
        assert tagged == [], f"plotly would turn these into markup: {tagged[:3]}"
        assert not any(BIDI in t for t in texts)


def test_report_redacts_a_secret_in_vllms_message_unless_asked() -> None:
    record = _hostile()
    redacted = dict(report.build_sections(record))["CUDA graphs"]
    assert SECRET not in redacted and "&lt;redacted" in redacted
    shown = dict(report.build_sections(record, redact=False))["CUDA graphs"]
    assert SECRET in shown


def test_diff_of_hostile_traces_shows_controls_visibly() -> None:
    d = compile_lens.diff(compile_lens.Trace(_hostile()), compile_lens.Trace(embedded_trace()))
    text = str(d)
    assert "CUDA graphs" in text
    assert "\x1b" not in text and BIDI not in text
    page = d.to_html()
    assert "<a href=\"https://example.com/pwn\"" not in page
    assert "<img src=x" not in page
