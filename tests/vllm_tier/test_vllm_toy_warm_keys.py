"""Warm start through ``CompilerManager.load`` (vLLM's per-piece cache), and ``compile_lens.diff``.

With ``VLLM_USE_MEGA_AOT_ARTIFACT=0`` (the default before torch 2.12, set for both runs: a test
configuration, never set by compile_lens) vLLM keeps one artifact per piece and a
``vllm_compile_cache.py`` of handles and keys. A warm start re-runs ``VllmBackend`` on the saved
graph and loads each piece; the piece vLLM deduplicated in the cold run has no handle, so it is
deduplicated again against the loaded artifact. Both runs are traced; ``compile_lens.diff`` of
the two traces must say that every key agrees.
"""

from __future__ import annotations

import ast

import pytest
import raw_events
from vllm_runs import VLLM, Run, run_script

import compile_lens

pytestmark = [*VLLM, pytest.mark.inductor]
ENV = {"VLLM_USE_MEGA_AOT_ARTIFACT": "0"}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Run, Run]:
    base = tmp_path_factory.mktemp("per_piece")
    cold = run_script("_toy_run.py", base / "cold", base / "cache", "--trace", env=ENV)
    warm = run_script("_toy_run.py", base / "warm", base / "cache", "--trace", env=ENV)
    return cold, warm


def test_warm_pieces_are_loaded_with_the_cold_keys(runs: tuple[Run, Run]) -> None:
    cold, warm = (r.trace.record for r in runs)
    assert [(c.submod, c.outcome) for c in cold.compiles] == [
        ("submod_0", "compiled"), ("submod_2", "compiled"), ("submod_4", "compiled"),
        ("submod_6", "deduplicated"), ("submod_8", "compiled")]
    assert [(c.submod, c.outcome) for c in warm.compiles] == [
        ("submod_0", "loaded"), ("submod_2", "loaded"), ("submod_4", "loaded"),
        ("submod_6", "deduplicated"), ("submod_8", "loaded")]
    assert [c.legacy_key for c in warm.compiles] == [c.legacy_key for c in cold.compiles]
    assert [c.standalone_key for c in warm.compiles] == [c.legacy_key for c in cold.compiles]
    assert all(c.artifact_path for c in warm.compiles if c.outcome == "loaded")
    assert runs[1].result["counters"]["num_compiled_artifacts_loaded"] == 4


def test_vllm_compile_cache_py_holds_the_traced_keys(runs: tuple[Run, Run]) -> None:
    cold = runs[0]
    (path,) = cold.cache_root.rglob("vllm_compile_cache.py")
    entries = ast.literal_eval(path.read_text())
    stored = {idx: v["cache_key"] for (_range, idx, _name), v in entries.items()}
    traced = {c.extra["graph_index"]: c.legacy_key for c in cold.trace.record.compiles
              if c.outcome == "compiled"}
    assert stored == traced
    artifact = next(a for a in raw_events.vllm_records(cold.out).artifacts
                    if a.name == "vllm_compile_cache.py")
    assert artifact.content == path.read_text()


def test_diff_of_cold_and_warm_says_keys_agree(runs: tuple[Run, Run]) -> None:
    result = compile_lens.diff(runs[0].out / "trace.json", runs[1].out / "trace.json")
    assert result.equal, str(result)
    pieces = [p for e in result.entries for p in e.pieces]
    assert len(pieces) >= 5
    assert all(p.same or not p.kind for p in pieces)


def test_why_cold_then_warm_matches_what_vllm_and_torch_recorded(runs: tuple[Run, Run]) -> None:
    """The compile ledger's causes (issue 11): cold pieces missed vLLM's cache and torch's
    AOTAutograd cache under the keys torch logged; warm pieces hit vLLM's cache, as many as
    vLLM counted; the piece vLLM deduplicated says so both times."""
    from compile_lens.analysis.ledger import ledger

    cold, warm = runs
    cold_rows = [r for r in ledger(cold.trace.record) if r.kind == "piece"]
    warm_rows = [r for r in ledger(warm.trace.record) if r.kind == "piece"]
    compiled = [r for r in cold_rows if r.cause == "cache_miss"]
    assert len(compiled) == cold.result["counters"]["num_cache_entries_updated"]
    assert all(r.decisions[0].layer == "vllm_cache" and r.decisions[0].answer == "miss"
               for r in compiled)
    torch_keys = [e.json_payload()["key"] for e in raw_events.load(cold.out)
                  if e.name == "artifact:aotautograd_cache_miss"]
    assert [d.key for r in compiled for d in r.decisions if d.layer == "aotautograd"] == torch_keys
    loaded = [r for r in warm_rows if r.cause == "loaded"]
    assert len(loaded) == warm.result["counters"]["num_compiled_artifacts_loaded"]
    assert all((r.decisions[0].layer, r.decisions[0].answer) == ("vllm_cache", "hit")
               for r in loaded)
    # Loading vLLM's artifact deserialises through the FX graph cache: torch logs those hits.
    fx_hits = [e.json_payload()["key"] for e in raw_events.load(warm.out)
               if e.name == "artifact:fx_graph_cache_hit"]
    assert [d.key for r in loaded for d in r.decisions[1:]] == fx_hits
    for rows in (cold_rows, warm_rows):
        (dedup,) = [r for r in rows if r.cause == "deduplicated"]
        assert any(d.layer == "dedup" and d.answer == "reused" for d in dedup.decisions)
