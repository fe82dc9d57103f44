"""Real vLLM on the GPU under ``trace()``: no observer effect, every CUDA graph, keys checked.

Each check compares with vLLM's or torch's own account of the same run (its log lines, its
``compilation_counter``, the files it wrote, the tokens it generated), never with a figure we
wrote down.
"""

from __future__ import annotations

import re

import pytest
from _vllm_gpu import GPU_VLLM, GPUS, generated_code, run_llm
from vllm_tier.vllm_runs import generated_sources

pytestmark = GPU_VLLM

SPAWN_WARNING = "We must use the `spawn` multiprocessing start method"


@pytest.mark.parametrize("phase", ["cold", "warm"])
def test_same_tokens_traced_and_untraced(gpu_runs, phase):
    assert gpu_runs[f"traced_{phase}"].result["tokens"] == gpu_runs[f"untraced_{phase}"].result["tokens"]


@pytest.mark.parametrize("phase", ["cold", "warm"])
def test_tracing_keeps_fork_and_leaves_cuda_alone(gpu_runs, phase):
    traced, untraced = gpu_runs[f"traced_{phase}"], gpu_runs[f"untraced_{phase}"]
    assert SPAWN_WARNING not in traced.log
    assert traced.result["start_method"] == untraced.result["start_method"]
    for moment in ("cuda_initialized_before", "cuda_initialized_entered",
                   "cuda_initialized_after"):
        assert traced.result[moment] is untraced.result[moment] is False, moment


@pytest.mark.parametrize("phase", ["cold", "warm"])
def test_same_cache_directory_and_keys(gpu_runs, phase):
    """vLLM's cache directory (its hash name and every file in it) and every AOTAutograd and FX
    graph cache key are the same traced and untraced."""
    traced, untraced = gpu_runs[f"traced_{phase}"], gpu_runs[f"untraced_{phase}"]
    keyed_t = [f for f in traced.cache_files() if not generated_code(f)]
    keyed_u = [f for f in untraced.cache_files() if not generated_code(f)]
    assert keyed_t == keyed_u, _diff_hint(traced, untraced)
    assert any("/rank_" in f for f in keyed_t), "vLLM's own cache directory is compared"
    assert any("/aotautograd/" in f for f in keyed_t) and any("/fxgraph/" in f for f in keyed_t)


@pytest.mark.parametrize("phase", ["cold", "warm"])
def test_same_generated_code(gpu_runs, phase):
    """Inductor generated the same code traced and untraced, file by file, compared by content
    with each run's cache root read as one placeholder.

    Inductor's wrapper code names every Triton kernel's absolute path in a comment
    (``# kernel path: <VLLM_CACHE_ROOT>/…``), so the same code under two cache roots has other
    bytes and another file name: on the H100 every pair of roots, untraced against untraced
    too, differed in exactly those lines (``tests/vllm_tier/codegen_diff.py``). A kernel that
    changes in any other line fails here.
    """
    traced, untraced = gpu_runs[f"traced_{phase}"], gpu_runs[f"untraced_{phase}"]
    code_t = generated_sources(traced.cache_root)
    code_u = generated_sources(untraced.cache_root)
    assert code_u, "Inductor's generated code is part of the check"
    assert set(code_t) == set(code_u), _diff_hint(traced, untraced)
    if phase == "cold":  # the same holds between any two untraced runs: what the check relies on
        other = generated_sources(gpu_runs["untraced_cold2"].cache_root)
        assert set(other) == set(code_u), _diff_hint(gpu_runs["untraced_cold2"], untraced)


def _diff_hint(traced, untraced) -> str:
    """The first differing generated file of each run, as a unified diff (failure message)."""
    import difflib

    a, b = set(traced.cache_files()), set(untraced.cache_files())
    root_t, root_u = traced.cache_root / "torch_compile_cache", untraced.cache_root / "torch_compile_cache"
    only_t = sorted(f for f in a - b if f.endswith(".py"))
    only_u = sorted(f for f in b - a if f.endswith(".py"))
    lines = [f"only traced: {sorted(a - b)[:8]}", f"only untraced: {sorted(b - a)[:8]}"]
    for x, y in list(zip(only_t, only_u, strict=False))[:2]:
        diff = difflib.unified_diff((root_u / y).read_text(errors="replace").splitlines(),
                                    (root_t / x).read_text(errors="replace").splitlines(),
                                    lineterm="", n=1)
        lines.extend(list(diff)[:40])
    return "\n".join(lines)


def _vllm_capture_account(log: str) -> tuple[float, float]:
    """vLLM's own line: 'Graph capturing finished in X secs, took Y GiB'."""
    found = re.findall(r"Graph capturing finished in (\d+) secs, took ([\d.]+) GiB", log)
    assert found, "vLLM did not log its capture phase"
    return float(found[-1][0]), float(found[-1][1])


