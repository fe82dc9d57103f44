"""Skipping unread records loses nothing a view shows, and a second listener still gets all of
Inductor's records (issue 12). Two real Inductor compiles of a small function with a graph break,
in fresh caches: compile_lens alone (records skipped), then with a user's handler attached
(nothing skipped, the same as ``payloads="all"``)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch
from _runs import inductor_cache
from test_payloads import Collect

import compile_lens

pytestmark = pytest.mark.inductor


def _fn(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    y = torch.relu(x @ w) * 2
    torch._dynamo.graph_break()
    return torch.softmax(y, dim=-1) + 1


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    out: dict[str, object] = {}
    x, w = torch.randn(8, 16), torch.randn(16, 16)
    for name in ("alone", "with_user"):
        user = Collect()
        logger = logging.getLogger("torch.__trace")
        root = Path(tmp_path_factory.mktemp(name))
        with inductor_cache(root):
            if name == "with_user":
                logger.addHandler(user)
            try:
                with compile_lens.trace(strict=True, factors=False, bytecode=False) as t:
                    torch.compile(_fn)(x, w)
            finally:
                logger.removeHandler(user)
        out[name], out[f"{name}_user"] = t, user
    return out


def _view_data(t: compile_lens.Trace) -> dict[str, object]:
    """What the views show of a plain torch.compile trace, less the timings."""
    r = t.record
    return {
        "graphs": [(g.compile_id, g.name, g.code, [(n.name, n.op, n.target, n.extra)
                                                     for n in g.nodes]) for g in r.graphs],
        "pieces": [(p.graph_id, p.submod, p.num_nodes, p.code) for p in r.pieces],
        "compiles": [(c.graph_id, c.outcome, c.legacy_key, c.fx_keys, c.cache_state)
                     for c in r.compiles],
        "lowerings": [(lo.graph_id, lo.kind, lo.name, lo.ops, lo.nodes) for lo in r.lowerings],
        # kernel builds are left out: the second compile of the same kernels in one process
        # finds them already built (no ``compile_file`` interval), whatever is traced
        "passes": sorted((p.graph_id, p.name, p.phase, p.count) for p in r.passes
                         if p.phase != "kernel_compile"),
        "spans": [(s.name, s.category) for s in r.spans],
        "key_lines": r.key_lines,
        "frames": [(f.compile_id, f.name, f.graph_breaks, f.recompile_reasons) for f in
                   r.frame_compiles],
        "decisions": [(d.layer, d.state, d.key, d.reason, d.graph_id) for d in r.cache_decisions],
        "unknown": r.run.extra["parser"]["unknown"],
    }


def test_the_views_read_the_same_with_records_skipped(runs):
    alone, with_user = runs["alone"], runs["with_user"]
    assert alone.record.run.extra["payloads_not_built"], "the filter was on"
    assert with_user.record.run.extra["payloads_not_built"] == {}, "and off with a listener"
    shown = _view_data(alone)
    assert shown["lowerings"] and shown["passes"] and shown["key_lines"], "the checks are real"
    assert all(c[2] for c in shown["compiles"]), "the AOT keys are read"
    assert shown == _view_data(with_user)


def test_the_user_handler_gets_every_inductor_record(runs):
    user = runs["with_user_user"]
    for name in ("artifact:fx_graph_runnable", "artifact:before_post_grad_graph",
                 "aot_inference_graph", "dynamo_cpp_guards_str", "inductor_output_code"):
        payloads = user.payloads(name)
        assert len(payloads) == 2 and all(payloads), f"{name}: one per graph, each built"
    instants = [p for p in user.payloads("chromium_event") if p and "fx_graph_cache_miss" in p]
    assert instants and all('"components"' in p for p in instants)
    skipped = runs["alone"].record.run.extra["payloads_not_built"]
    assert {"artifact:fx_graph_runnable", "aot_inference_graph", "chromium_event"} <= set(skipped)
