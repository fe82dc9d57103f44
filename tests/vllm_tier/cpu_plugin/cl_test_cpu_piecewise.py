"""Test-only vLLM plugin: keep vLLM's piecewise ``VLLM_COMPILE`` mode on the CPU platform.

Put this directory on ``PYTHONPATH`` (its ``*.dist-info/entry_points.txt`` declares a
``vllm.general_plugins`` entry point, so vLLM calls ``register()`` in every process it starts).
Not part of compile_lens: it changes what vLLM does, on purpose, so the ``LLM(...)`` test covers
vLLM's real piecewise path on a machine without a GPU. It applies the same changes with and
without a trace. Two vLLM-on-CPU limits are worked around:

1. ``CpuPlatform.check_and_update_config`` rewrites ``mode=VLLM_COMPILE`` into
   ``DYNAMO_TRACE_ONCE`` (plain ``torch.compile``) and turns vLLM IR torch-wrapping off. Wrapped
   here: the mode, backend and ``ir_enable_torch_wrap`` are restored and ``compile_sizes`` filled
   right after it, before ``VllmConfig.__post_init__`` computes the compile ranges and the
   splitting ops (vLLM's attention ops), exactly as on a GPU.
2. vLLM's CPU linear layers call ``torch.ops._C.onednn_mm`` (an out-variant op). In piecewise
   mode Inductor sees it functionalised, and vLLM's ``FixFunctionalizationPass`` then looks up
   CUDA-only ops that the CPU build lacks (``AttributeError: … fused_add_rms_norm_static_fp8_quant``).
   Setting ``vllm._custom_ops._supports_onednn = False`` makes the linears use
   ``torch.nn.functional.linear`` instead.

The fusion passes must be off too: pass ``pass_config`` with every fusion flag ``False``
(``NO_FUSIONS`` in ``tests/vllm_tier/toy_model.py``).
"""

from __future__ import annotations

from typing import Any

_DONE: list[bool] = []


def register() -> None:
    """Apply both changes once per process."""
    if _DONE:
        return
    _DONE.append(True)
    import vllm._custom_ops as ops
    from vllm.config import CompilationMode
    from vllm.platforms.cpu import CpuPlatform

    ops._supports_onednn = False
    original = CpuPlatform.__dict__["check_and_update_config"]

    def check_and_update_config(cls: Any, vllm_config: Any) -> None:
        wanted = vllm_config.compilation_config.mode == CompilationMode.VLLM_COMPILE
        torch_wrap = vllm_config.compilation_config.ir_enable_torch_wrap
        original.__func__(cls, vllm_config)
        cc = vllm_config.compilation_config
        if wanted and cc.mode == CompilationMode.DYNAMO_TRACE_ONCE:
            cc.mode = CompilationMode.VLLM_COMPILE
            cc.ir_enable_torch_wrap = torch_wrap  # vLLM IR ops stay wrapped, as on a GPU
            cc.backend = cc.backend if cc.backend in ("eager", "inductor") else "inductor"
            if cc.compile_sizes is None:
                cc.post_init_cudagraph_sizes()

    CpuPlatform.check_and_update_config = classmethod(check_and_update_config)  # type: ignore
