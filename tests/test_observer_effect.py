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
