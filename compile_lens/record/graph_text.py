"""Parse Dynamo's readable graph (the ``dynamo_output_graph`` payload) into node rows.

Used for graphs compiled by backends that describe nothing themselves (plain ``torch.compile``):
the text carries each node's name, dtype, shape and device (``"f32[s0, 64][64, 1]cpu"``) and the
``# File: …, code: …`` line it came from.
"""

from __future__ import annotations

import re
from typing import Any

_DTYPES = {
    "f32": "float32", "f16": "float16", "bf16": "bfloat16", "f64": "float64", "i64": "int64",
    "i32": "int32", "i16": "int16", "i8": "int8", "u8": "uint8", "b8": "bool",
}
_TENSOR = re.compile(r'"(?P<dt>[a-z0-9]+)\[(?P<shape>[^\]]*)\](?:\[[^\]]*\])?(?P<dev>[a-z]*[:0-9]*)"')
_SYM = re.compile(r'"Sym\((?P<expr>[^)]*)\)"')
_ASSIGN = re.compile(r"^\s+(?P<name>\w+): (?P<ann>\"[^\"]*\"|[^=]+?) = (?P<rhs>.+?)(?:;.*)?$")
_PARAM = re.compile(r"(?P<name>\w+): (?P<ann>\"[^\"]*\")")
_FILE = re.compile(r"^\s+# File: (?P<where>.+?)(?:, code: (?P<code>.*))?$")


def _describe(annotation: str) -> tuple[str | None, str | None, list[int]]:
    if m := _TENSOR.search(annotation):
        dims = [d.strip() for d in m["shape"].split(",") if d.strip()]
        dynamic = [i for i, d in enumerate(dims) if not d.isdigit()]
        return "[" + ", ".join(dims) + "]", _DTYPES.get(m["dt"], m["dt"]), dynamic
    if m := _SYM.search(annotation):
        return m["expr"], "SymInt", [0]
    return None, None, []


def _target(rhs: str) -> str:
    rhs = rhs.strip()
    call = re.match(r"^([\w.]+)\(", rhs)
    if call:
        return call.group(1).replace("torch._C._nn.", "torch.nn.functional.")
    method = re.match(r"^\w+\.(\w+)\(", rhs)
    if method:
        return "method " + method.group(1)
    return rhs[:60]


def parse_readable_graph(text: str) -> list[dict[str, Any]]:
    """Node rows (GraphNode fields) from Dynamo's readable graph text; best effort, never raises."""
    rows: list[dict[str, Any]] = []
    source = ""
    for line in text.splitlines():
        if line.lstrip().startswith("def forward("):
            for m in _PARAM.finditer(line):
                shape, dtype, dyn = _describe(m["ann"])
                rows.append({"name": m["name"], "op": "placeholder", "target": "",
                             "shape": shape, "dtype": dtype, "dynamic_dims": dyn,
                             "module_path": "", "source": ""})
            continue
        if m := _FILE.match(line):
            source = (m["code"] or m["where"]).strip()
            continue
        if m := _ASSIGN.match(line):
            if m["rhs"].strip().startswith(("L_", "l_")) and "(" not in m["rhs"]:
                continue  # "l_x_ = L_x_" aliases of inputs
            shape, dtype, dyn = _describe(m["ann"])
            rows.append({"name": m["name"], "op": "call_function", "target": _target(m["rhs"]),
                         "shape": shape, "dtype": dtype, "dynamic_dims": dyn,
                         "module_path": "", "source": source})
        elif line.strip().startswith("return "):
            rows.append({"name": "output", "op": "output", "target": "", "shape": None,
                         "dtype": None, "dynamic_dims": [], "module_path": "", "source": ""})
    return rows
