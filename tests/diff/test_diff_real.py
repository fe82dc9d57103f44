"""Real compiles that differ in exactly one cause: the diff names that cause first.

Every trace comes from a real ``torch.compile`` + Inductor run in its own process (see
``conftest.py``); keys, factor lines and factor dumps are whatever torch produced.
"""

from __future__ import annotations

import compile_lens
from compile_lens.api import Diff


def _primary(d: Diff) -> list[str]:
    """Names of the causes that are not explained by an earlier cause."""
    return [c.name for c in d.causes if not c.explained_by]


def test_noise_only_diffs_as_equal(runs):
    d = compile_lens.diff(runs["base"], runs["noise"])
    assert d.equal, str(d)
    assert d.causes == []
    noise = {c.name: c for e in d.entries for c in e.noise}
    assert "TORCHINDUCTOR_CACHE_DIR" in noise
    assert any(c.layer == "code" and c.kind == "moved" for c in noise.values())
    assert "agree" in str(d)
    assert all(p.same for p in d.entries[0].pieces)


def test_inductor_config_named_first(runs):
    d = compile_lens.diff(runs["base"], runs["inductor"])
    assert not d.equal
    first = d.causes[0]
    assert (first.layer, first.name) == ("config", "inductor.max_fusion_size")
    assert (first.old, first.new) == ("64", "32")
    assert any("inductor_config[max_fusion_size]" in ev for ev in first.evidence)
    assert _primary(d) == ["inductor.max_fusion_size"]


def test_functorch_config_named_first(runs):
    d = compile_lens.diff(runs["base"], runs["functorch"])
    first = d.causes[0]
    assert (first.layer, first.name) == ("config", "functorch.activation_memory_budget")
    assert (first.old, first.new) == ("1.0", "0.5")
    assert any("autograd_config" in ev for ev in first.evidence)
    assert _primary(d) == ["functorch.activation_memory_budget"]


def test_env_var_named_first_with_its_config_effect(runs):
    d = compile_lens.diff(runs["base"], runs["env"])
    first, second = d.causes[0], d.causes[1]
    assert (first.layer, first.name, first.old, first.new) == (
        "env",
        "TORCHINDUCTOR_SIZE_ASSERTS",
        None,
        "0",
    )
    assert "size_asserts" in first.effect
    assert "every piece recompiles" in first.effect
    assert (second.name, second.explained_by) == ("inductor.size_asserts", first.name)
    assert any("inductor_config[size_asserts]" in ev for ev in second.evidence)
    assert _primary(d) == ["TORCHINDUCTOR_SIZE_ASSERTS"]


def test_edited_source_named_first(runs):
    d = compile_lens.diff(runs["base"], runs["edit"])
    first = d.causes[0]
    assert first.layer == "code"
    assert first.name.endswith("tinymod.py")
    assert first.kind == "changed"
    assert any("`gm`" in ev for ev in first.evidence)
    assert _primary(d) == [first.name]
    gm = [line for p in d.entries[0].pieces for line in p.lines if line.name == "gm"]
    assert gm
    assert ".t()" in gm[0].new


def test_traces_in_memory_diff_like_files(runs):
    a, b = compile_lens.load(runs["base"]), compile_lens.load(runs["inductor"])
    d = compile_lens.diff(a, b)
    assert d.causes[0].name == "inductor.max_fusion_size"
    assert d.entries[0].counts == {"pieces": (1, 1), "unique aot keys": (1, 1)}


def test_cli_exit_codes_on_real_traces(runs, capsys):
    from compile_lens.cli import cli_diff

    assert cli_diff(str(runs["base"]), str(runs["noise"]), None) == 0
    assert cli_diff(str(runs["base"]), str(runs["inductor"]), None) == 1
    assert "inductor.max_fusion_size" in capsys.readouterr().out


def test_html_of_a_real_trace_diff_is_deterministic(runs):
    page = compile_lens.diff(runs["base"], runs["edit"]).to_html()
    assert page == compile_lens.diff(runs["base"], runs["edit"]).to_html()
    assert "gm: graph code diff" in page


def test_option_set_for_one_compile_is_named_from_the_key_lines(runs):
    # torch.compile(options=...) patches the config inside the compile only: the run-level
    # snapshots agree, and only the piece's key lines can name it.
    d = compile_lens.diff(runs["base"], runs["options"])
    first = d.causes[0]
    assert (first.layer, first.name, first.old, first.new) == (
        "piece", "inductor_config[max_fusion_size]", "64", "32")
    assert "set only for this compile" in first.effect and "1 of 1" in first.effect
    assert _primary(d) == ["inductor_config[max_fusion_size]"]
