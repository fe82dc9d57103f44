"""``compile_lens.factors()``: this process's cache-key factors, no compile, secrets redacted."""

from __future__ import annotations

import hashlib
import json

import torch

import compile_lens
from compile_lens.instrument.env_factors import env_config_map
from compile_lens.model.factor_readers import factors_to_json, load_factors, save_factors

SECRET = "sk-" + "Q7w8E9r0T1y2U3i4O5p6"


def test_factors_without_compiling(tmp_path):
    src = tmp_path / "model.py"
    src.write_text("x = 1\n")
    frames_before = torch._dynamo.utils.counters["stats"]["unique_graphs"]
    dump = compile_lens.factors(traced_files=[str(src), "<string>"])
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] == frames_before
    assert dump.config["inductor"]["max_fusion_size"] == torch._inductor.config.max_fusion_size
    assert "activation_memory_budget" in dump.config["functorch"]
    assert dump.system["torch_version"] == torch.__version__
    assert len(dump.system["torch_key"]) == 64
    assert dump.code[str(src)] == hashlib.sha256(b"x = 1\n").hexdigest()
    assert dump.code["<string>"] == "<no file>"


def test_env_vars_that_count_with_what_they_feed(monkeypatch):
    monkeypatch.setenv("TORCHINDUCTOR_MAX_AUTOTUNE", "1")
    monkeypatch.setenv("HOME_UNRELATED_VAR", "x")
    dump = compile_lens.factors()
    assert dump.env["TORCHINDUCTOR_MAX_AUTOTUNE"] == "1"
    assert "inductor.max_autotune" in dump.env_affects["TORCHINDUCTOR_MAX_AUTOTUNE"]
    assert "HOME_UNRELATED_VAR" not in dump.env


def test_env_map_is_read_from_torch_config_sources():
    mapping = env_config_map()
    assert "inductor.size_asserts" in mapping["TORCHINDUCTOR_SIZE_ASSERTS"]
    assert "inductor.fx_graph_cache" in mapping["TORCHINDUCTOR_FX_GRAPH_CACHE"]
    assert "functorch.enable_autograd_cache" in mapping["TORCHINDUCTOR_AUTOGRAD_CACHE"]


def test_secret_redacted_in_dump_file_diff_and_html(monkeypatch, tmp_path):
    monkeypatch.setenv("VLLM_TEST_API_KEY", SECRET)
    dump = compile_lens.factors()
    assert "VLLM_TEST_API_KEY" in dump.redacted
    assert SECRET not in factors_to_json(dump)
    path = save_factors(dump, tmp_path / "a.json")
    assert SECRET not in path.read_text()
    monkeypatch.setenv("VLLM_TEST_API_KEY", SECRET + "x")
    other = compile_lens.factors()
    d = compile_lens.diff(dump, other)
    assert d.causes[0].name == "VLLM_TEST_API_KEY"
    for text in (str(d), d.to_html(), d.to_dataframe().to_csv()):
        assert SECRET not in text


def test_opt_out_keeps_the_value(monkeypatch, tmp_path):
    monkeypatch.setenv("VLLM_TEST_API_KEY", SECRET)
    dump = compile_lens.factors(redact=False)
    assert dump.env["VLLM_TEST_API_KEY"] == SECRET
    assert SECRET not in save_factors(dump, tmp_path / "r.json").read_text()  # redacts by default
    raw = save_factors(dump, tmp_path / "raw.json", redact=False)
    assert SECRET in raw.read_text()
    (loaded,) = load_factors(raw, redact=False).entries.values()
    assert loaded.env["VLLM_TEST_API_KEY"] == SECRET


def test_round_trip_and_config_diff_in_process(tmp_path):
    a = compile_lens.factors()
    (back,) = load_factors(save_factors(a, tmp_path / "a.json")).entries.values()
    assert back == a
    assert compile_lens.diff(a, back).equal
    with torch._inductor.config.patch(max_fusion_size=8):
        b = compile_lens.factors()
    d = compile_lens.diff(tmp_path / "a.json", b)
    assert (d.causes[0].name, d.causes[0].new) == ("inductor.max_fusion_size", "8")
    assert json.loads(factors_to_json(b))["format"] == "compile_lens.factors"
