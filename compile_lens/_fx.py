"""Describe FX graphs as plain rows (shared by the embedded backend and the vLLM observers).

Pure reading of a ``GraphModule``: never mutates it. Output is JSON-able dicts matching
``model.GraphNode`` fields.
"""

from __future__ import annotations

import re
from typing import Any

_MODULE_KEY = re.compile(r"^L\['[^']*'\]\.?")


def _module_path(node: Any) -> str:
    stack = node.meta.get("nn_module_stack") or {}
    if not stack:
        return ""
    path = str(list(stack.values())[-1][0])
    path = _MODULE_KEY.sub("", path)
    return re.sub(r"\[(\d+)\]", r".\1", path).replace("._modules", "")


def _source_line(node: Any) -> str:
    trace = node.meta.get("stack_trace") or ""
    lines = [ln.strip() for ln in str(trace).strip().splitlines()]
    code = [ln for ln in lines if ln and set(ln) - set("^~ ")]
    return code[-1] if code else ""


def describe_value(value: Any) -> tuple[str | None, str | None, list[int]]:
    """``(shape, dtype, dynamic_dims)`` of a (fake) tensor or SymInt; ``(None, None, [])`` else."""
    shape = getattr(value, "shape", None)
    if shape is not None and hasattr(value, "dtype"):
        dims = [str(d) for d in shape]
        dynamic = [i for i, d in enumerate(shape) if not isinstance(d, int)]
        return "[" + ", ".join(dims) + "]", str(value.dtype).removeprefix("torch."), dynamic
    if type(value).__name__ == "SymInt":
        return str(value), "SymInt", [0]
    return None, None, []


def target_name(target: Any) -> str:
    """A readable, stable name for a node target (``aten.mm.default``, ``torch.relu`` …)."""
    if isinstance(target, str):
        return target
    packet_name = getattr(target, "_qualified_op_name", None)  # OpOverloadPacket: "ns::op"
    if isinstance(packet_name, str):
        return packet_name
    schema = getattr(target, "_schema", None)  # OpOverload: "ns::op" (+ ".overload")
    if schema is not None:
        overload = getattr(target, "_overloadname", "default")
        return schema.name + ("" if overload in ("default", "") else f".{overload}")
    name = getattr(target, "__name__", None)
    module = getattr(target, "__module__", None) or ""
    if name and (module.startswith("torch") or type(target).__name__ == "builtin_function_or_method"):
        owner = getattr(target, "__self__", None)
        if owner is not None and getattr(owner, "__name__", "") == "_VariableFunctionsClass":
            return f"torch.{name}"  # torch.sin is a method of torch._C._VariableFunctionsClass
        module = module.replace("torch._C._nn", "torch.nn.functional")
        return f"{module}.{name}" if module else str(name)
    qual = getattr(target, "__qualname__", None) or name
    module = module.removeprefix("_")  # _operator.getitem -> operator.getitem
    if qual:
        return f"{module}.{qual}" if module else str(qual)
    return str(target)


def describe_nodes(gm: Any, piece_of: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """One dict per node: name, op, target, shape, dtype, dynamic_dims, module_path, source.

    Also ``inputs`` (names of the nodes it reads) and, when ``piece_of`` maps node names to
    submodules, ``piece``; both land in ``GraphNode.extra`` (the views draw edges and clusters).
    """
    rows = []
    piece_of = piece_of or {}
    for node in gm.graph.nodes:
        value = node.meta.get("example_value", node.meta.get("val"))
        shape, dtype, dynamic = describe_value(value)
        rows.append({
            "name": node.name,
            "op": node.op,
            "target": "" if node.op in ("placeholder", "output") else target_name(node.target),
            "shape": shape,
            "dtype": dtype,
            "dynamic_dims": dynamic,
            "module_path": _module_path(node),
            "source": _source_line(node),
            "inputs": [arg.name for arg in node.all_input_nodes],
            **({"piece": piece_of[node.name]} if node.name in piece_of else {}),
        })
    return rows


def readable_code(gm: Any) -> str:
    """The graph's readable code with shapes, as Dynamo prints it for tlparse."""
    try:
        return str(gm.print_readable(print_output=False, include_stride=True, include_device=True))
    except Exception:  # older signatures / odd graphs: plain code is still useful
        return str(gm.code)
