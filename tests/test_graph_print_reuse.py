"""Dynamo's graph is printed once (issue 12): the print torch builds for our handler
(``dynamo_output_graph``) is the code of the embedded backend's graph event too.

``instrument/payloads.py`` keeps the print it saw built, with the graph's state
(``_fx.remember_print``); ``_fx.readable_code`` returns it for that graph while the graph is
unchanged, and prints otherwise: another listener, ``payloads="all"``, a graph not from Dynamo,
a graph changed after Dynamo printed it (torch's own in-place inlining of single-use
``invoke_subgraph`` regions, a backend's edit). Real ``torch.compile``: custom backends that
call ``readable_code`` as the embedded backend does (fast), and one real piecewise compile.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from _runs import inductor_cache
from test_payloads import Collect

import compile_lens
from compile_lens import _fx
from compile_lens.record import recorder

PRINT_ARGS = {"print_output": False, "include_stride": True, "include_device": True}


def _f(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.relu(x @ y).sum(0) + 1


def _inputs() -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.randn(8, 4)
    torch._dynamo.mark_dynamic(x, 0)  # symbolic sizes print through the shape environment
    return x, torch.randn(4, 3)


class Backend:
    """A backend that asks ``readable_code`` for its graph, after an optional edit of it."""

    def __init__(self, edit: Callable[[torch.fx.GraphModule], None] | None = None) -> None:
        self.edit = edit
        self.code = ""
        self.gm: Any = None

    def __call__(self, gm: torch.fx.GraphModule, example_inputs: Any) -> Any:
        if self.edit is not None:
            self.edit(gm)
        self.gm, self.code = gm, _fx.readable_code(gm)
        return gm.forward


def _compile(fn: Callable[..., Any], backend: Backend, *args: Any, **trace_kw: Any
             ) -> tuple[compile_lens.Trace, dict[str, int]]:
    """Compile ``fn`` under ``trace()``; return the trace and ``readable_code``'s counts."""
    torch._dynamo.reset()
    before = dict(_fx.PRINTS)
    with compile_lens.trace(strict=True, factors=False, bytecode=False, **trace_kw) as t:
        torch.compile(fn, backend=backend, fullgraph=True)(*args)
    assert _fx._LAST_PRINT == [], "nothing outlives the block"
    return t, {k: _fx.PRINTS[k] - before[k] for k in before}


def _fresh(gm: torch.fx.GraphModule) -> str:
    return str(gm.print_readable(**PRINT_ARGS))


def test_the_backend_gets_the_print_dynamo_made():
    backend = Backend()
    t, counts = _compile(_f, backend, *_inputs())
    assert counts == {"reused": 1, "printed": 0}
    assert backend.code == _fresh(backend.gm), "the same text a print now gives"
    assert "Sym(s" in backend.code and "[4, 1]cpu" in backend.code, "shapes, strides, device"
    assert t.record.graphs[0].code == backend.code, "the text of Dynamo's record"


def _add_node(gm: torch.fx.GraphModule) -> None:
    tensor = next(n for n in gm.graph.nodes if n.op == "placeholder" and "x" in n.name)
    with gm.graph.inserting_before(gm.graph.output_node()):
        gm.graph.call_function(torch.neg, (tensor,))


def _edit_meta(gm: torch.fx.GraphModule) -> None:
    node = next(n for n in gm.graph.nodes if n.op == "call_function")
    node.meta["stack_trace"] = '  File "edited.py", line 7, in edited\n    edited_line()\n'


@pytest.mark.parametrize("edit", [_add_node, _edit_meta], ids=["node added", "meta edited"])
def test_a_graph_edited_after_dynamo_printed_it_is_printed_again(edit):
    backend = Backend(edit)
    t, counts = _compile(_f, backend, *_inputs())
    assert counts == {"reused": 0, "printed": 1}
    assert backend.code == _fresh(backend.gm)
    assert backend.code != t.record.graphs[0].code, "Dynamo printed the graph before the edit"


def test_torchs_in_place_inlining_is_printed_again():
    """Dynamo prints the graph, then inlines a single-use ``nested_compile_region`` in place
    (``inline_single_use_invoke_subgraph``) before calling the backend: same module, new nodes."""

    @torch.compiler.nested_compile_region
    def region(x: torch.Tensor) -> torch.Tensor:
        return torch.sin(x) * 2

    def fn(x: torch.Tensor) -> torch.Tensor:
        return region(x) + 1

    backend = Backend()
    t, counts = _compile(fn, backend, torch.randn(8))
    assert backend.code == _fresh(backend.gm)
    dynamo_print = t.record.graphs[0].code
    assert "invoke_subgraph" in dynamo_print
    if backend.code == dynamo_print:  # a torch that does not inline: reused, rightly
        assert counts == {"reused": 1, "printed": 0}
    else:
        assert counts == {"reused": 0, "printed": 1}


