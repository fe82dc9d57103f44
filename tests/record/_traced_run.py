"""Child process of test_live_vs_log.py: one real compile seen by both accounts.

TORCH_TRACE (set by the parent) makes torch write its structured-trace log; the compile runs
inside ``compile_lens.trace()``, whose handler sees the same events live. The embedded backend
emits its ``compile_lens_*`` events whether or not a ``trace()`` block is open (nothing it emits
depends on one), so the log is what a run without ``trace()`` leaves behind.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
import torch.nn.functional as F

import compile_lens


class Toy(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.qkv = torch.nn.Linear(16, 48)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.qkv(x).view(1, x.shape[0], 3, 16).unbind(2)
        return x + F.scaled_dot_product_attention(q, k, v).view(x.shape[0], 16)


if __name__ == "__main__":
    out = Path(sys.argv[1])
    torch.manual_seed(0)
    compiled = torch.compile(Toy(), backend=compile_lens.piecewise(compile_sizes=[4]), dynamic=True)
    with compile_lens.trace(progress=False, factors=False, bytecode=False) as t, torch.no_grad():
        compiled(torch.randn(4, 16))
        compiled(torch.randn(6, 16))
    t.save(out / "trace.json")
