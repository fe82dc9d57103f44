"""``_fx.describe_nodes`` made cheaper without changing a row (issue 12): symbolic sizes printed
once per size node, the stack trace read from its end. Rows compared with the plain per-value
description on a real Dynamo graph with dynamic sizes."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
import torch

from compile_lens import _fx


def _dynamo_graph() -> torch.fx.GraphModule:
    graphs: list[torch.fx.GraphModule] = []

    def backend(gm: torch.fx.GraphModule, example_inputs: Any) -> Any:
        graphs.append(gm)
        return gm.forward

    def fn(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        z = torch.cat([x, x], dim=0) @ y
        return torch.relu(z).reshape(-1, 2).sum(1)

    x, y = torch.randn(6, 4), torch.randn(4, 8)
    torch._dynamo.mark_dynamic(x, 0)
    torch._dynamo.mark_dynamic(y, 1)
    torch._dynamo.reset()
    torch.compile(fn, backend=backend, fullgraph=True)(x, y)
    return graphs[0]


def test_rows_are_those_of_the_plain_description():
    gm = _dynamo_graph()
    rows = _fx.describe_nodes(gm)
    plain = [_fx.describe_value(n.meta.get("example_value", n.meta.get("val")))
             for n in gm.graph.nodes]
    assert [(r["shape"], r["dtype"], r["dynamic_dims"]) for r in rows] == [
        (shape, dtype, dynamic) for shape, dtype, dynamic in plain]
    shapes = " ".join(str(r["shape"]) for r in rows)
    assert "2*s" in shapes and "s" in shapes, "symbolic sizes, derived ones too"


@pytest.mark.parametrize(("trace", "line"), [
    ('  File "m.py", line 3, in f\n    y = g(x)\n        ^^^^\n', "y = g(x)"),
    ('  File "m.py", line 3, in f\n    y = g(x)\n    ~~^~~\n  \n', "y = g(x)"),
    ("    a = 1\n    b = ~x\n", "b = ~x"),
    ("^^^\n~~~\n", ""),
    ("", ""),
    (None, ""),
])
def test_the_source_line_is_the_last_line_of_code(trace, line):
    assert _fx._source_line(SimpleNamespace(meta={"stack_trace": trace})) == line
