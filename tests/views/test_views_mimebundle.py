"""One display helper (``views.mimebundle``) for every displayable object: it renders only the
MIME types IPython asks for, and analysis results get their display from ``api``."""

from __future__ import annotations

from typing import Any

import pytest

import compile_lens
from compile_lens.analysis.cross_check import cross_check
from compile_lens.views.mimebundle import mimebundle


def _boom() -> str:
    msg = "rendered a form nobody asked for"
    raise AssertionError(msg)


def test_only_the_forms_asked_for_are_rendered() -> None:
    assert mimebundle(lambda: "t", _boom, include={"text/plain"}) == {"text/plain": "t"}
    assert mimebundle(_boom, lambda: "<p>h</p>", exclude={"text/plain"}) == {
        "text/html": "<p>h</p>"}
    assert mimebundle(lambda: "t", lambda: "<p>h</p>") == {"text/plain": "t",
                                                           "text/html": "<p>h</p>"}


def test_a_tolerant_bundle_falls_back_to_the_text() -> None:
    def broken() -> str:
        msg = "cannot draw"
        raise ValueError(msg)

    with pytest.warns(UserWarning, match="HTML display failed"):
        bundle = mimebundle(lambda: "a < b", broken, tolerant=True)
    assert bundle["text/html"] == "<pre>a &lt; b</pre>"
    with pytest.raises(ValueError, match="cannot draw"):
        mimebundle(lambda: "t", broken)


def test_cross_check_displays_through_api(small_trace: Any) -> None:
    result = cross_check(small_trace)
    assert not hasattr(result, "_repr_mimebundle_"), "an analysis result does not render itself"
    shown = compile_lens.Trace(small_trace).cross_check()
    assert shown.checks == result.checks and str(shown) == str(result)
    assert set(shown._repr_mimebundle_(include={"text/plain"})) == {"text/plain"}
    html = shown._repr_mimebundle_()["text/html"]
    assert html.startswith("<pre>") and "MISMATCH" in html
