"""Describe FX graphs as plain rows (shared by the embedded backend and the vLLM observers).

Pure reading of a ``GraphModule``: never mutates it. Output is JSON-able dicts matching
``model.GraphNode`` fields. The one piece of state: the last Dynamo print of a graph that the
payload filter saw built (``remember_print``), which ``readable_code`` returns instead of printing
the same unchanged graph again; it lives only inside a ``trace()`` block.
"""

from __future__ import annotations

import re
import threading
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
    """The last line of the node's stack trace that is code (not a ``^~~~`` marker line)."""
    trace = node.meta.get("stack_trace") or ""
    for raw in reversed(str(trace).strip().splitlines()):
        line = raw.strip()
        if line.strip("^~ "):  # a character other than the markers: code
            return line
    return ""


def describe_value(value: Any, sym_names: dict[int, tuple[Any, str]] | None = None
                   ) -> tuple[str | None, str | None, list[int]]:
    """``(shape, dtype, dynamic_dims)`` of a (fake) tensor or SymInt; ``(None, None, [])`` else.

    ``sym_names``: printed symbolic sizes by ``id`` of their ``SymNode`` (with the node, so the
    id cannot be reused), shared by the calls of one pass over a graph (``describe_nodes``):
    the tensors of a graph share a handful of size nodes, and a sympy print costs ~10 us.
    """
    shape = getattr(value, "shape", None)
    if shape is not None and hasattr(value, "dtype"):
        if sym_names is None:
            dims = [str(d) for d in shape]
        else:
            dims = [str(d) if isinstance(d, int) else _sym_name(d, sym_names) for d in shape]
        dynamic = [i for i, d in enumerate(shape) if not isinstance(d, int)]
        return "[" + ", ".join(dims) + "]", str(value.dtype).removeprefix("torch."), dynamic
    if type(value).__name__ == "SymInt":
        return str(value), "SymInt", [0]
    return None, None, []


def _sym_name(dim: Any, names: dict[int, tuple[Any, str]]) -> str:
    """``str(dim)``, printed once per size node (kept in ``names``, so its id stays its own)."""
    node = getattr(dim, "node", None)
    if node is None:
        return str(dim)
    known = names.get(id(node))
    if known is None:
        known = names[id(node)] = (node, str(dim))
    return known[1]


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
    sym_names: dict[int, tuple[Any, str]] = {}
    for node in gm.graph.nodes:
        value = node.meta.get("example_value", node.meta.get("val"))
        shape, dtype, dynamic = describe_value(value, sym_names)
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
    """The graph's readable code with shapes, as Dynamo prints it for tlparse.

    Dynamo prints the graph it hands to the backend with the same arguments
    (``dynamo_output_graph``); when our payload filter saw that print built for our handler
    (``remember_print``) and the graph is in the state it was printed in, that string is the
    answer and the graph is not printed a second time (issue 12: 20-35 ms per cold compile of
    the demo model). Otherwise it is printed here.
    """
    printed = _reusable_print(gm)
    if printed is not None:
        PRINTS["reused"] += 1
        return printed
    PRINTS["printed"] += 1
    try:
        return str(gm.print_readable(print_output=False, include_stride=True, include_device=True))
    except Exception:  # older signatures / odd graphs: plain code is still useful
        return str(gm.code)


PRINTS = {"reused": 0, "printed": 0}
"""How often ``readable_code`` reused Dynamo's print and how often it printed (tests read it)."""
_LAST_PRINT: list[tuple[Any, list[Any], str]] = []
"""At most one ``(graph module, graph_state, text)``: the last Dynamo print ``remember_print``
was given (one slot: Dynamo calls the backend right after printing, on the same thread)."""
_PRINT_LOCK = threading.Lock()


def remember_print(gm: Any, text: str) -> None:
    """Keep ``text``, Dynamo's ``print_readable`` of ``gm`` just built, for ``readable_code``.

    Called by ``instrument/payloads.py`` right after torch built the ``dynamo_output_graph``
    payload for our handler; the graph's state is recorded with it, so a graph changed in
    between (Dynamo inlining single-use ``invoke_subgraph`` regions in place, a pass, a meta
    edit) is printed again instead.
    """
    state = graph_state(gm)
    with _PRINT_LOCK:
        _LAST_PRINT[:] = [(gm, state, text)]


def forget_prints() -> None:
    """Drop the remembered print (the payload filter's undo: nothing outlives the block)."""
    with _PRINT_LOCK:
        _LAST_PRINT.clear()


def _reusable_print(gm: Any) -> str | None:
    with _PRINT_LOCK:
        last = _LAST_PRINT[0] if _LAST_PRINT else None
    if last is None or last[0] is not gm:
        return None
    try:
        now = graph_state(gm)
    except Exception:  # an odd graph: print it
        return None
    before = last[1]
    if len(now) != len(before) or any(a is not b for a, b in zip(now, before, strict=True)):
        return None
    return last[2]


def graph_state(gm: Any) -> list[Any]:
    """Everything ``print_readable`` reads, as objects compared by identity.

    Per graph module (the root and, recursively, its graph-module children, which it prints
    too): its class, graph and code generator, its children by name; per node the node, op,
    target, name, type, ``args``/``kwargs`` tuples (FX replaces them on every edit) and every
    ``meta`` entry (shapes, stack traces, annotations); and the shape environment's
    replacements, through which symbolic sizes print. Equal lists print the same text.
    """
    state: list[Any] = []
    stack = [gm]
    while stack:
        module = stack.pop()
        graph = module.graph
        state.extend((type(module), graph, getattr(graph, "_codegen", None)))
        for name, child in module.named_children():
            state.extend((name, child))
            if hasattr(child, "graph") and hasattr(child, "print_readable"):
                stack.append(child)
        for node in graph.nodes:
            state.extend((node, node.op, node.target, node.name, node.type, node.args,
                          node.kwargs))
            for key, value in node.meta.items():
                state.extend((key, value))
    shape_env = _shape_env(gm)
    state.append(shape_env)
    if shape_env is not None:
        for key, value in getattr(shape_env, "replacements", {}).items():
            state.extend((key, value))
    return state


def _shape_env(gm: Any) -> Any:
    """The shape environment of the graph's fake values (``None`` for a static graph)."""
    for node in gm.graph.nodes:
        if node.op != "placeholder":
            break
        value = node.meta.get("example_value", node.meta.get("val"))
        fake_mode = getattr(value, "fake_mode", None)
        if fake_mode is not None:
            return getattr(fake_mode, "shape_env", None)
        if type(value).__name__ == "SymInt":
            return getattr(value.node, "shape_env", None)
    return None
