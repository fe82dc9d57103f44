"""Read Inductor's lowering choices from its output code (the ``inductor_output_code`` payload).

The generated module is the stable, zero-touch record of what Inductor chose (docs/design/torch-hooks.md §5):
kernel definitions (``async_compile.cpp_pybinding`` / ``async_compile.triton``), library calls
(``extern_kernels.mm``), and ATen ops left as-is (``torch.ops.aten.sort.stable``: fallbacks). Each
call site is preceded by ``# Topologically Sorted Source Nodes: [...], Original ATen: [...]``.
"""

from __future__ import annotations

import re
from typing import Any

_KERNEL_DEF = re.compile(r"^(?P<name>\w+) = async_compile\.(?P<kind>cpp_pybinding|cpp|triton)\(")
_SOURCE = re.compile(
    r"# Topologically Sorted Source Nodes: \[(?P<nodes>[^\]]*)\], Original ATen: \[(?P<ops>[^\]]*)\]")
_EXTERN = re.compile(r"\bextern_kernels\.(?P<name>\w+)\(")
_FALLBACK = re.compile(r"\b(?:torch\.ops\.)?aten\.(?P<name>\w+\.\w+)\(")
_CALL = re.compile(r"^\s+(?:\w+ = )?(?P<name>\w+)(?:\.run)?\(")


def _split(names: str) -> list[str]:
    return [n.strip() for n in names.split(",") if n.strip()]


def _kernel_kind(name: str, kind: str) -> str:
    if kind == "triton":
        return "triton_template" if name.startswith("triton_tem") else "triton_kernel"
    return "cpp_kernel"


def parse_output_code(code: str) -> list[dict[str, Any]]:
    """Lowering rows ``{kind, name, ops, nodes}`` in call order; kernels listed once each."""
    kernels: dict[str, str] = {}
    for line in code.splitlines():
        if m := _KERNEL_DEF.match(line):
            kernels[m["name"]] = _kernel_kind(m["name"], m["kind"])
    rows: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    pending: tuple[list[str], list[str]] = ([], [])
    in_call = False
    for line in code.splitlines():
        if re.match(r"^\s*def call\(", line):  # a method (torch >= 2.8) or top-level
            in_call = True
            continue
        if not in_call:
            continue
        if re.match(r"^\S", line):  # dedent: end of the call body
            break
        if m := _SOURCE.search(line):
            pending = (_split(m["nodes"]), _split(m["ops"]))
            continue
        row = _classify(line, kernels)
        if row is None:
            continue
        kind, name = row
        if (kind, name) in seen and kind in _KERNEL_KINDS:
            continue
        seen.add((kind, name))
        nodes, ops = pending
        if not ops and kind in _KERNEL_KINDS:
            ops = ops_from_kernel_name(name)
        rows.append({"kind": kind, "name": name, "nodes": nodes, "ops": ops})
        pending = ([], [])
    return rows


_KERNEL_KINDS = ("cpp_kernel", "triton_kernel", "triton_template")


def ops_from_kernel_name(name: str) -> list[str]:
    """Inductor names fused kernels after their ops (``cpp_fused_mul_silu_sum_0``)."""
    body = re.sub(r"^(cpp|triton)_(?:tem_|per_|red_|poi_)?(?:fused_)?", "", name)
    body = re.sub(r"_\d+$", "", body)
    return [part for part in body.split("_") if part and not part.isdigit()]


def _classify(line: str, kernels: dict[str, str]) -> tuple[str, str] | None:
    if m := _EXTERN.search(line):
        return "extern", m["name"]
    if m := _FALLBACK.search(line):
        return "fallback", "aten." + m["name"]
    if (m := _CALL.match(line)) and m["name"] in kernels:
        return kernels[m["name"]], m["name"]
    return None
