"""The tracer never asks torch anything that initializes CUDA (issue: tracing changed vLLM's
start method from fork to spawn by initializing CUDA in the user's process).

The functions below initialize CUDA, or the driver, in the calling process. They are wrapped by
spies that call through unchanged and remember callers inside ``compile_lens``; a real traced
compile, the factor dump and the run info must not call any of them. (On the GPU,
``tests/gpu_vllm`` checks ``torch.cuda.is_initialized()`` around ``trace()`` with real vLLM.)
"""

from __future__ import annotations

import sys

import pytest
import torch

import compile_lens

INITIALIZING = ("_lazy_init", "is_available", "device_count", "current_device",
                "get_device_name", "get_device_capability", "get_device_properties",
                "mem_get_info", "memory_allocated", "memory_reserved", "synchronize")


@pytest.fixture
def cuda_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []

    def spy(name: str, original):
        def wrapper(*args, **kwargs):
            caller = sys._getframe(1).f_globals.get("__name__", "")
            if caller.startswith("compile_lens"):
                calls.append(f"{caller} -> torch.cuda.{name}")
            return original(*args, **kwargs)

        return wrapper

    for name in INITIALIZING:
        monkeypatch.setattr(torch.cuda, name, spy(name, getattr(torch.cuda, name)))
    return calls


def test_trace_and_factors_make_no_cuda_call(cuda_calls):
    def f(x):
        return torch.sin(x) * 2

    compiled = torch.compile(f, backend="eager")
    with compile_lens.trace() as t:
        compiled(torch.randn(4))
    compile_lens.factors()
    assert t.record.graphs, "the compile was recorded"
    assert t.record.run.extra["device_facts"]["device"] == "cpu"
    assert cuda_calls == []


def test_spy_sees_a_compile_lens_caller(cuda_calls):
    """The check above can fail: a call from compile_lens code is seen."""
    from compile_lens.instrument import device

    device.cuda_initialized()  # is_initialized is not on the list: no call recorded
    assert cuda_calls == []
    exec(compile("torch.cuda.is_available()", "<compile_lens>", "exec"),
         {"torch": torch, "__name__": "compile_lens.probe"})
    assert cuda_calls == ["compile_lens.probe -> torch.cuda.is_available"]
