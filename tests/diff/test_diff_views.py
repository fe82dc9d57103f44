"""Rendering a ``Diff``: text, DataFrame, notebook bundle and HTML page (deterministic, escaped)."""

from __future__ import annotations

import json
from pathlib import Path

import compile_lens
from compile_lens.cli import cli_diff
from compile_lens.views.diff_rows import COLUMNS

FIX = Path(__file__).parents[1] / "fixtures" / "vllm_factors"
(FULL_BASE,) = (FIX / "full" / "base").rglob("cache_key_factors.json")
(FULL_SIZES,) = (FIX / "full" / "compile_sizes").rglob("cache_key_factors.json")


def test_text_frame_and_bundle_say_the_same():
    d = compile_lens.diff(FULL_BASE, FULL_SIZES)
    text = str(d)
    assert text.splitlines()[1].startswith("The cache keys differ: 1 cause(s)")
    frame = d.to_dataframe()
    assert list(frame.columns) == list(COLUMNS)
    assert list(frame["section"]) == ["hash", "hash", "cause"]
    assert frame.iloc[2]["name"] == "vllm.compilation_config.compile_sizes"
    bundle = d._repr_mimebundle_()
    assert bundle["text/plain"] == text
    assert "vllm.compilation_config.compile_sizes" in bundle["text/html"]
    assert set(d._repr_mimebundle_(include=["text/plain"])) == {"text/plain"}
    assert set(d._repr_mimebundle_(exclude=["text/plain"])) == {"text/html"}


def test_identical_inputs_say_so_plainly():
    d = compile_lens.diff(FULL_BASE, FULL_BASE)
    assert d.equal
    assert "The cache keys agree" in str(d)
    assert d.to_dataframe().empty


def test_html_is_deterministic_self_contained_and_escaped(tmp_path):
    data = json.loads(FULL_SIZES.read_text())
    data["env"]["VLLM_EVIL"] = "<script>alert(1)</script>"
    evil = tmp_path / "evil" / "cache_key_factors.json"
    evil.parent.mkdir()
    evil.write_text(json.dumps(data))
    d = compile_lens.diff(FULL_BASE, evil)
    page = d.to_html(str(tmp_path / "d.html"))
    assert page == compile_lens.diff(FULL_BASE, evil).to_html()
    assert (tmp_path / "d.html").read_text() == page
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)" in page
    assert "http://" not in page.replace("http://www.w3.org", "")
    assert 'src="http' not in page
    assert "VLLM_EVIL" in page
    assert "compile_sizes" in page


def test_cli_writes_html(tmp_path, capsys):
    out = tmp_path / "report" / "diff.html"
    assert cli_diff(str(FULL_BASE), str(FULL_SIZES), str(out)) == 1
    assert out.read_text().startswith("<!DOCTYPE html>")
    assert f"HTML written to {out}" in capsys.readouterr().out


def test_repr_is_one_line():
    d = compile_lens.diff(FULL_BASE, FULL_SIZES)
    assert repr(d) == (
        "<compile_lens.Diff: keys differ, 1 cause(s); first: config "
        "vllm.compilation_config.compile_sizes>"
    )
    assert repr(compile_lens.diff(FULL_BASE, FULL_BASE)).startswith("<compile_lens.Diff: keys agree")
