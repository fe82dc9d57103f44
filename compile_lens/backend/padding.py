"""Shapes of a piece at a CUDA-graph capture size: where the dynamic size is, buffers, slicing.

Built once per piece at compile time from the fake inputs and outputs the split interpreter sees
(symbolic in the token/batch dimension, as vLLM's pieces are). At run time a call with ``n``
tokens is padded to the next capture size ``s``: tensor inputs are copied into static buffers of
their shape at ``s``, SymInt inputs become their value at ``s``, and outputs are sliced back to
their shape at ``n``. Everything symbolic must depend on one symbol; otherwise the piece is not
captured (``SizeSpec.reason`` says why).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

SYM, TENSOR, OTHER = "sym", "tensor", "other"


@dataclass(frozen=True)
class ValueSpec:
    """One input or output of a piece: its kind and, if symbolic, its size expressions."""

    kind: str
    shape: tuple[Any, ...] = ()
    stride: tuple[Any, ...] = ()
    expr: Any = None  # a SymInt's expression
    dynamic_dims: tuple[int, ...] = ()


@dataclass(frozen=True)
class SizeSpec:
    """How a piece's inputs and outputs depend on its dynamic size."""

    symbol: Any
    locate: tuple[int, int | None] | None  # (arg index, dim or None for a SymInt arg)
    args: tuple[ValueSpec, ...]
    outs: tuple[ValueSpec, ...]
    single_output: bool
    reason: str = ""

    @property
    def dynamic(self) -> bool:
        """Whether the piece has a dynamic size at all (else one static capture)."""
        return self.symbol is not None


def _expr(value: Any) -> Any:
    return value.node.expr if isinstance(value, torch.SymInt) else value


def _symbols(value: Any) -> set[Any]:
    expr = _expr(value)
    return set(getattr(expr, "free_symbols", ()) or ())


def _value_spec(value: Any) -> ValueSpec:
    if isinstance(value, torch.SymInt):
        return ValueSpec(kind=SYM, expr=_expr(value))
    if isinstance(value, torch.Tensor):
        shape = tuple(_expr(d) for d in value.shape)
        stride = tuple(_expr(s) for s in value.stride())
        dims = tuple(i for i, d in enumerate(value.shape) if _symbols(d))
        return ValueSpec(kind=TENSOR, shape=shape, stride=stride, dynamic_dims=dims)
    return ValueSpec(kind=OTHER)


def _locate(args: list[Any], symbol: Any) -> tuple[int, int | None] | None:
    """A SymInt argument equal to ``symbol``, else a tensor dimension equal to it."""
    for i, arg in enumerate(args):
        if isinstance(arg, torch.SymInt) and _expr(arg) == symbol:
            return (i, None)
    for i, arg in enumerate(args):
        if isinstance(arg, torch.Tensor):
            for d, size in enumerate(arg.shape):
                if isinstance(size, torch.SymInt) and _expr(size) == symbol:
                    return (i, d)
    return None


def build_spec(args: list[Any], output: Any) -> SizeSpec:
    """The ``SizeSpec`` of a piece called with fake ``args`` that returned fake ``output``."""
    single = not isinstance(output, tuple | list)
    outs = [output] if single else list(output)
    symbols: set[Any] = set()
    for value in [*args, *outs]:
        if isinstance(value, torch.Tensor):
            for d in (*value.shape, *value.stride()):
                symbols |= _symbols(d)
        else:
            symbols |= _symbols(value)
    arg_specs = tuple(_value_spec(a) for a in args)
    out_specs = tuple(_value_spec(o) for o in outs)
    if not symbols:
        return SizeSpec(None, None, arg_specs, out_specs, single)
    if len(symbols) > 1:
        names = ", ".join(sorted(str(s) for s in symbols))
        return SizeSpec(None, None, arg_specs, out_specs, single,
                        reason=f"shapes depend on several symbols ({names})")
    symbol = next(iter(symbols))
    locate = _locate(args, symbol)
    if locate is None:
        return SizeSpec(None, None, arg_specs, out_specs, single,
                        reason=f"no input carries the dynamic size {symbol} directly")
    return SizeSpec(symbol, locate, arg_specs, out_specs, single)


def evaluate(expr: Any, symbol: Any, size: int) -> int:
    """``expr`` (an int or a sympy expression in ``symbol``) at ``symbol = size``."""
    if isinstance(expr, int):
        return expr
    import sympy

    return int(expr.xreplace({symbol: sympy.Integer(size)}))


def shape_at(spec: ValueSpec, symbol: Any, size: int) -> tuple[list[int], list[int]]:
    """``(shape, stride)`` of a tensor input/output at ``size``."""
    return ([evaluate(d, symbol, size) for d in spec.shape],
            [evaluate(s, symbol, size) for s in spec.stride])


def narrow_to(tensor: torch.Tensor, spec: ValueSpec, symbol: Any, size: int) -> torch.Tensor:
    """A view of ``tensor`` (shaped at a capture size) cut to its shape at ``size``."""
    view = tensor
    for d in spec.dynamic_dims:
        view = view.narrow(d, 0, evaluate(spec.shape[d], symbol, size))
    return view