def test_another_listener_or_payloads_all_print_themselves():
    user = Collect()
    logger = logging.getLogger("torch.__trace")
    logger.addHandler(user)
    try:
        backend = Backend()
        _, counts = _compile(_f, backend, *_inputs())
    finally:
        logger.removeHandler(user)
    assert counts == {"reused": 0, "printed": 1}, "the listener's records pass untouched"
    assert user.payloads("dynamo_output_graph") == [backend.code]
    backend = Backend()
    _, counts = _compile(_f, backend, *_inputs(), payloads="all")
    assert counts == {"reused": 0, "printed": 1}
    assert backend.code == _fresh(backend.gm)


def test_a_graph_not_from_dynamo_is_printed():
    gm = torch.fx.symbolic_trace(torch.nn.Linear(4, 4))
    before = dict(_fx.PRINTS)
    with compile_lens.trace(strict=True, factors=False, bytecode=False):
        code = _fx.readable_code(gm)
    assert _fx.PRINTS["printed"] == before["printed"] + 1
    assert _fx.PRINTS["reused"] == before["reused"]
    assert code == _fresh(gm)


def _attention(q: torch.Tensor) -> torch.Tensor:
    """Two identical pieces between three attention calls: the second is deduplicated."""
    a = torch.nn.functional.scaled_dot_product_attention(q, q, q)
    h = torch.relu(a) * 2
    b = torch.nn.functional.scaled_dot_product_attention(h, h, h)
    h = torch.relu(b) * 2
    return torch.nn.functional.scaled_dot_product_attention(h, h, h)


@pytest.mark.inductor
def test_the_piecewise_graph_event_reuses_the_print_and_shows_the_same(tmp_path: Path,
                                                                      monkeypatch):
    """The embedded backend's graph (code and node table) with the print reused, and with
    ``payloads="all"`` (printed by the backend, as before): the same. Dynamo's print is not
    parsed into a node table the backend's event replaces, and each key's factor lines go out
    once per block, however many pieces and key kinds share the key."""
    parsed: list[str] = []
    parse = recorder.graph_text.parse_readable_graph
    monkeypatch.setattr(recorder.graph_text, "parse_readable_graph",
                        lambda text: parsed.append(text) or parse(text))
    q = torch.randn(1, 2, 8, 16)
    torch._dynamo.mark_dynamic(q, 2)
    graphs, counts, records = {}, {}, {}
    with inductor_cache(tmp_path / "inductor"):
        for mode in ("read", "all"):  # the second run loads the first one's artifacts
            backend = compile_lens.piecewise(cache_dir=str(tmp_path / "artifacts"))
            torch._dynamo.reset()
            before = dict(_fx.PRINTS)
            with compile_lens.trace(strict=True, factors=False, bytecode=False,
                                    payloads=mode) as t:
                torch.compile(_attention, backend=backend)(q)
            counts[mode] = {k: _fx.PRINTS[k] - before[k] for k in before}
            (g,) = t.record.graphs
            graphs[mode] = (g.backend, g.code, [(n.name, n.op, n.target, n.shape, n.extra)
                                                for n in g.nodes], g.split_ops)
            records[mode] = t.record
    assert counts == {"read": {"reused": 1, "printed": 0}, "all": {"reused": 0, "printed": 1}}
    assert graphs["read"][0] == "compile_lens.piecewise" and "scaled_dot_product" in graphs["read"][1]
    assert graphs["read"] == graphs["all"]
    assert parsed == [], "the backend's node table is the one kept: Dynamo's print is not parsed"

    cold = records["read"]
    outcomes = [c.outcome for c in cold.compiles]
    assert outcomes.count("deduplicated") >= 1, outcomes
    keys = {k for c in cold.compiles for k in (c.standalone_key, c.legacy_key) if k}
    reports = sum(1 for c in cold.compiles for k in (c.standalone_key, c.legacy_key) if k)
    sent = cold.run.extra["parser"]["handled"]["artifact:compile_lens_key_lines"]
    assert sent == len(keys) < reports, "each key's lines once, not once per piece and kind"
    assert all(cold.key_lines.get(k) for k in keys), "and every key's lines are there"
