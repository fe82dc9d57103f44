"""What ``trace()`` records for a real piecewise compile and for a plain ``torch.compile``."""

from __future__ import annotations

import pytest
import torch

import compile_lens

pytestmark = pytest.mark.inductor


def test_graph_node_table_has_shapes_dynamic_dims_and_module_paths(demo_traced):
    t = demo_traced.trace
    (graph,) = [g for g in t.record.graphs if g.backend == "compile_lens.piecewise"]
    assert graph.compile_id == "0/0" and graph.name == "forward"
    nodes = t.nodes
    ids = nodes[nodes.name == "l_input_ids_"].iloc[0]
    assert ids["shape"].startswith("[s") and ids["dynamic_dims"] == [0]
    assert ids["dtype"] == "int64"
    assert any(p.startswith("layers.1.") for p in nodes.module_path)
    sdpa = nodes[nodes.target.str.contains("scaled_dot_product_attention")]
    assert len(sdpa) == 3
    assert "scaled_dot_product_attention" in graph.code
    # Every computing node knows its piece and its inputs (the graph views draw from these).
    by_name = {n.name: n for n in graph.nodes}
    sdpa_node = next(n for n in graph.nodes if "scaled_dot_product_attention" in n.target)
    assert sdpa_node.extra["piece"] == "submod_1"
    assert all(i in by_name for i in sdpa_node.extra["inputs"])
    assert {n.extra.get("piece") for n in graph.nodes if n.op == "call_function"} == {
        p.submod for p in demo_traced.trace.record.pieces}


def test_pieces_frame_has_keys_outcomes_and_seconds(demo_traced):
    frame = demo_traced.trace.pieces
    compiled = frame[~frame.is_split_op]
    assert set(compiled["size"]) == {"general", "4"}
    assert compiled.standalone_key.str.startswith("a").all()
    assert (compiled.seconds > 0).all()
    fresh = compiled[compiled.outcome == "compiled"]
    assert (fresh.legacy_key == fresh.standalone_key).all(), "keys agree on torch with the API"


def test_pass_timings_and_lowerings_per_piece(demo_traced):
    t = demo_traced.trace
    passes = t.passes
    compiled = {c.submod for c in t.record.compiles if c.outcome == "compiled"}
    assert set(passes.submod) == compiled, "only real compiles run passes"
    phases = set(passes.phase)
    assert {"pre_grad", "joint_graph", "post_grad", "codegen"} <= phases
    assert any(n.startswith("pass.post_grad_passes.") for n in passes.name)
    lowerings = t.lowerings
    assert {"cpp_kernel", "extern"} <= set(lowerings.kind)
    assert set(lowerings.submod) == compiled
    assert lowerings[lowerings.kind == "extern"].name.isin(["mm", "addmm", "bmm"]).any()


def test_run_metadata_factors_and_overhead(demo_traced):
    record = demo_traced.trace.record
    assert record.run.torch_version == torch.__version__
    assert record.run.features["standalone_key_api"] is True
    assert record.run.tracer_overhead_s > 0
    assert set(record.run.overhead_breakdown) >= {"event_capture", "parse"}
    assert record.run.wall_s > record.run.tracer_overhead_s
    assert record.factors is not None and record.factors.config, "factors are dumped"
    # Factor lines of every compiled key are stored once, by key.
    for c in record.compiles:
        if c.outcome == "compiled":
            assert len(record.key_lines[c.standalone_key]) > 100


def test_bytecode_is_decompiled(demo_traced):
    graph = demo_traced.trace.record.graphs[0]
    pytest.importorskip("depyf")
    assert graph.bytecode_source and "__compiled_fn" in graph.bytecode_source


def test_summary_headline_numbers(demo_traced):
    s = demo_traced.trace.summary()
    assert (s.graphs, s.pieces_total, s.pieces_unique, s.split_ops) == (1, 4, 3, 3)
    assert s.outcomes["compiled"] == 6 and s.outcomes["deduplicated"] == 2
    assert s.keys_matched == 6 and s.keys_mismatched == 0
    assert "4 compiled pieces, 3 unique" in str(s)


def test_saved_trace_round_trips(demo_traced, tmp_path):
    path = demo_traced.trace.save(tmp_path / "t.json")
    assert compile_lens.load(path).record == demo_traced.trace.record


def test_plain_torch_compile_is_one_piece_with_its_key(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path))
    torch._dynamo.reset()

    def fn(x, w):
        return torch.nn.functional.gelu(x @ w).sum(0)

    with compile_lens.trace(strict=True) as t:
        out = torch.compile(fn)(torch.randn(8, 16), torch.randn(16, 4))
    assert out.shape == (4,)
    (compile_,) = t.record.compiles
    assert compile_.submod == "<graph>" and compile_.outcome == "compiled"
    assert compile_.legacy_key and compile_.legacy_key.startswith("a")
    assert compile_.fx_keys and compile_.cache_state == "miss"
    assert len(t.record.key_lines[compile_.legacy_key]) > 100, "AOT factor lines are captured"
    assert "extern" in set(t.lowerings.kind)
    assert t.record.graphs[0].nodes[0].shape == "[8, 16]"


def test_cross_check_predicts_plain_torch_compile_keys(tmp_path, monkeypatch):
    """``compile_fx.autograd_cache_key`` predicts the real key of a default-Inductor compile."""
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path))
    torch._dynamo.reset()

    def fn(x, w):
        return torch.relu(x @ w) * 3

    with compile_lens.trace(strict=True, cross_check=True) as t:
        torch.compile(fn, options={"max_fusion_size": 8})(torch.randn(8, 16), torch.randn(16, 4))
    (compile_,) = t.record.compiles
    assert compile_.standalone_key and compile_.legacy_key
    assert compile_.key_match is True, t.cross_check()
