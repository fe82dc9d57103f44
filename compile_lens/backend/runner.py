"""Runtime side of a compiled piece: pick the exact-size artifact or the general one.

``PieceRunner.forward`` is the only code on the runtime hot path: one dict lookup, one call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import torch


class PieceRunner(torch.nn.Module):
    """Calls the artifact compiled for the runtime size, else the general (symbolic) one."""

    def __init__(self, general: Any, sized: dict[int, Any], sym_index: int | None,
                 unwrap: bool) -> None:
        super().__init__()
        self.general = general
        self.sized = sized
        self.sym_index = sym_index
        self.unwrap = unwrap

    def forward(self, *args: Any) -> Any:
        runnable = self.general
        if self.sized and self.sym_index is not None:
            runnable = self.sized.get(args[self.sym_index], runnable)
        out = runnable(*args)
        return out[0] if self.unwrap else out


def first_symbolic_index(args: Sequence[Any]) -> int | None:
    """Index of the first SymInt argument that is a bare symbol (``s0``, not ``2*s0``): the
    dynamic dimension pieces dispatch on (as vLLM); else the first SymInt argument."""
    symbolic = [i for i, arg in enumerate(args) if isinstance(arg, torch.SymInt)]
    for i in symbolic:
        if getattr(args[i].node.expr, "is_Symbol", False):
            return i
    return symbolic[0] if symbolic else None


def concrete_args(args: Sequence[Any], symbol: Any, size: int) -> list[Any] | None:
    """Fake inputs with ``symbol`` replaced by ``size``; ``None`` if other symbols remain."""
    from torch._subclasses.fake_tensor import FakeTensorMode

    expr = symbol.node.expr

    def concrete(value: Any) -> int | None:
        if isinstance(value, int):
            return value
        sub = value.node.expr.subs({expr: size})
        return int(sub) if not sub.free_symbols else None

    mode = FakeTensorMode()
    out: list[Any] = []
    with mode:
        for arg in args:
            if isinstance(arg, torch.SymInt):
                value = concrete(arg)
                if value is None:
                    return None
                out.append(value)
            elif isinstance(arg, torch.Tensor):
                shape = [concrete(d) for d in arg.shape]
                stride = [concrete(s) for s in arg.stride()]
                if None in shape or None in stride:
                    return None
                out.append(torch.empty_strided(cast(list[int], shape), cast(list[int], stride),
                                               dtype=arg.dtype, device=arg.device))
            else:
                out.append(arg)
    return out
