"""Worker of the 2-GPU multi-rank check (run by ``torchrun``; see test_torchrun_tp.py).

A small tensor-parallel block (column-parallel QKV and up projections, attention, row-parallel
output projections reduced with ``all_reduce`` over NCCL) compiled through the embedded backend,
``compile_lens.piecewise`` (split at SDPA), with TORCH_TRACE set per rank by the caller. With
``--odd-rank R`` that rank compiles differently (an extra exact compile size), which the
divergence analysis must name.

    TORCH_TRACE=/tmp/tp_trace torchrun --nproc-per-node 2 tests/gpu/torchrun_tp.py [--odd-rank 1]
"""

from __future__ import annotations

import argparse
import os

import torch
import torch.distributed as dist
import torch.nn.functional as F

HIDDEN, HEADS = 256, 8


class TPBlock(torch.nn.Module):
    """One attention + MLP block, its weights split over ``world`` ranks (Megatron style)."""

    def __init__(self, world: int) -> None:
        super().__init__()
        self.heads = HEADS // world
        self.qkv = torch.nn.Linear(HIDDEN, 3 * HIDDEN // world, bias=False)
        self.out = torch.nn.Linear(HIDDEN // world, HIDDEN, bias=False)
        self.up = torch.nn.Linear(HIDDEN, 4 * HIDDEN // world, bias=False)
        self.down = torch.nn.Linear(4 * HIDDEN // world, HIDDEN, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        q, k, v = self.qkv(x).view(n, 3, self.heads, -1).permute(1, 2, 0, 3).unbind(0)
        attn = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        y = self.out(attn.permute(1, 0, 2).reshape(n, -1))
        dist.all_reduce(y)
        x = x + y
        z = self.down(F.gelu(self.up(x)))
        dist.all_reduce(z)
        return x + z


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--odd-rank", type=int, default=None,
                        help="this rank compiles one more exact size than the others")
    parser.add_argument("--cpu", action="store_true", help="gloo on CPU (a dry run of this script)")
    args = parser.parse_args()
    # before any compile: TORCH_TRACE names each rank's file by its rank
    dist.init_process_group("gloo" if args.cpu else "nccl")
    rank, world = dist.get_rank(), dist.get_world_size()
    device, dtype = ("cpu", torch.float32) if args.cpu else ("cuda", torch.half)
    if not args.cpu:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", rank)))
    # one cache per rank, as on separate nodes: a cache shared by both ranks would make the
    # second rank load what the first stored, a difference of timing, not of compilation
    cache = os.path.join(os.environ.get("TORCHINDUCTOR_CACHE_DIR", "/tmp/tp_cache"), f"rank{rank}")
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = cache
    import compile_lens

    sizes = [4, 8] if rank == args.odd_rank else [4]
    torch.manual_seed(0)
    model = torch.nn.Sequential(TPBlock(world), TPBlock(world)).to(device, dtype)
    backend = compile_lens.piecewise(compile_sizes=sizes, cache_dir=os.path.join(cache, "cl"))
    compiled = torch.compile(model, backend=backend, dynamic=True)
    with torch.no_grad():
        for n in (4, 8, 13):
            out = compiled(torch.randn(n, HIDDEN, device=device, dtype=dtype))
            assert torch.isfinite(out).all()
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
