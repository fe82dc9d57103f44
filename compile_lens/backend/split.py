"""Split a Dynamo graph at splitting ops, keeping the original node order.

Each splitting op lands alone in its own submodule (it runs eagerly between compiled pieces);
``getitem`` nodes stay with their producer, as vLLM's ``split_graph`` does.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch.fx.passes.split_module import split_module

from compile_lens._fx import target_name


@dataclass(frozen=True)
class SplitItem:
    """One submodule of the split graph; ``nodes`` are the original graph's node names in it."""

    submod: str
    index: int
    is_split_op: bool
    split_op: str | None
    graph: torch.fx.GraphModule
    nodes: tuple[str, ...] = ()


def normalize_op_name(op: Any) -> str:
    """Accept ``"ns::op"``, ``"ns.op"``, an OpOverload(Packet) or a torch function; return a name."""
    if isinstance(op, str):
        return op.replace(".default", "")
    return target_name(op).replace(".default", "")


def _matches(node: torch.fx.Node, wanted: set[str], callables: set[int]) -> str | None:
    if node.op != "call_function":
        return None
    if id(node.target) in callables:
        return target_name(node.target)
    name = target_name(node.target)
    packet = getattr(node.target, "_overloadpacket", None)
    candidates = {name, name.replace(".default", "")}
    if packet is not None:
        candidates.add(target_name(packet))
    short = name.rsplit(".", 1)[-1]
    if any(c in wanted for c in candidates) or (short in wanted and "::" not in short):
        return name
    return None


def split_graph(
    gm: torch.fx.GraphModule, splitting_ops: Sequence[Any]
) -> tuple[torch.fx.GraphModule, list[SplitItem]]:
    """Split ``gm`` so every splitting op is its own submodule; returns ``(split_gm, items)``."""
    wanted = {normalize_op_name(op) for op in splitting_ops if isinstance(op, str)}
    callables = {id(op) for op in splitting_ops if not isinstance(op, str)}
    part: dict[torch.fx.Node, int] = {}
    split_names: dict[int, str] = {}
    current = 0
    for node in gm.graph.nodes:
        if node.op in ("placeholder", "output"):
            continue
        if node.op == "call_function" and node.target is operator.getitem:
            producer = node.args[0]
            part[node] = part.get(producer, current) if isinstance(producer, torch.fx.Node) else current
            continue
        op_name = _matches(node, wanted, callables)
        if op_name is not None:
            current += 1
            part[node] = current
            split_names[current] = op_name
            current += 1
        else:
            part[node] = current
    # root_m=None, as always: torch accepts it (attributes come from gm); typed as a Module.
    split_gm = split_module(gm, None, lambda n: part[n],  # pyright: ignore[reportArgumentType]
                            keep_original_order=True)
    members: dict[int, list[str]] = {}
    for node, number in part.items():
        members.setdefault(number, []).append(node.name)
    items = []
    for index, node in enumerate(n for n in split_gm.graph.nodes if n.op == "call_module"):
        number = int(str(node.target).rsplit("_", 1)[-1])
        items.append(SplitItem(
            submod=str(node.target), index=index, is_split_op=number in split_names,
            split_op=split_names.get(number), graph=getattr(split_gm, str(node.target)),
            nodes=tuple(members.get(number, ())),
        ))
    return split_gm, items


def returns_tuple(gm: torch.fx.GraphModule) -> bool:
    """Whether the graph already returns a tuple/list (the key API needs one)."""
    output = next(n for n in gm.graph.nodes if n.op == "output")
    return isinstance(output.args[0], tuple | list)


def as_tuple_returning(gm: torch.fx.GraphModule) -> torch.fx.GraphModule:
    """A copy of ``gm`` whose single output is wrapped in a 1-tuple."""
    import copy

    new = copy.deepcopy(gm)
    output = next(n for n in new.graph.nodes if n.op == "output")
    output.args = ((output.args[0],),)
    new.recompile()
    return new
