"""The one-file HTML report: self-contained, deterministic, escaped, redacted; the CLI body."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from compile_lens.cli import cli_report
from compile_lens.model import trace_from_json, trace_to_json
from compile_lens.views import report
from compile_lens.views.report import render, write_html

SECTIONS = ["Overview", "Compiles", "Graph", "Pieces &amp; keys", "Passes", "Lowering",
            "CUDA graphs", "Factors"]


@pytest.fixture(scope="module")
def html(small_trace: Any) -> str:
    return render(small_trace)


def test_same_trace_renders_byte_identical(small_trace: Any, html: str) -> None:
    again = render(trace_from_json(trace_to_json(small_trace)))
    assert again == html, "a JSON round trip and a second render must give the same bytes"


def test_every_section_is_present_in_tab_order(html: str) -> None:
    found = re.findall(r'<details class="cl-section" id="[^"]+" open><summary><h2>([^<]+)</h2>',
                       html)
    assert found == SECTIONS


def test_plotly_is_embedded_once_and_nothing_is_fetched(html: str) -> None:
    from plotly.offline import get_plotlyjs

    plotly_js = get_plotlyjs()
    assert html.count(plotly_js) == 1, "plotly.js must be embedded exactly once"
    ours = html.replace(plotly_js, "")
    assert "cdn.plot.ly" not in ours
    assert "mathjax" not in ours.lower()
    assert not re.search(r"""<(script|link|img|iframe)[^>]+(src|href)=["']?https?:""", ours)
    divs = re.findall(r'<div id="(plot-[0-9a-f]+)" class="plotly-graph-div"', html)
    assert len(divs) == len(set(divs)) >= 6, "every figure gets its own content-hash id"



def test_hostile_strings_never_appear_raw(hostile_trace: Any) -> None:
    out = render(hostile_trace)
    assert '<script>alert("x")' not in out
    assert "&lt;script&gt;alert(" in out, "the hostile text is still shown, escaped"


def test_secrets_are_redacted_unless_asked(small_trace: Any, html: str) -> None:
    env = small_trace.factors.env
    for secret in (env["HF_TOKEN"], env["AWS_SECRET_ACCESS_KEY"], env["MY_PASSWORD"]):
        assert secret not in html
    assert "&lt;redacted hmac:" in html, "a keyed fingerprint stands in for each secret"
    assert env["HF_TOKEN"] in render(small_trace, redact=False)


def test_mismatch_is_explained_with_the_differing_factor_line(html: str) -> None:
    assert "key mismatch: submod_6 [general]" in html
    assert "inductor_config.max_autotune: True" in html


def test_no_dot_fallback_still_renders_pieces(small_trace: Any) -> None:
    out = render(small_trace, use_dot=False)
    assert "dot program was not found" in out
    for p in small_trace.pieces:
        assert f'data-piece="{p.submod}"' in out


def test_write_html_writes_the_returned_text(small_trace: Any, tmp_path: Path) -> None:
    path = tmp_path / "sub" / "report.html"
    text = write_html(small_trace, path)
    assert path.read_text(encoding="utf-8") == text
    assert write_html(small_trace) == text


def test_render_rejects_other_objects() -> None:
    from compile_lens.errors import CompileLensError

    with pytest.raises(CompileLensError, match="expected a Trace or TraceRecord, got dict"):
        render({})


def test_cli_report_exit_codes(small_trace: Any, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    trace = tmp_path / "t.json"
    trace.write_text(trace_to_json(small_trace), encoding="utf-8")
    out = tmp_path / "r.html"
    assert cli_report(trace, out) == 0
    assert out.exists()
    assert cli_report(trace, out, strict=True) == 1, "the trace has an instrumentation issue"
    assert "instrumentation issue in lowering" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text("{", encoding="utf-8")
    assert cli_report(bad, tmp_path / "x.html") == 2
    assert "bad.json" in capsys.readouterr().err
    assert not (tmp_path / "x.html").exists()


def test_section_builders_follow_the_explorer_tabs(small_trace: Any) -> None:
    from compile_lens.views.widgets import TABS

    assert [h for h, _ in report.build_sections(small_trace)] == TABS


def test_real_demo_trace_renders(demo_trace: Any) -> None:
    out = render(demo_trace)
    assert out == render(demo_trace)
    for p in demo_trace.pieces:
        assert f'data-piece="{p.submod}"' in out


def test_embedded_plotly_is_the_packaged_one() -> None:
    from plotly.offline import get_plotlyjs

    from compile_lens.views._assets import plotly_js

    assert plotly_js() == get_plotlyjs()


def test_figure_specs_are_valid_plotly_and_script_safe(hostile_trace: Any) -> None:
    from compile_lens.views import plots

    spec = plots.timeline_figure(hostile_trace)
    plots.to_figure(spec)  # plotly's own validation accepts every spec we emit
    for fn in (plots.passes_bar_figure, plots.passes_heatmap_figure, plots.lowering_figure):
        plots.to_figure(fn(hostile_trace))
    plots.to_figure(plots.captures_figure(hostile_trace, "memory_bytes"))
    evil = {"data": [{"type": "bar", "name": "</script><script>alert(1)</script>"}]}
    assert "</script><script>" not in plots.figure_html(evil, "x").replace(
        '</div><script type="text/javascript">', "").rsplit("</script>", 1)[0]


def test_real_passes_stack_only_individual_fx_passes(demo_trace: Any) -> None:
    from compile_lens.views.plots import passes_bar_figure, passes_heatmap_figure

    names = {p.name for p in demo_trace.passes}
    assert any(n.startswith("pass.") for n in names), "the recorder records individual FX passes"
    stacked = {t["name"] for t in passes_bar_figure(demo_trace)["data"]}
    assert "create_aot_dispatcher_function" not in stacked, "nested phase timers are not stacked"
    assert stacked == {n.removeprefix("pass.") for n in names if n.startswith("pass.")}
    heat = passes_heatmap_figure(demo_trace)["data"][0]
    assert set(heat["y"]) == names, "the heat map keeps every pass and phase"


def test_gpu_trace_with_two_graphs_keeps_pieces_apart() -> None:
    from pathlib import Path

    from compile_lens.model import read_trace
    from compile_lens.views.plots import captures_figure, lowering_figure

    path = Path(__file__).resolve().parents[1] / "fixtures" / "traces" / "gpu_h100.json"
    if not path.exists():
        pytest.skip("tests/fixtures/traces/gpu_h100.json is not recorded")
    record = read_trace(path)
    graphs = {c.graph_id for c in record.captures} | {low.graph_id for low in record.lowerings}
    low_x = lowering_figure(record)["data"][0]["x"]
    if len(record.graphs) > 1:
        assert {x.split(":")[0] for x in low_x} <= graphs, "pieces are labelled by graph"
    cap = captures_figure(record)["data"][0]
    cells = sum(v is not None for row in cap["z"] for v in row)
    assert cells == len(record.captures), "one heat-map cell per capture, none merged"
    html = render(record)
    assert "CUDA-graph captures: seconds" in html
