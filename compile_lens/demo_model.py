"""The built-in small Llama-style model that ``compile-lens demo`` and the tests compile.

vLLM-shaped: inputs are a flat batch of token ids ``[num_tokens]`` (the dynamic dimension) and
positions; each layer is RMSNorm → fused QKV → rotary → causal SDPA → o_proj, then RMSNorm →
gate/up → SiLU → down, with residuals. Split at attention, the middle layers give identical
pieces, which is what dedup is for. Deterministic weights (seeded), no downloads.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class RMSNorm(nn.Module):
    """Root-mean-square norm (Llama)."""

    def __init__(self, dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        variance = x.pow(2).mean(-1, keepdim=True)
        return x * torch.rsqrt(variance + self.eps) * self.weight


def rotary(x: torch.Tensor, positions: torch.Tensor, head_dim: int) -> torch.Tensor:
    """Apply rotary position embedding to ``x`` of shape ``[heads, tokens, head_dim]``."""
    half = head_dim // 2
    inv_freq = 1.0 / (10000 ** (torch.arange(half, device=x.device, dtype=torch.float32) / half))
    angles = positions.to(torch.float32)[:, None] * inv_freq[None, :]
    cos, sin = angles.cos().to(x.dtype), angles.sin().to(x.dtype)
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)


class DecoderLayer(nn.Module):
    """One Llama decoder layer over a flat token batch."""

    def __init__(self, hidden: int, heads: int, intermediate: int) -> None:
        super().__init__()
        self.heads = heads
        self.head_dim = hidden // heads
        self.input_norm = RMSNorm(hidden)
        self.qkv_proj = nn.Linear(hidden, 3 * hidden, bias=False)
        self.o_proj = nn.Linear(hidden, hidden, bias=False)
        self.post_norm = RMSNorm(hidden)
        self.gate_up_proj = nn.Linear(hidden, 2 * intermediate, bias=False)
        self.down_proj = nn.Linear(intermediate, hidden, bias=False)

    def forward(self, x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        tokens, hidden = x.shape
        q, k, v = self.qkv_proj(self.input_norm(x)).chunk(3, dim=-1)
        q, k, v = (t.view(tokens, self.heads, self.head_dim).transpose(0, 1) for t in (q, k, v))
        q, k = rotary(q, positions, self.head_dim), rotary(k, positions, self.head_dim)
        # 4-D [batch=1, heads, tokens, head_dim] inputs: SDPA's fused kernels take this form.
        attn = F.scaled_dot_product_attention(q[None], k[None], v[None], is_causal=True)[0]
        x = x + self.o_proj(attn.transpose(0, 1).reshape(tokens, hidden))
        gate, up = self.gate_up_proj(self.post_norm(x)).chunk(2, dim=-1)
        return x + self.down_proj(F.silu(gate) * up)


class TinyLlama(nn.Module):
    """A small Llama-style causal LM: ``forward(input_ids, positions) -> logits``."""

    def __init__(self, layers: int = 4, hidden: int = 64, heads: int = 4,
                 intermediate: int = 128, vocab: int = 256) -> None:
        super().__init__()
        self.embed_tokens = nn.Parameter(torch.randn(vocab, hidden) * 0.02)
        self.layers = nn.ModuleList(
            DecoderLayer(hidden, heads, intermediate) for _ in range(layers))
        self.norm = RMSNorm(hidden)
        self.lm_head = nn.Linear(hidden, vocab, bias=False)

    def forward(self, input_ids: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        x = F.embedding(input_ids, self.embed_tokens)
        for layer in self.layers:
            x = layer(x, positions)
        return self.lm_head(self.norm(x))


def build(layers: int = 4, seed: int = 0, device: str = "cpu", **kwargs: int) -> TinyLlama:
    """A seeded ``TinyLlama`` in eval mode."""
    gen_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        model = TinyLlama(layers=layers, **kwargs).eval().to(device)
    finally:
        torch.random.set_rng_state(gen_state)
    return model


def example_inputs(num_tokens: int = 8, vocab: int = 256, device: str = "cpu",
                   mark_dynamic: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Deterministic ``(input_ids, positions)``; marks the token dimension dynamic by default."""
    ids = (torch.arange(num_tokens, device=device) * 7 + 3) % vocab
    positions = torch.arange(num_tokens, device=device)
    if mark_dynamic:
        torch._dynamo.mark_dynamic(ids, 0)
        torch._dynamo.mark_dynamic(positions, 0)
    return ids, positions
