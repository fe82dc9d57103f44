"""The tracer never asks torch anything that initializes CUDA (issue: tracing changed vLLM's
start method from fork to spawn by initializing CUDA in the user's process).

The functions below initialize CUDA, or the driver, in the calling process. In a fresh
interpreter they are wrapped by spies that call through unchanged and remember every call that
returned (one that raised, as on a CPU build, initialized nothing) while compile_lens code is on
the stack; a real traced compile, the factor dump and the run info
must make none. Inductor's selector module is imported first, as vLLM's process has it, because
creating its cache reads ``torch.cuda.current_device()`` (the bug found on the H100). On the GPU,
``tests/gpu_vllm`` checks ``torch.cuda.is_initialized()`` around ``trace()`` with real vLLM.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

SPY = textwrap.dedent("""
    import sys, torch
    import torch._inductor.select_algorithm  # noqa: F401  (vLLM's process has it imported)
    import compile_lens

    INITIALIZING = ("_lazy_init", "is_available", "device_count", "current_device",
                    "get_device_name", "get_device_capability", "get_device_properties",
                    "mem_get_info", "memory_allocated", "memory_reserved", "synchronize")
    calls = []

    def spy(name, original):
        def wrapper(*args, **kwargs):
            result = original(*args, **kwargs)  # a call that raises initialized nothing
            frame = sys._getframe(1)
            while frame is not None:
                module = frame.f_globals.get("__name__", "")
                if module.startswith("compile_lens"):
                    calls.append(f"{module} -> torch.cuda.{name}")
                    break
                frame = frame.f_back
            return result
        return wrapper

    for name in INITIALIZING:
        setattr(torch.cuda, name, spy(name, getattr(torch.cuda, name)))
""")

TRACE = SPY + textwrap.dedent("""
    compiled = torch.compile(lambda x: torch.sin(x) * 2, backend="eager")
    with compile_lens.trace() as t:
        compiled(torch.randn(4))
    compile_lens.factors()
    assert t.record.graphs, "the compile was recorded"
    assert t.record.run.extra["device_facts"]["device"] == "cpu"
    print("calls:", calls)
""")

SELF_CHECK = SPY + textwrap.dedent("""
    exec(compile("torch.cuda.is_available()", "<probe>", "exec"),
         {"torch": torch, "__name__": "compile_lens.probe"})
    print("calls:", calls)
""")


def _calls(script: str) -> str:
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env={**os.environ}, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout.strip().splitlines()[-1]


def test_trace_and_factors_make_no_cuda_call():
    assert _calls(TRACE) == "calls: []"


def test_the_spy_sees_a_call_from_compile_lens():
    """The check above can fail: a call with compile_lens code on the stack is seen."""
    assert _calls(SELF_CHECK) == "calls: ['compile_lens.probe -> torch.cuda.is_available']"
