"""vLLM's real VllmBackend with Inductor (vLLM's defaults on torch 2.13: AOT + mega artifact).

Four fresh processes: cold and warm over cache root A without a trace, cold and warm over cache
root B with ``compile_lens.trace()``. The toy's 4 layers give 5 compiled pieces, two of them
structurally identical (``submod_4``, ``submod_6``): vLLM deduplicates the second.

Checked: every piece's legacy key (captured from vLLM's real compile) equals the standalone key
computed up front, and the dedup they imply is right; the trace agrees with
``compilation_counter``; tracing changes nothing (outputs, counters, cache directory name,
``cache_key_factors.json``, every file vLLM and Inductor wrote, cold and warm); and the warm start,
where vLLM loads its mega artifact without compiling, is recorded as ``loaded`` with the same
artifact hashes the cold run produced.
"""

from __future__ import annotations

import json

import pytest
import raw_events
import torch
from vllm_runs import (
    VLLM,
    Run,
    cache_files,
    factor_files,
    generated_code,
    generated_sources,
    run_script,
)

pytestmark = [*VLLM, pytest.mark.inductor]
COMPILED = ["submod_0", "submod_2", "submod_4", "submod_6", "submod_8"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    base = tmp_path_factory.mktemp("inductor")
    out: dict[str, Run] = {}
    for name, root, extra in (("cold_plain", "A", ()), ("warm_plain", "A", ()),
                              ("cold_traced", "B", ("--trace",)),
                              ("warm_traced", "B", ("--trace",))):
        out[name] = run_script("_toy_run.py", base / name, base / f"cache_{root}", *extra)
        # What the cache held right after this run (the warm run adds to the same root).
        out[name].result["cache_files"] = sorted(cache_files(base / f"cache_{root}"))
    return out


def test_legacy_and_standalone_keys_agree_and_dedup_is_right(runs: dict[str, Run]) -> None:
    record = runs["cold_traced"].trace.record
    assert [c.submod for c in record.compiles] == COMPILED
    for c in record.compiles:
        assert c.legacy_key and c.standalone_key, c
        assert c.key_match is True, f"{c.submod}: {c.legacy_key} != {c.standalone_key}"
    by_submod = {c.submod: c for c in record.compiles}
    assert [c.outcome for c in record.compiles] == [
        "compiled", "compiled", "compiled", "deduplicated", "compiled"]
    assert by_submod["submod_6"].dedup_of == "submod_4"
    assert by_submod["submod_6"].legacy_key == by_submod["submod_4"].legacy_key
    assert len({c.legacy_key for c in record.compiles}) == 4
    check = runs["cold_traced"].trace.cross_check()
    assert [c.status for c in check.checks] == ["match"] * 5
    assert check.wrong_dedups == {}
    groups = [g for g in check.dedup_groups.values() if len(g) > 1]
    assert groups == [["g0/submod_4[(1, 2048)]", "g0/submod_6[(1, 2048)]"]]


def test_trace_agrees_with_compilation_counter(runs: dict[str, Run]) -> None:
    traced = runs["cold_traced"]
    record, counters = traced.trace.record, traced.result["counters"]
    assert len(record.pieces) == counters["num_piecewise_graphs_seen"] == 9
    assert len(record.compiles) == counters["num_backend_compilations"] == 5
    assert counters["num_inductor_compiles"] == 5, "vLLM calls Inductor even for the dedup hit"
    found = raw_events.vllm_records(traced.out)
    assert found.counters == {f"vllm.{k}": v for k, v in counters.items()}
    hashes = json.loads(next(a for a in found.artifacts if a.name == "mega_artifact_hashes").content)
    assert sorted(h.rsplit("_", 1)[0] for h in hashes) == COMPILED
    assert len(set(hashes.values())) == counters["num_compiled_artifacts_saved"] == 4
    passes = {(p.submod, p.name) for p in found.passes}
    assert ("submod_0", "PostCleanupPass") in passes
    assert not any(p.submod == "submod_6" for p in found.passes), "no pass runs on a dedup hit"
    assert found.issues == []


def test_no_observer_effect_cold_and_warm(runs: dict[str, Run]) -> None:
    for stage in ("cold", "warm"):
        plain, traced = runs[f"{stage}_plain"], runs[f"{stage}_traced"]
        for a, b in zip(plain.outputs(), traced.outputs(), strict=True):
            assert torch.equal(a, b), stage
        assert plain.result["counters"] == traced.result["counters"], stage
    cold_plain, cold_traced = runs["cold_plain"], runs["cold_traced"]
    assert (cold_plain.result["cache_dir"].rsplit("/", 1)[1]
            == cold_traced.result["cache_dir"].rsplit("/", 1)[1])
    assert factor_files(cold_plain.cache_root) == factor_files(cold_traced.cache_root)
    files_a, files_b = cache_files(cold_plain.cache_root), cache_files(cold_traced.cache_root)
    keyed_a = {f for f in files_a if not generated_code(f)}
    keyed_b = {f for f in files_b if not generated_code(f)}
    assert keyed_a == keyed_b, (
        "tracing changed what vLLM/Inductor wrote (cache keys name these files): "
        f"only untraced {sorted(keyed_a - keyed_b)[:5]}, only traced {sorted(keyed_b - keyed_a)[:5]}")
    assert any("aotautograd" in f for f in files_a), "the AOTAutograd keys are part of the check"


def test_same_generated_kernels(runs: dict[str, Run]) -> None:
    """Inductor generated the same code traced and untraced: every kernel and wrapper file of the
    cold runs by name, and of cold + warm by content.

    The warm starts may add files under new names: vLLM loads its pieces in parallel threads and
    torch's CPU ISA probe races there (``VecAVX512.__bool__`` appends ``-mavx512bf16`` to a
    shared ISA object while it probes), so some kernels are compiled again with that flag and
    written under a new name, same content. It happens untraced too (docs/vllm.md); the names
    it adds are allowed only when their content is also in the other run.
    """
    cold_plain, cold_traced = runs["cold_plain"], runs["cold_traced"]
    named_a = {f for f in cold_plain.result["cache_files"] if generated_code(f)}
    named_b = {f for f in cold_traced.result["cache_files"] if generated_code(f)}
    assert named_a, "Inductor's generated code is part of the check"
    assert named_a == named_b, (f"cold: only untraced {sorted(named_a - named_b)[:3]}, "
                                f"only traced {sorted(named_b - named_a)[:3]}")
    src_a, src_b = generated_sources(cold_plain.cache_root), generated_sources(cold_traced.cache_root)
    assert set(src_a) == set(src_b), (
        "tracing changed what Inductor generated: only untraced "
        f"{sorted(min(src_a[d]) for d in set(src_a) - set(src_b))[:3]}, only traced "
        f"{sorted(min(src_b[d]) for d in set(src_b) - set(src_a))[:3]}")
    code_a = {f for f in cache_files(cold_plain.cache_root) if generated_code(f)}
    code_b = {f for f in cache_files(cold_traced.cache_root) if generated_code(f)}
    recompiled = {_stem(name) for names in (*src_a.values(), *src_b.values())
                  for name in names if name in code_a ^ code_b}
    unexplained = {f for f in code_a ^ code_b if _stem(f) not in recompiled}
    assert not unexplained, f"generated files that differ by more than a recompile: {unexplained}"


def _stem(path: str) -> str:
    """``…/dp/cdpby….main.so`` → ``…/dp/cdpby…``: a kernel's source and library share it."""
    folder, _, name = path.rpartition("/")
    return f"{folder}/{name.split('.')[0]}"


def test_warm_start_is_recorded_as_loaded(runs: dict[str, Run]) -> None:
    warm, cold = runs["warm_traced"], runs["cold_traced"]
    assert warm.result["counters"]["num_aot_artifacts_loaded"] == 1
    assert "num_backend_compilations" not in warm.result["counters"]
    record = warm.trace.record
    assert [(c.submod, c.outcome, c.size) for c in record.compiles] == [
        (s, "loaded", "(1, 2048)") for s in COMPILED]
    assert any("mega AOT artifact" in n for n in record.run.notes)
    cold_hashes = json.loads(next(a for a in raw_events.vllm_records(cold.out).artifacts
                                  if a.name == "mega_artifact_hashes").content)
    warm_hashes = {f"{c.submod}_{c.size}": c.extra["artifact_sha256"] for c in record.compiles}
    assert warm_hashes == cold_hashes
    aot = [a for a in raw_events.vllm_records(warm.out).artifacts if a.name == "aot_model"]
    assert aot[0].extra["loaded"] is True
