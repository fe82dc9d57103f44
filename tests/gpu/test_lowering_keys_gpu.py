"""GPU lowering choices, autotune picks and cache keys on the GPU's torch (2.11 on the H100).

Run on the H100 (see docs/gpu.md): ``python -m pytest tests/gpu -q``.
"""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
import textwrap

import pytest
import torch

import compile_lens
from compile_lens._torch import keys, patching
from compile_lens.instrument import autotune
from compile_lens.model import COMPILED, DEDUPLICATED, LOADED

pytestmark = [pytest.mark.gpu, pytest.mark.inductor,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


def test_triton_kernels_extern_calls_and_kernel_info_per_piece(graphs_run):
    t = graphs_run.trace
    frame = t.lowerings
    compiled = {(c.graph_id, c.submod, c.size) for c in t.record.compiles if c.outcome == COMPILED}
    lowered = set(zip(frame.graph_id, frame.submod, frame["size"], strict=True))
    assert lowered == compiled, "every real compile left its lowering choices"
    assert "triton_kernel" in set(frame.kind)
    assert not (frame.kind == "cpp_kernel").any()
    externs = frame[frame.kind == "extern"]
    assert set(externs.name) & {"mm", "addmm", "bmm"}, "matmuls go to cuBLAS"
    # torch's triton_kernel_info artifact is attached to the kernel it describes.
    infos = [low.extra["triton"] for low in t.record.lowerings if "triton" in low.extra]
    assert infos
    assert all("compile_time_us" in info for info in infos)


def test_keys_agree_and_dedup_works_on_this_torch(cross_check_run, graphs_run):
    record = cross_check_run.trace.record
    compiled = [c for c in record.compiles if c.submod != "<graph>"]
    assert compiled
    assert all(c.outcome != DEDUPLICATED for c in compiled), "cross_check compiles every piece"
    assert all(c.legacy_key and c.key_match is True for c in compiled), [
        (c.submod, c.size, c.legacy_key, c.standalone_key) for c in compiled if not c.key_match]
    plain = {(c.submod, c.size): c for c in graphs_run.trace.record.compiles if c.graph_id == "g0"}
    assert plain[("submod_4", "general")].outcome == DEDUPLICATED
    if keys.standalone_key_api() is None:  # torch 2.11: the trace says how keys were made
        assert keys.NO_STANDALONE_KEY_NOTE in graphs_run.trace.record.run.notes
        assert {c.note for c in compiled} == {keys.PROBE_KEY_NOTE}


def test_legacy_key_function_signature_and_wrapper_restored():
    fn = patching.current(keys.LEGACY_TARGET)
    assert not hasattr(fn, "__wrapped__")
    names = list(inspect.signature(fn).parameters)
    assert len(names) >= 4
    assert names[3] in ("fx_config", "compiler_config_extra")


def test_max_autotune_picks_are_recorded(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "inductor"))
    torch._dynamo.reset()
    a = torch.randn(64, 128, device="cuda")
    b = torch.randn(128, 96, device="cuda")

    def other_saver(*args, **kwargs):  # someone else's saver must survive our undo
        return None

    from torch._inductor import select_algorithm

    select_algorithm.add_feedback_saver(other_saver)
    errors: list[Exception] = []
    try:
        with compile_lens.trace(strict=True, factors=False) as t:
            undo = autotune.install(lambda hook, exc: errors.append(exc))
            try:
                out = torch.compile(lambda x, y: torch.relu(x @ y),
                                    mode="max-autotune-no-cudagraphs")(a, b)
            finally:
                undo()
        assert other_saver in autotune.installed_savers()
        assert not any(f.__name__ == autotune._SAVER_NAME for f in autotune.installed_savers())
    finally:
        cache = getattr(select_algorithm, "_ALGORITHM_SELECTOR_CACHE", None)
        if cache is not None and other_saver in cache.feedback_saver_fns:
            cache.feedback_saver_fns.remove(other_saver)
        torch._dynamo.reset()
    torch.testing.assert_close(out, torch.relu(a @ b), rtol=1e-2, atol=1e-2)
    assert not errors
    rows = [low for low in t.record.lowerings if low.kind == "autotune"]
    assert rows, "max-autotune timed its choices"
    row = rows[0]
    assert row.ops in (["mm"], ["addmm"])
    names = [c[0] for c in row.extra["choices"]]
    assert row.name == names[0]
    assert any(n.startswith("triton_mm") for n in names)
    assert row.extra["picked_ms"] > 0


def test_a_second_process_loads_gpu_artifacts(tmp_path):
    """CompiledArtifact save/load on this torch: a warm start loads every unique piece."""
    script = textwrap.dedent(f"""
        import os, sys, torch, compile_lens
        from compile_lens import demo_model
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = {str(tmp_path / "inductor")!r}
        m = demo_model.build(layers=3, device="cuda")
        be = compile_lens.piecewise(cache_dir={str(tmp_path / "artifacts")!r})
        with torch.no_grad(), compile_lens.trace(strict=True) as t:
            out = torch.compile(m, backend=be)(*demo_model.example_inputs(8, device="cuda"))
        t.save({str(tmp_path)!r} + "/run" + sys.argv[1] + ".json")
        torch.save(out.cpu(), {str(tmp_path)!r} + "/out" + sys.argv[1] + ".pt")
    """)
    for i in ("0", "1"):
        subprocess.run([sys.executable, "-c", script, i], check=True, env={**os.environ},
                       timeout=900)
    cold = compile_lens.load(tmp_path / "run0.json").record
    warm = compile_lens.load(tmp_path / "run1.json").record
    assert {c.outcome for c in cold.compiles} == {COMPILED, DEDUPLICATED}
    assert {c.outcome for c in warm.compiles} == {LOADED, DEDUPLICATED}
    assert [c.standalone_key for c in warm.compiles] == [c.standalone_key for c in cold.compiles]
    torch.testing.assert_close(torch.load(tmp_path / "out1.pt"), torch.load(tmp_path / "out0.pt"))
