"""No observer effect: tracing changes no output, cache key, cache entry or hit/miss behaviour.

The same model is compiled cold twice in fresh caches, once inside ``trace()`` and once without.
"""

from __future__ import annotations

import pytest
import torch

pytestmark = pytest.mark.inductor


def test_outputs_are_bitwise_identical(demo_traced, demo_untraced):
    for n, out in demo_untraced.outputs.items():
        assert torch.equal(out, demo_traced.outputs[n]), f"traced output differs at {n} tokens"


def test_same_artifacts_under_the_same_keys(demo_traced, demo_untraced):
    assert demo_untraced.artifacts, "the untraced run stored artifacts"
    assert demo_traced.artifacts == demo_untraced.artifacts
    traced_keys = {c.standalone_key for c in demo_traced.trace.record.compiles}
    assert traced_keys <= set(demo_untraced.backend._by_key)
    assert set(demo_traced.backend._by_key) == set(demo_untraced.backend._by_key)


def _key_dirs(entries: list[str]) -> list[str]:
    """``aotautograd/<key>`` and ``fxgraph/<xx>/<key>``: the directories named by cache keys.

    The entry *files* inside are named by a hash of their content, which embeds the absolute
    cache path (different for the two runs), so only the key-named directories are compared.
    """
    out = set()
    for entry in entries:
        parts = entry.split("/")
        out.add("/".join(parts[:2] if parts[0] == "aotautograd" else parts[:3]))
    return sorted(out)


def test_same_inductor_and_aotautograd_cache_entries(demo_traced, demo_untraced):
    """The AOT and FX cache keys name the cache entries: equal listings mean equal keys."""
    untraced = _key_dirs(demo_untraced.inductor_entries)
    assert any(p.startswith("aotautograd/") for p in untraced)
    assert any(p.startswith("fxgraph/") for p in untraced)
    assert _key_dirs(demo_traced.inductor_entries) == untraced


def test_same_dedup_and_compile_decisions(demo_traced, demo_untraced):
    untraced = {key: submod for key, (_, submod) in demo_untraced.backend._by_key.items()}
    traced = {key: submod for key, (_, submod) in demo_traced.backend._by_key.items()}
    assert traced == untraced


def test_the_comparisons_ran_with_unread_records_skipped(demo_traced):
    """The traced run above had the payload filter on (issue 12): the equal outputs, keys, cache
    entries and decisions hold with torch not building the records the trace does not read."""
    record = demo_traced.trace.record
    assert record.run.options["payloads"] == "read"
    skipped = record.run.extra["payloads_not_built"]
    assert {"dynamo_cpp_guards_str", "artifact:fx_graph_runnable", "chromium_event"} <= set(skipped)


def test_a_traced_warm_start_hits_the_untraced_runs_caches(demo_untraced, tmp_path):
    """Cache hits with the payload filter on: a traced warm start over (a copy of) the untraced
    run's caches loads every piece and gives the same outputs."""
    import shutil

    import _runs

    root = tmp_path / "warm"
    shutil.copytree(demo_untraced.root, root)
    warm = _runs.run_demo_model(root, traced=True)
    summary = warm.trace.summary().outcomes
    assert summary["compiled"] == 0 and summary["loaded"] > 0, summary
    assert warm.trace.record.run.extra["payloads_not_built"]
    for n, out in demo_untraced.outputs.items():
        assert torch.equal(out, warm.outputs[n])
