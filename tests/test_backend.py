"""The embedded piecewise backend: splits, real Inductor per piece, dedup, warm starts."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
import torch

from compile_lens.backend.piecewise import PiecewiseBackend
from compile_lens.backend.split import split_graph
from compile_lens.model import DEDUPLICATED, LOADED

pytestmark = pytest.mark.inductor


def _dynamo_graph(fn, *args):
    """Capture the real Dynamo graph of ``fn`` with a backend that keeps it."""
    captured = []

    def keep(gm, example_inputs):
        captured.append(gm)
        return gm.forward

    torch._dynamo.reset()
    torch.compile(fn, backend=keep)(*args)
    return captured[0]


def test_outputs_match_eager_at_compiled_and_other_sizes(demo_traced):
    for n, out in demo_traced.outputs.items():
        torch.testing.assert_close(out, demo_traced.eager[n], rtol=1e-4, atol=1e-5,
                                   msg=f"mismatch at {n} tokens")


def test_split_at_attention_keeps_order_and_dedups_middle_layers(demo_traced):
    record = demo_traced.trace.record
    pieces = [p for p in record.pieces if p.graph_id == "g0"]
    assert [p.is_split_op for p in pieces] == [False, True] * 3 + [False]
    assert all("scaled_dot_product_attention" in (p.split_op or "") for p in pieces if p.is_split_op)
    assert [p.compiled_index for p in pieces if not p.is_split_op] == [0, 1, 2, 3]
    general = {c.submod: c for c in record.compiles if c.size == "general"}
    # Layers 1 and 2 between attentions are the same computation: one compile, one reuse.
    assert general["submod_4"].outcome == DEDUPLICATED
    assert general["submod_4"].dedup_of == "submod_2"
    assert general["submod_4"].standalone_key == general["submod_2"].standalone_key
    assert len({c.standalone_key for c in general.values()}) == 3


def test_every_piece_is_compiled_for_each_compile_size(demo_traced):
    sizes = {(c.submod, c.size) for c in demo_traced.trace.record.compiles}
    for submod in ("submod_0", "submod_2", "submod_4", "submod_6"):
        assert {(submod, "general"), (submod, "4")} <= sizes


def test_split_on_custom_op_by_name():
    lib = torch.library.Library("cl_test", "FRAGMENT")
    lib.define("attn(Tensor q) -> Tensor")
    lib.impl("attn", lambda q: q * 2, "CompositeExplicitAutograd")
    lib.impl("attn", torch.empty_like, "Meta")

    def fn(x):
        y = torch.ops.cl_test.attn(torch.sin(x))
        return torch.cos(y) + 1

    gm = _dynamo_graph(fn, torch.randn(4))
    _, items = split_graph(gm, ["cl_test::attn"])
    assert [(i.is_split_op, i.split_op) for i in items] == [
        (False, None), (True, "cl_test::attn"), (False, None)]


def test_a_second_process_loads_instead_of_compiling(demo_traced, tmp_path):
    """Warm start: same caches, new process → every piece is loaded from the artifact cache."""
    script = textwrap.dedent(f"""
        import os, json, torch, compile_lens
        from compile_lens import demo_model
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = {str(demo_traced.root / "inductor")!r}
        m = demo_model.build(layers=3)
        be = compile_lens.piecewise(compile_sizes=[4], cache_dir={str(demo_traced.root / "artifacts")!r})
        c = torch.compile(m, backend=be)
        with torch.no_grad(), compile_lens.trace(strict=True) as t:
            out = c(*demo_model.example_inputs(8))
        t.save({str(tmp_path / "warm.json")!r})
        torch.save(out, {str(tmp_path / "out.pt")!r})
    """)
    subprocess.run([sys.executable, "-c", script], check=True, env={**os.environ}, timeout=600)
    import compile_lens

    warm = compile_lens.load(tmp_path / "warm.json").record
    outcomes = {(c.submod, c.size): c.outcome for c in warm.compiles}
    assert set(outcomes.values()) <= {LOADED, DEDUPLICATED}
    assert sum(o == LOADED for o in outcomes.values()) == 6, outcomes
    cold_keys = {(c.submod, c.size): c.standalone_key for c in demo_traced.trace.record.compiles}
    assert {(c.submod, c.size): c.standalone_key for c in warm.compiles} == cold_keys
    torch.testing.assert_close(torch.load(tmp_path / "out.pt"), demo_traced.outputs[8])


def test_inductor_caches_disabled_compiles_and_notes_the_unsaved_artifact(tmp_path):
    """With ``force_disable_caches`` there is no artifact to save: the compile must go on."""
    from _runs import inductor_cache

    import compile_lens
    from compile_lens import demo_model

    model = demo_model.build(layers=1)
    backend = compile_lens.piecewise(cache_dir=str(tmp_path / "art"))
    ids, pos = demo_model.example_inputs(8)
    with inductor_cache(tmp_path / "inductor"), torch._inductor.config.patch(
            force_disable_caches=True), torch.no_grad(), compile_lens.trace(strict=True) as t:
        out = torch.compile(model, backend=backend)(ids, pos)
    torch.testing.assert_close(out, model(ids, pos), rtol=1e-4, atol=1e-5)
    compiled = [c for c in t.record.compiles if c.outcome == "compiled"]
    assert compiled and all("artifact not saved" in c.note for c in compiled)
    assert not list((tmp_path / "art").glob("*.bin"))


class _FailingBackend(PiecewiseBackend):
    """The embedded backend with a piece compile that raises (as a lowering error would)."""

    def _compile_artifact(self, gm, args, dynamic_shapes):
        msg = "lowering failed: no kernel for this op"
        raise RuntimeError(msg)


def test_a_failed_piece_compile_closes_its_scope_and_is_counted(tmp_path):
    """A raising piece compile emits ``piece_end(outcome=failed)``: the plain compile after it
    keeps its own key instead of being filed under the failed piece (issue 13)."""
    from _runs import inductor_cache

    import compile_lens
    from compile_lens.model import FAILED, WHOLE_GRAPH

    backend = _FailingBackend(splitting_ops=[torch.relu], use_artifact_cache=False)
    x = torch.randn(8)
    with inductor_cache(tmp_path / "inductor"), compile_lens.trace(strict=True) as t:
        with pytest.raises(Exception, match="lowering failed"):
            torch.compile(lambda v: torch.cos(torch.relu(torch.sin(v))), backend=backend)(x)
        out = torch.compile(lambda v: torch.tanh(v) * 3)(x)
    torch.testing.assert_close(out, torch.tanh(x) * 3)
    (failed,) = [c for c in t.record.compiles if c.submod != WHOLE_GRAPH]
    assert failed.outcome == FAILED and "lowering failed" in failed.note
    assert failed.standalone_key, "what was known before the failure is kept"
    (plain,) = [c for c in t.record.compiles if c.submod == WHOLE_GRAPH]
    assert plain.legacy_key and plain.graph_id != failed.graph_id
    summary = t.summary()
    assert summary.outcomes[FAILED] == 1 and "1 failed" in str(summary)
    assert list(t.pieces["outcome"]).count(FAILED) == 1, "the pieces table shows it too"