@pytest.mark.parametrize("phase", ["cold", "warm"])
def test_every_cuda_graph_vllm_captured(gpu_runs, phase):
    run = gpu_runs[f"traced_{phase}"]
    trace = run.trace
    modes = {c.mode for c in trace.record.captures}
    assert modes == {"FULL", "PIECEWISE"}, modes
    # vLLM's own count of captured graphs (compilation_counter, summed over its processes).
    assert len(trace.record.captures) == trace.record.counters["vllm.num_cudagraph_captured"]
    whole = [c for c in trace.record.captures if c.mode == "FULL"]
    assert all(c.submod == "<model>" for c in whole)
    settings = next(iter(trace.record.run.extra["vllm_cudagraphs"].values()))
    assert settings["cudagraph_mode"] == "FULL_AND_PIECEWISE"
    assert {c.size for c in trace.record.captures} <= set(settings["capture_sizes"])
    # vLLM's account of the phase, read from its log and from the trace: the same record.
    seconds, gib = _vllm_capture_account(run.log)
    assert round(settings["vllm_gib"], 2) == gib
    assert round(settings["vllm_seconds"]) == seconds
    captured = sum(c.memory_bytes for c in trace.record.captures) / 2**30
    assert captured <= gib + 0.01, (captured, gib)
    assert sum(c.seconds for c in trace.record.captures) <= settings["vllm_seconds"] + 0.5
    replayed = {(c.mode, c.size) for c in trace.record.captures if c.replays > 0}
    assert any(mode == "FULL" for mode, _ in replayed), "decode steps replay FULL graphs"


def test_keys_cross_checked_inside_vllm(gpu_runs):
    """``trace(cross_check=True)``: both keys for every piece vLLM compiled, and they agree."""
    run = gpu_runs["cross_cold"]
    trace = run.trace
    assert run.result["tokens"] == gpu_runs["untraced_cold"].result["tokens"]
    real = [c for c in trace.record.compiles if c.outcome in ("compiled", "cache_hit")]
    assert real, "nothing compiled cold"
    for c in real:
        assert c.standalone_key and c.legacy_key, (c.submod, c.note)
        assert c.key_match is True, (c.submod, c.standalone_key, c.legacy_key)
    deduplicated = [c for c in trace.record.compiles if c.outcome == "deduplicated"]
    by_key = {c.legacy_key: c.submod for c in real}
    for c in deduplicated:
        assert c.dedup_of in by_key.values()


def test_default_trace_says_how_keys_were_checked(gpu_runs):
    """Without cross_check, a torch lacking the standalone key API gets no up-front key inside
    vLLM (the probe can change vLLM's generated code there), and each piece says so."""
    trace = gpu_runs["traced_cold"].trace
    features = trace.record.run.features
    real = [c for c in trace.record.compiles if c.outcome in ("compiled", "cache_hit")]
    assert real and all(c.legacy_key for c in real)
    if not features.get("standalone_key_api"):
        assert all(c.standalone_key is None and "cross_check=True" in c.note for c in real)
    else:
        assert all(c.key_match for c in real)
    cross, untraced = gpu_runs["cross_cold"], gpu_runs["untraced_cold"]
    noise = set(untraced.cache_files()) ^ set(gpu_runs["untraced_cold2"].cache_files())
    changed = (set(cross.cache_files()) ^ set(untraced.cache_files())) - noise
    print(f"cross_check run: {len(changed)} cache file names differ from an untraced run")


def test_run_info_reads_the_device_without_cuda(gpu_runs):
    run = gpu_runs["traced_cold"].trace.record.run
    facts = run.extra["device_facts"]
    assert facts["source"] in ("nvml", "none")
    if facts["source"] == "nvml":
        assert run.device.startswith("NVIDIA")
    assert run.features["cuda_available"] is (facts["source"] == "nvml")


def test_warm_start_loads(gpu_runs):
    trace = gpu_runs["traced_warm"].trace
    outcomes = {c.outcome for c in trace.record.compiles}
    assert outcomes <= {"loaded", "deduplicated"}, outcomes
    assert outcomes, "a warm start still records its pieces"


@pytest.mark.skipif(GPUS < 2, reason="needs 2 GPUs")
def test_tensor_parallel_ranks_merged(tmp_path):
    run = run_llm(tmp_path / "tp2", tmp_path / "root", "--trace", "--tp", "2",
                  "--decode-tokens", "8")
    trace = run.trace
    workers = [p for p in trace.record.processes if p.role == "worker"]
    assert sorted(p.rank for p in workers) == [0, 1], workers
    graphs_by_process = {g.process for g in trace.record.graphs}
    assert len(graphs_by_process) == 2, graphs_by_process
    assert {c.mode for c in trace.record.captures} == {"FULL", "PIECEWISE"}
    assert SPAWN_WARNING not in run.log
