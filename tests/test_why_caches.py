"""Why did a cache layer say no? AOTAutograd and FX graph cache bypasses, for real (Inductor).

Two small functions are compiled in fresh Inductor caches inside one ``trace()``: one calls a
user function kept in the graph with ``allow_in_graph`` (the AOTAutograd cache refuses a graph
with a call it cannot hash), one is compiled with a plain-function post-grad custom pass (the FX
graph cache refuses it, and so does the AOTAutograd cache, which checks the same thing). Each
ledger row's cache answers are checked against torch's own ``aotautograd_cache_*`` and
``fx_graph_cache_*`` records (kept raw by ``_why.TorchRecords``) and torch's counters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import torch
from _runs import inductor_cache
from _why import TorchRecords, counter_deltas, counter_snapshot, torch_records

import compile_lens
from compile_lens.analysis.ledger import BYPASS, LedgerRow, ledger
from compile_lens.analysis.why import why

pytestmark = pytest.mark.inductor


def kept_in_graph(x: torch.Tensor) -> torch.Tensor:
    return x.sin() * 2


def aot_bypass_fn(x: torch.Tensor) -> torch.Tensor:
    return kept_in_graph(x) + 1


def fx_bypass_fn(x: torch.Tensor) -> torch.Tensor:
    return x.cos() + 3


def plain_function_pass(graph: Any) -> None:
    """A post-grad pass that is a plain function, not a ``CustomGraphPass`` (no cache uuid)."""


@dataclass
class CacheRun:
    trace: Any
    torch: TorchRecords
    counters: dict[str, dict[str, int]]

    def row(self, name: str) -> LedgerRow:
        frame = next(r for r in ledger(self.trace.record) if r.kind == "frame" and r.name == name)
        return next(r for r in ledger(self.trace.record)
                    if r.kind == "piece" and r.compile_id == frame.compile_id)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> CacheRun:
    torch._dynamo.allow_in_graph(kept_in_graph)
    before = counter_snapshot()
    with inductor_cache(tmp_path_factory.mktemp("why_caches")), torch_records() as records, \
            compile_lens.trace(strict=True, progress=False) as t:
        torch.compile(aot_bypass_fn)(torch.randn(8))
        with torch._inductor.config.patch(post_grad_custom_post_pass=plain_function_pass):
            torch.compile(fx_bypass_fn)(torch.randn(8))
    return CacheRun(t, records, counter_deltas(before))


def _answers(row: LedgerRow, layer: str) -> list[tuple[str, str | None, str]]:
    return [(d.answer, d.key, d.reason) for d in row.decisions if d.layer == layer]


def test_aotautograd_cache_bypass_with_torch_reason(run: CacheRun) -> None:
    row = run.row("aot_bypass_fn")
    torch_says = run.torch.json_artifacts("aotautograd_cache_bypass")[0]
    assert row.cause == BYPASS
    assert _answers(row, "aotautograd") == [("bypass", None, torch_says["cache_bypass_reason"])]
    assert "kept_in_graph" in torch_says["cache_bypass_reason"]
    (miss,) = run.torch.json_artifacts("fx_graph_cache_miss")
    assert _answers(row, "fx_graph") == [("miss", miss["key"], "")]


def test_fx_graph_cache_bypass_with_torch_reason(run: CacheRun) -> None:
    row = run.row("fx_bypass_fn")
    (torch_says,) = run.torch.json_artifacts("fx_graph_cache_bypass")
    assert _answers(row, "fx_graph") == [("bypass", None, torch_says["cache_bypass_reason"])]
    aot = run.torch.json_artifacts("aotautograd_cache_bypass")[1]
    assert _answers(row, "aotautograd") == [("bypass", None, aot["cache_bypass_reason"])]


def test_bypass_counts_match_torch_counters(run: CacheRun) -> None:
    decisions = [d for r in ledger(run.trace.record) for d in r.decisions]
    aot = sum(d.layer == "aotautograd" and d.answer == "bypass" for d in decisions)
    fx = sum(d.layer == "fx_graph" and d.answer == "bypass" for d in decisions)
    assert aot == run.counters["aot_autograd"]["autograd_cache_bypass"] == 2
    assert fx == run.counters["inductor"]["fxgraph_cache_bypass"] == 1


def test_why_block_names_each_bypass_once_per_reason(run: CacheRun) -> None:
    items = [i for i in why(run.trace.record) if i.cause == BYPASS]
    reasons = {d["cache_bypass_reason"].split("\n")[0].strip()
               for name in ("aotautograd_cache_bypass", "fx_graph_cache_bypass")
               for d in run.torch.json_artifacts(name)}
    assert {i.text.split(": ", 1)[1] for i in items} == reasons
    assert all(not i.hint for i in items), "torch names no remedy for a bypass"
