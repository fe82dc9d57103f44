"""Two real vLLM runs traced with ``compile_lens.trace()``: the diff names vLLM's env factor.

vLLM tier (runs in ``.venv-vllm``; skipped without vLLM). Each run is the toy model of
``tests/vllm_tier`` through vLLM's real ``VllmBackend`` (``backend="eager"``: fast, same split and cache
files) in a fresh process with its own ``VLLM_CACHE_ROOT``. The trace keeps vLLM's
``cache_key_factors.json``; the diff reads vLLM's hashes and cache directory from it.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "vllm_tier"))
from vllm_runs import run_script

import compile_lens

HAS_VLLM = importlib.util.find_spec("vllm") is not None
pytestmark = [pytest.mark.vllm, pytest.mark.skipif(not HAS_VLLM, reason="vLLM is not installed")]


@pytest.fixture(scope="module")
def traces(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Trace files (``a``, ``b``, ``env``) and the vLLM cache roots (``cache_a``…)."""
    root = tmp_path_factory.mktemp("vllm_diff")
    args = ("--backend", "eager", "--trace", "--layers", "2")
    out = {}
    for name, env in (("a", {}), ("b", {}), ("env", {"VLLM_LOG_BATCHSIZE_INTERVAL": "5"})):
        run = run_script("_toy_run.py", root / name, root / f"cache_{name}", *args, env=env)
        out[name] = run.out / "trace.json"
        out[f"cache_{name}"] = run.cache_root / "torch_compile_cache"
    return out


def test_same_setup_in_other_cache_roots_agrees(traces):
    d = compile_lens.diff(traces["a"], traces["b"])
    assert d.equal, str(d)
    assert "dir" not in {h.name for h in d.entries[0].hashes}


def test_vllm_env_factor_named_first(traces):
    d = compile_lens.diff(traces["a"], traces["env"])
    first = d.causes[0]
    assert (first.layer, first.name, first.new) == ("env", "VLLM_LOG_BATCHSIZE_INTERVAL", "5")
    assert "vLLM's env hash" in first.effect
    assert "env" in {h.name for h in d.entries[0].hashes}


def test_the_cache_dirs_vllm_wrote_diff_the_same_way(traces):
    d = compile_lens.diff(traces["cache_a"], traces["cache_env"])
    assert [e.label for e in d.entries] == ["rank_0_0/backbone"]
    assert [h.name for h in d.entries[0].hashes] == ["env", "dir"]
    assert [c.name for c in d.causes] == ["VLLM_LOG_BATCHSIZE_INTERVAL"]
    assert compile_lens.diff(traces["cache_a"], traces["cache_b"]).equal
