"""The vLLM observers themselves: restored after a trace, fail open, strict, the plugin, a dead process.

In-process tests compile the toy with vLLM's ``eager`` backend (real VllmBackend, split,
PiecewiseBackend and CompilerManager; no Inductor), so they take seconds once vLLM is imported.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from vllm_runs import HERE, VLLM

import compile_lens
from compile_lens.errors import InstrumentationError

pytestmark = VLLM


@pytest.fixture
def vllm_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """vLLM imported, a private cache root, Dynamo reset before and after."""
    import torch
    import toy_model
    import vllm.compilation.backends  # noqa: F401

    monkeypatch.setenv("VLLM_CACHE_ROOT", str(tmp_path / "vllm_cache"))
    torch._dynamo.reset()
    yield toy_model
    torch._dynamo.reset()


def _compile(toy_model: Any) -> list[Any]:
    cfg = toy_model.vllm_config("eager")
    return toy_model.run(cfg, toy_model.build_model(cfg, layers=2), sizes=(5, 3))


def test_every_hook_is_restored_after_the_trace(vllm_env: Any) -> None:
    from compile_lens._torch import patching
    from compile_lens.instrument import vllm as observers

    originals = {target: patching.current(target) for target, _, _ in observers.HOOKS}
    with compile_lens.trace(strict=True):
        assert observers.installed()
        wrapped = [t for t in originals if patching.current(t) is not originals[t]]
        assert sorted(wrapped) == sorted(originals)
        _compile(vllm_env)
    assert not observers.installed()
    assert all(patching.current(t) is o for t, o in originals.items())


def test_a_broken_observer_fails_open(vllm_env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from compile_lens.instrument.vllm import graphs

    expected = _compile(vllm_env)
    import torch

    torch._dynamo.reset()

    def broken(*args: Any) -> Any:
        msg = "observer bug"
        raise RuntimeError(msg)

    monkeypatch.setattr(graphs, "_piece_rows", broken)
    warned = pytest.warns(RuntimeWarning, match="compile_lens: vLLM hook 'vllm.split_graph' failed")
    with warned, compile_lens.trace() as t:
        got = _compile(vllm_env)
    for a, b in zip(expected, got, strict=True):
        assert torch.equal(a, b)
    record = t.record
    assert any("vllm.split_graph" in n for n in record.run.notes)
    assert [c.outcome for c in record.compiles] == ["compiled"] * 3, "the compile went on"


def test_strict_raises_instrumentation_error(vllm_env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from compile_lens.instrument.vllm import graphs

    def broken(*args: Any) -> Any:
        msg = "observer bug"
        raise RuntimeError(msg)

    monkeypatch.setattr(graphs, "_piece_rows", broken)
    with pytest.raises(Exception) as caught, compile_lens.trace(strict=True):  # noqa: PT011
        _compile(vllm_env)
    chain, exc = [], caught.value
    while exc is not None:
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__
    assert any(isinstance(e, InstrumentationError) for e in chain), chain


def test_plugin_does_nothing_without_a_trace(monkeypatch: pytest.MonkeyPatch) -> None:
    from compile_lens.instrument import vllm as observers
    from compile_lens.instrument import vllm_plugin
    from compile_lens.instrument.structured_log import StructuredTraceHandler

    monkeypatch.delenv("COMPILE_LENS_SESSION_DIR", raising=False)
    vllm_plugin.register()
    assert not observers.installed()
    handlers = logging.getLogger("torch.__trace").handlers
    assert not any(isinstance(h, StructuredTraceHandler) for h in handlers)


def test_a_dead_process_leaves_a_partial_trace(tmp_path: Path) -> None:
    with compile_lens.trace(strict=True) as t:
        env = {**os.environ, "VLLM_CACHE_ROOT": str(tmp_path / "cache")}  # the session dir too
        child = subprocess.run([sys.executable, str(HERE / "_child_dies.py")], env=env,
                               capture_output=True, text=True, timeout=600, check=False)
    assert child.returncode == -9, child.stderr[-3000:]
    record = t.record
    (proc,) = [p for p in record.processes if p.role != "main"]
    assert proc.extra["state"] == "running", "it never reached its clean exit"
    (graph,) = [g for g in record.graphs if g.process == proc.name]
    assert graph.prefix == "backbone"
    assert [c.submod for c in record.compiles if c.graph_id == graph.id] == [
        "submod_0", "submod_2", "submod_4"]
