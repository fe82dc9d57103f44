"""Multi-rank directories (tlparse's real per-rank logs): rows carry their rank, divergence is
found and named first in the summary and the report, and two ranks diff like two runs."""

from __future__ import annotations

import pytest

import compile_lens
from compile_lens.cli import main

from .conftest import LOGS

DIVERGED = LOGS / "multi_rank_logs"  # ranks 0 and 2 fail one graph; 1 and 3 compile many
ALIKE = LOGS / "multi_rank_messy_input"  # two identical ranks, plus an empty and an unrelated file


def test_rows_carry_their_rank():
    trace = compile_lens.load(DIVERGED)
    assert trace.ranks == [0, 1, 2, 3]
    rank_of = {p.name: p.rank for p in trace.record.processes}
    assert {rank_of[g.process] for g in trace.record.graphs} == {0, 1, 2, 3}
    assert all(c.graph_id.startswith(("rank0:", "rank1:", "rank2:", "rank3:"))
               for c in trace.record.compiles)
    assert len(trace.rank(3).record.graphs) == 7
    assert trace.rank(3).record.graphs[0].id == "g0", "one rank reads like a single-rank trace"


def test_divergence_groups_the_ranks_per_aspect():
    div = compile_lens.load(DIVERGED).divergence()
    assert div.diverged
    assert set(div.groups) == {"compile ids", "graphs", "cache hit/miss", "piece keys"}
    assert [g.ranks for g in div.groups["compile ids"]] == [(0, 2), (1,), (3,)]
    assert "20 hit, 10 miss" in str(div)


def test_ranks_that_compiled_alike_do_not_diverge():
    trace = compile_lens.load(ALIKE)
    assert trace.ranks == [0, 1]
    assert not trace.divergence().diverged


def test_one_rank_that_compiles_differently_is_named(tmp_path):
    """Two copies of one rank's real log, one with a different cache answer: that rank stands out."""
    import gzip

    log = gzip.decompress((ALIKE / "dedicated_log_torch_trace_rank_0.log.gz").read_bytes())
    (tmp_path / "dedicated_log_torch_trace_rank_0.log").write_bytes(log)
    odd = log.replace(b'{"artifact": {"name": "fx_graph_cache_miss"',
                      b'{"artifact": {"name": "fx_graph_cache_hit"', 1)
    assert odd != log
    (tmp_path / "dedicated_log_torch_trace_rank_1.log").write_bytes(odd)
    div = compile_lens.load(tmp_path).divergence()
    assert list(div.groups) == ["cache hit/miss"]
    assert [g.ranks for g in div.groups["cache hit/miss"]] == [(0,), (1,)]


def test_summary_and_report_show_divergence_first(tmp_path, capsys):
    assert main(["summary", str(DIVERGED)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ranks DIVERGE (4 ranks)")
    trace = compile_lens.load(DIVERGED)
    html = trace.to_html(tmp_path / "r.html")
    assert html.index(">Ranks<") < html.index(">Overview<")
    assert "ranks diverge" in html
    bundle = trace._repr_mimebundle_()
    assert bundle["text/html"].index("Ranks") < bundle["text/html"].index("Overview")
    assert bundle["text/plain"].splitlines()[1].startswith("ranks DIVERGE")


def test_diff_between_two_ranks(capsys):
    trace = compile_lens.load(DIVERGED)
    assert compile_lens.diff(trace.rank(0), trace.rank(2)).equal
    assert not compile_lens.diff(trace.rank(1), trace.rank(3)).equal
    assert main(["diff", str(DIVERGED), str(DIVERGED), "--rank-a", "0", "--rank-b", "2"]) == 0
    assert main(["diff", str(DIVERGED), str(DIVERGED), "--rank-a", "1", "--rank-b", "3"]) == 1
    capsys.readouterr()


def test_a_rank_not_in_the_trace_is_named():
    with pytest.raises(KeyError, match=r"rank 9 is not in this trace \(ranks: \[0, 1, 2, 3\]\)"):
        compile_lens.load(DIVERGED).rank(9)


TP2_H100 = LOGS / "tp2_h100"  # a real 2-GPU NCCL job: every rank compiles for its own GPU


def test_ranks_on_their_own_gpus_compile_alike():
    """Raw keys differ on every rank of a multi-GPU job (the device index is in the input lines);
    the ranks compiled the same thing, so they must not be reported as diverging."""
    trace = compile_lens.load(TP2_H100)
    assert trace.ranks == [0, 1]
    r0, r1 = (trace.rank(r).record for r in (0, 1))
    assert len(r0.compiles) == len(r1.compiles) == 6
    assert all(a.legacy_key != b.legacy_key for a, b in zip(r0.compiles, r1.compiles, strict=True))
    div = trace.divergence()
    assert not div.diverged, str(div)


def test_a_diff_of_two_gpus_names_the_device_index():
    diff = compile_lens.diff(compile_lens.load(TP2_H100).rank(0),
                             compile_lens.load(TP2_H100).rank(1))
    assert not diff.equal
    text = str(diff)
    assert text.count("only the device index differs") >= 1
    assert "dtype, shape, stride or device differs" not in text


def test_a_changed_shape_is_not_taken_for_a_device_index():
    from compile_lens.analysis.device_index import neutral_line, only_device_index_differs

    a = "TensorMetadata(shape=torch.Size([4, 256]), device=device(type='cuda', index=0))"
    assert only_device_index_differs(a, a.replace("index=0", "index=1"))
    assert not only_device_index_differs(a, a.replace("index=0", "index=1").replace("4,", "8,"))
    assert not only_device_index_differs(a, a)
    assert only_device_index_differs("'cuda:0'", "'cuda:3'")
    assert neutral_line("[abc123] example_inputs[0]: " + a) == neutral_line(
        "[zzz999] example_inputs[0]: " + a.replace("index=0", "index=1"))
