"""``trace(cross_check=True)``: both keys for every piece, compared; mismatches are explained."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from _runs import inductor_cache

import compile_lens
from compile_lens import demo_model
from compile_lens.backend.piecewise import PiecewiseBackend

pytestmark = pytest.mark.inductor


def _traced_compile(backend: PiecewiseBackend, layers: int, inductor_dir: str,
                    **trace_kw: Any) -> compile_lens.Trace:
    with inductor_cache(inductor_dir):
        compiled = torch.compile(demo_model.build(layers=layers), backend=backend)
        with torch.no_grad(), compile_lens.trace(strict=True, **trace_kw) as t:
            compiled(*demo_model.example_inputs(8))
    return t


def test_cross_check_compiles_every_piece_and_keys_agree(demo_traced, tmp_path):
    """Over the demo's warm Inductor cache: no dedup skipping, both keys for all 8 compiles."""
    backend = compile_lens.piecewise(compile_sizes=[4], cache_dir=str(tmp_path / "art"))
    t = _traced_compile(backend, 3, str(demo_traced.root / "inductor"), cross_check=True)
    compiles = t.record.compiles
    assert len(compiles) == 8
    assert all(c.outcome in ("compiled", "cache_hit") for c in compiles), "nothing skipped"
    check = t.cross_check()
    assert [c.status for c in check.checks] == ["match"] * 8, str(check)
    assert not check.wrong_dedups
    middle = [g for g in check.dedup_groups.values() if len(g) == 2]
    assert len(middle) == 2, "layers 1 and 2 share a key at both sizes"


class _DriftingBackend(PiecewiseBackend):
    """Compiles under a different Inductor config than the one its key was computed under.

    This is the bug class the cross-check exists for: a factor that changes between computing
    the up-front key and the real compile.
    """

    def _compile_artifact(self, gm: Any, args: list[Any], dynamic_shapes: str) -> Any:
        with torch._inductor.config.patch(max_fusion_size=7):
            return super()._compile_artifact(gm, args, dynamic_shapes)


def test_a_factor_changed_between_key_and_compile_is_explained(tmp_path):
    backend = _DriftingBackend(compile_sizes=[], cache_dir=str(tmp_path / "art"))
    t = _traced_compile(backend, 1, str(tmp_path / "inductor"), cross_check=True)
    check = t.cross_check()
    assert len(check.mismatches) == 2, str(check)
    for mismatch in check.mismatches:
        names = [change.name for change in mismatch.changes]
        assert "inductor_config[max_fusion_size]" in names
        change = next(c for c in mismatch.changes if c.name == "inductor_config[max_fusion_size]")
        assert (change.old, change.new) == ("7", "64"), "legacy saw 7, the standalone key 64"
    assert "MISMATCH" in str(check) and "max_fusion_size" in str(check)
    assert t.summary().keys_mismatched == 2
