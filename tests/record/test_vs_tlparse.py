"""compile_lens reads tlparse's own test logs (real runs by others) as tlparse 0.4.3 does.

For every log: the same compile ids, the same cache hit/miss/bypass sequence (the order tlparse
marks with ✅❌❓, which is also its rank-divergence signature) and the same failures, per rank for
multi-rank directories, and the same rank groups by cache sequence, collective ops and tensor
metadata. The expected figures were written by tlparse itself
(``tests/fixtures/torch_trace/make_expected.py``); with tlparse installed, it is run again here.
"""

from __future__ import annotations

import importlib.util
import shutil

import pytest

import compile_lens
from compile_lens.analysis.ranks import rank_record

from .conftest import LOGS


def _ours(record) -> dict:
    ids = sorted({g.compile_id for g in record.graphs if not g.compile_id.startswith("?")})
    process = record.processes[0].name if record.processes else ""
    failures = sorted([c.compile_id, c.note.split(":", 1)[0]] for c in record.compiles
                      if c.outcome == "failed")
    return {"compile_ids": ids,
            "cache_sequence": (record.run.extra.get("cache_sequence") or {}).get(process, ""),
            "failures": failures}


@pytest.mark.parametrize("case", ["cache_hit_miss.log.gz", "comp_failure.log",
                                  "autotune_with_compile_id.log.gz", "simple.log.gz",
                                  "simple_corrupted_json.log"])
def test_single_logs_match_tlparse(case, tlparse_expected):
    trace = compile_lens.load(LOGS / case)
    assert _ours(trace.record) == tlparse_expected[case]


@pytest.mark.parametrize("case", ["multi_rank_logs", "multi_rank_messy_input",
                                  "multi_rank_runtime"])
def test_multi_rank_dirs_match_tlparse_per_rank(case, tlparse_expected):
    trace = compile_lens.load(LOGS / case)
    want = tlparse_expected[case]
    for rank in map(int, want):
        assert _ours(rank_record(trace.record, rank)) == want[str(rank)], f"rank {rank}"


@pytest.mark.parametrize("case", ["multi_rank_logs", "multi_rank_messy_input",
                                  "multi_rank_runtime"])
def test_cache_divergence_groups_match_tlparse(case, tlparse_expected):
    """tlparse groups ranks by their cache sequence; so does ``Trace.divergence()``."""
    want = tlparse_expected[case]
    by_seq: dict[str, list[int]] = {}
    for rank, found in want.items():
        by_seq.setdefault(found["cache_sequence"], []).append(int(rank))
    tl_groups = sorted(tuple(sorted(r)) for r in by_seq.values()) if len(by_seq) > 1 else []
    div = compile_lens.load(LOGS / case).divergence()
    ours = [g.ranks for g in div.groups.get("cache hit/miss", [])
            if set(g.ranks) <= {int(r) for r in want}]
    assert sorted(ours) == tl_groups


@pytest.mark.skipif(shutil.which("tlparse") is None, reason="tlparse is not installed")
def test_committed_figures_are_what_tlparse_says_now(tlparse_expected):
    spec = importlib.util.spec_from_file_location("make_expected", LOGS / "make_expected.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.expected() == tlparse_expected


def test_lowering_read_from_cuda_output_code():
    """Older Inductor output code has ``call`` at module level (no runner class): still read."""
    autotune = compile_lens.load(LOGS / "autotune_with_compile_id.log.gz").record
    assert [(low.kind, low.name, low.ops) for low in autotune.lowerings] == [
        ("triton_kernel", "triton_poi_fused_mul_0", ["aten.mul"])]
    flex = compile_lens.load(LOGS / "cache_hit_miss.log.gz").record
    assert {low.kind for low in flex.lowerings} == {"triton_template"}


def test_compile_seconds_from_older_metrics():
    """torch before 2.6 logs the backend compile in microseconds (aot_autograd_cumulative_…)."""
    (compile_,) = compile_lens.load(LOGS / "simple.log.gz").record.compiles
    assert compile_.seconds == 1.30709


@pytest.mark.parametrize("case", ["multi_rank_logs", "multi_rank_messy_input",
                                  "multi_rank_runtime"])
def test_collective_and_tensor_meta_groups_match_tlparse(case, tlparse_expected):
    """Ranks whose collective ops (Inductor's schedule per graph) or tensor metadata (ops, shapes,
    estimated runtimes per graph) differ: tlparse's groups."""
    div = compile_lens.load(LOGS / case).divergence()
    ours = [list(g.ranks) for g in div.groups.get("collectives", [])]
    assert ours == tlparse_expected[f"{case} collective groups"]
    ours = [list(g.ranks) for g in div.groups.get("tensor metadata", [])]
    assert ours == tlparse_expected[f"{case} tensor meta groups"]
