"""``LLM(...).generate`` with the tiny dummy Llama, vLLM's default multiprocess engine.

The compile happens in vLLM's own processes (EngineCore, and the worker it starts), never in
the process running ``trace()``: compile_lens' ``vllm.general_plugins`` entry point records them
and the trace merges them. A test-only plugin (``cpu_plugin/``) keeps vLLM's piecewise mode on
CPU, so this covers the real VllmBackend → split → PiecewiseBackend → CompilerManager path with
vLLM's attention ops as splitting ops. Runs: cold without trace (cache root A), cold and warm with
trace (cache root B).
"""

from __future__ import annotations

import pytest
import raw_events
from vllm_runs import HERE, VLLM, Run, cache_files, factor_files, run_script

pytestmark = [*VLLM, pytest.mark.inductor]
ENV = {"PYTHONPATH": str(HERE / "cpu_plugin"), "VLLM_CPU_KVCACHE_SPACE": "1"}
SPLIT_OPS = {"vllm::unified_attention_with_output", "vllm::unified_kv_cache_update"}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    base = tmp_path_factory.mktemp("llm")
    return {
        "plain": run_script("_llm_run.py", base / "plain", base / "cache_A", env=ENV),
        "cold": run_script("_llm_run.py", base / "cold", base / "cache_B", "--trace", env=ENV),
        "warm": run_script("_llm_run.py", base / "warm", base / "cache_B", "--trace", env=ENV),
    }


def test_trace_holds_the_compile_from_vllms_processes(runs: dict[str, Run]) -> None:
    record = runs["cold"].trace.record
    roles = {p.role for p in record.processes}
    assert {"main", "engine_core", "worker"} <= roles
    (graph,) = [g for g in record.graphs if g.backend.startswith("vllm")]
    worker = next(p for p in record.processes if p.name == graph.process)
    assert worker.role == "worker"
    assert worker.rank == 0
    assert worker.extra["prefix"] == "backbone"
    assert graph.prefix == "backbone"
    assert set(graph.split_ops) == SPLIT_OPS
    pieces = [p for p in record.pieces if p.graph_id == graph.id]
    assert len(pieces) == 5, "2 layers: 3 compiled pieces around 2 attention split points"
    assert [p.submod for p in pieces if p.is_split_op] == ["submod_1", "submod_3"]
    compiles = [c for c in record.compiles if c.graph_id == graph.id]
    assert [(c.submod, c.size, c.outcome) for c in compiles] == [
        (s, "(1, 256)", "compiled") for s in ("submod_0", "submod_2", "submod_4")]
    assert all(c.legacy_key and c.standalone_key for c in compiles)
    found = raw_events.vllm_records(runs["cold"].out)
    assert found.counters["vllm.num_backend_compilations"] == 3
    assert found.counters["vllm.num_piecewise_graphs_seen"] == 5
    assert found.issues == []
    assert {a.name for a in found.artifacts} >= {"cache_key_factors.json", "computation_graph.py"}
    assert {(p.submod, p.name) for p in found.passes} >= {
        (s, "VllmIRLoweringPass") for s in ("submod_0", "submod_2", "submod_4")}
    lowered = {(low.submod, low.ops[0], low.extra["provider"]) for low in found.lowerings}
    assert ("submod_0", "rms_norm", "native") in lowered, "vLLM IR rms_norm lowered to native"


def test_key_cross_check_on_the_real_model(runs: dict[str, Run]) -> None:
    trace = runs["cold"].trace
    check = trace.cross_check()
    assert check.wrong_dedups == {}
    statuses = {c.submod: c.status for c in check.checks}
    assert statuses == {"submod_0": "match", "submod_2": "match", "submod_4": "match"}


def test_no_observer_effect(runs: dict[str, Run]) -> None:
    plain, cold, warm = runs["plain"], runs["cold"], runs["warm"]
    assert plain.result["tokens"] == cold.result["tokens"] == warm.result["tokens"]
    assert factor_files(plain.cache_root) == factor_files(cold.cache_root)
    only_plain = cache_files(plain.cache_root) - cache_files(cold.cache_root)
    assert not only_plain, f"a traced cold run did not write {sorted(only_plain)[:5]}"


def test_warm_start_is_recorded_as_loaded(runs: dict[str, Run]) -> None:
    record = runs["warm"].trace.record
    compiles = [c for c in record.compiles if c.submod.startswith("submod_")]
    assert [(c.submod, c.outcome) for c in compiles] == [
        (s, "loaded") for s in ("submod_0", "submod_2", "submod_4")]
    assert any(p.role == "worker" for p in record.processes)
    found = raw_events.vllm_records(runs["warm"].out)
    assert found.counters["vllm.num_aot_artifacts_loaded"] == 1
    assert "vllm.num_backend_compilations" not in found.counters
