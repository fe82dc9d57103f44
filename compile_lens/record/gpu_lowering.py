"""Recorder side of GPU lowering events: autotune picks and Triton kernel info as ``Lowering`` rows.

Stage 2 (record), called by ``recorder.TraceBuilder``. Two sources complement the output code
(``lowering.py``, which already names every Triton kernel, template, extern call and fallback):

* ``compile_lens_autotune`` (``instrument/autotune.py``): one ``kind="autotune"`` row per
  algorithm selection: ``name`` is the picked choice, ``ops`` the op, ``extra`` the ranked
  choices with their times (ms) and the input shapes;
* torch's ``artifact:triton_kernel_info`` (emitted when a compile's kernels are built): per
  kernel its autotune cache state, number of configs, the chosen config when known, and its
  compile time; attached to that kernel's row as ``extra["triton"]``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from compile_lens.model import Lowering

Where = tuple[str, str, str]
AUTOTUNE = "autotune"
_KERNEL_KINDS = ("triton_kernel", "triton_template")


def autotune_row(where: Where, body: dict[str, Any], compile_id: str) -> Lowering:
    """The ``Lowering`` row of one algorithm selection."""
    extra = {k: body[k] for k in ("choices", "input_shapes", "picked_ms", "num_choices",
                                  "failed", "precompile_s") if k in body}
    return Lowering(graph_id=where[0], submod=where[1], size=where[2], kind=AUTOTUNE,
                    name=str(body.get("picked") or "none ran"), ops=[str(body.get("op", ""))],
                    compile_id=compile_id, extra=extra)


def kernel_info(payload: Any) -> dict[str, dict[str, Any]]:
    """``{kernel name: info}`` from a ``triton_kernel_info`` payload (JSON object)."""
    if not isinstance(payload, dict):
        return {}
    return {str(k): dict(v) for k, v in payload.items() if isinstance(v, dict)}


def attach_kernel_info(lowerings: list[Lowering],
                       info: dict[Where, dict[str, dict[str, Any]]]) -> list[Lowering]:
    """``lowerings`` with each Triton kernel's info in ``extra["triton"]`` (when recorded)."""
    if not info:
        return lowerings
    out = []
    for low in lowerings:
        found = info.get((low.graph_id, low.submod, low.size), {}).get(low.name)
        keep = found is None or low.kind not in _KERNEL_KINDS
        out.append(low if keep else dataclasses.replace(low, extra={**low.extra, "triton": found}))
    return out
