"""``Trace`` in a notebook: the mime bundle (text fallback, headline, tabs), include/exclude."""

from __future__ import annotations

from typing import Any

from compile_lens.api import Trace
from compile_lens.views.display import trace_mimebundle


def test_bundle_has_text_and_html_with_the_headline(small_trace: Any) -> None:
    t = Trace(small_trace)
    bundle = t._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html"}
    assert "pieces:" in bundle["text/plain"]
    assert "tracer overhead" in bundle["text/plain"]
    html = bundle["text/html"]
    for heading in ("Overview", "Graph", "Pieces &amp; keys", "Passes", "Lowering",
                    "CUDA graphs", "Factors"):
        assert f"<h2>{heading}</h2>" in html
    assert "pieces unique / total" in html
    assert "<script" not in html
    assert html == t._repr_mimebundle_()["text/html"], "deterministic"


def test_include_exclude(small_trace: Any) -> None:
    t = Trace(small_trace)
    assert set(trace_mimebundle(t, include={"text/plain"})) == {"text/plain"}
    assert set(trace_mimebundle(t, exclude={"text/html"})) == {"text/plain"}


def test_recording_trace_shows_a_short_line() -> None:
    bundle = Trace()._repr_mimebundle_()
    assert bundle["text/plain"].startswith("<compile_lens.Trace recording")
    assert bundle["text/html"].startswith("<pre>&lt;compile_lens.Trace recording")


def test_long_tables_are_cut_with_a_note(synthetic: Any) -> None:
    record = synthetic.synthetic_trace(layers=20, sizes=2, passes=2, capture_sizes=0)
    html = Trace(record)._repr_mimebundle_()["text/html"]
    assert "first 60 of 62 rows; all of them: t.pieces" in html


def test_hostile_strings_are_escaped(hostile_trace: Any) -> None:
    html = Trace(hostile_trace)._repr_mimebundle_()["text/html"]
    assert '<script>alert("x")' not in html
