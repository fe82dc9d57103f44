"""A toy transformer run through vLLM's real piecewise backend on CPU (test helper, not a test).

Layers: LayerNorm → qkv Linear → custom ``cltoy::attention`` (softmax attention writing into
``out``, registered the way vLLM's own ``tests/compile/silly_attention.py`` does) → o-proj +
residual → SiLU MLP + residual. The attention op is the splitting op, so vLLM splits the graph
into ``2 * layers + 1`` pieces; the middle pieces (MLP of layer i + norm/qkv of layer i+1) are
structurally identical, which is what vLLM's dedup keys on.

``vllm_config()`` applies the two CPU fixes (``docs/design/vllm-hooks.md`` §7): restore
``VLLM_COMPILE`` after the CPU platform downgraded it (and fill ``compile_sizes``), and turn every
fusion pass off (the MLA pass is only importable on CUDA/ROCm).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

HIDDEN = 64
NUM_TOKENS = (5, 3, 17)
NO_FUSIONS = dict.fromkeys((
    "fuse_norm_quant", "fuse_act_quant", "fuse_attn_quant", "fuse_allreduce_rms",
    "fuse_act_padding", "fuse_mla_dual_rms_norm", "fuse_rope_kvcache",
    "fuse_qk_norm_rope_kvcache", "enable_qk_norm_rope_fusion", "fuse_rope_kvcache_cat_mla",
), False)
SPLIT_OP = "cltoy::attention"

_LIB: Any = None
CALLS = {"attention": 0}


def register_attention_op() -> None:
    """Register ``torch.ops.cltoy.attention`` once per process (vLLM's silly-attention recipe)."""
    global _LIB
    if _LIB is not None:
        return
    from torch.library import Library
    from vllm.utils.torch_utils import direct_register_custom_op

    _LIB = Library("cltoy", "FRAGMENT")

    def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, out: torch.Tensor) -> None:
        CALLS["attention"] += 1
        scores = torch.softmax(q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5, dim=-1)
        out.copy_(scores @ v)

    def attention_fake(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                       out: torch.Tensor) -> None:
        return None

    direct_register_custom_op(op_name="attention", op_func=attention, mutates_args=["out"],
                              fake_impl=attention_fake, target_lib=_LIB)


def vllm_config(backend: str = "inductor", compile_sizes: list[int] | None = None) -> Any:
    """A ``VllmConfig`` that really takes the piecewise path on CPU (the two fixes)."""
    from vllm.config import CompilationConfig, CompilationMode, CUDAGraphMode, VllmConfig

    cfg = VllmConfig(compilation_config=CompilationConfig(
        mode=CompilationMode.VLLM_COMPILE, backend=backend, splitting_ops=[SPLIT_OP],
        cudagraph_mode=CUDAGraphMode.NONE, pass_config=dict(NO_FUSIONS),
        compile_sizes=compile_sizes))
    cc = cfg.compilation_config
    cc.mode = CompilationMode.VLLM_COMPILE  # undo the CPU platform's downgrade
    cc.backend = backend
    if cc.compile_sizes is None:
        cc.post_init_cudagraph_sizes()
    return cfg


def build_model(cfg: Any, layers: int = 4, seed: int = 0) -> nn.Module:
    """The decorated toy model, built under ``set_current_vllm_config`` (weights from ``seed``)."""
    from vllm.compilation.decorators import support_torch_compile
    from vllm.config import set_current_vllm_config

    register_attention_op()

    @support_torch_compile(dynamic_arg_dims={"x": 0})
    class ToyModel(nn.Module):
        def __init__(self, *, vllm_config: Any, prefix: str = "", **kwargs: Any) -> None:
            super().__init__()
            self.norms = nn.ModuleList(nn.LayerNorm(HIDDEN) for _ in range(layers))
            self.qkv = nn.ModuleList(nn.Linear(HIDDEN, 3 * HIDDEN) for _ in range(layers))
            self.o = nn.ModuleList(nn.Linear(HIDDEN, HIDDEN) for _ in range(layers))
            self.up = nn.ModuleList(nn.Linear(HIDDEN, 2 * HIDDEN) for _ in range(layers))
            self.down = nn.ModuleList(nn.Linear(2 * HIDDEN, HIDDEN) for _ in range(layers))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            for i in range(len(self.norms)):
                q, k, v = self.qkv[i](self.norms[i](x)).chunk(3, dim=-1)
                out = torch.empty_like(q)
                torch.ops.cltoy.attention(q, k, v, out)
                x = x + self.o[i](out)
                x = x + self.down[i](torch.nn.functional.silu(self.up[i](x)))
            return x

    torch.manual_seed(seed)
    with set_current_vllm_config(cfg):
        return ToyModel(vllm_config=cfg, prefix="").eval()


def run(cfg: Any, model: nn.Module, sizes: tuple[int, ...] = NUM_TOKENS) -> list[torch.Tensor]:
    """Call the model for each number of tokens under a forward context; returns the outputs."""
    from vllm.config import set_current_vllm_config
    from vllm.forward_context import set_forward_context

    outputs = []
    gen = torch.Generator().manual_seed(1)
    with set_current_vllm_config(cfg), torch.no_grad():
        for n in sizes:
            x = torch.randn(n, HIDDEN, generator=gen)
            with set_forward_context(None, vllm_config=cfg):
                outputs.append(model(x))
    return outputs
