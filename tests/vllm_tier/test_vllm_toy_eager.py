"""vLLM's real VllmBackend on a toy model (backend="eager", fast): the trace agrees with vLLM.

The toy (``toy_model.py``, 4 layers) is split by vLLM at ``cltoy::attention`` into 9 pieces, 5 of
them compiled. The trace's graphs, pieces, split ops and compiles are checked against vLLM's own
``compilation_counter`` and ``computation_graph.py``; and a run without the trace gives the same
outputs, counters, cache directory and ``cache_key_factors.json``.
"""

from __future__ import annotations

import re

import pytest
import raw_events
from vllm_runs import VLLM, Run, factor_files, run_script

pytestmark = VLLM


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Run, Run]:
    base = tmp_path_factory.mktemp("eager")
    plain = run_script("_toy_run.py", base / "plain", base / "cache_plain", "--backend", "eager")
    traced = run_script("_toy_run.py", base / "traced", base / "cache_traced", "--backend",
                        "eager", "--trace")
    return plain, traced


def _graph_file(run: Run) -> str:
    (path,) = run.cache_root.rglob("computation_graph.py")
    return path.read_text()


def test_pieces_and_split_ops_agree_with_vllm(runs: tuple[Run, Run]) -> None:
    _, traced = runs
    record, counters = traced.trace.record, traced.result["counters"]
    (graph,) = record.graphs
    assert graph.prefix == "backbone"
    assert graph.backend == "vllm (eager)"
    assert graph.split_ops == ["cltoy::attention"]
    assert graph.compile_id == "0/0", "the vLLM graph joins Dynamo's graph of the same compile"
    assert len(record.pieces) == counters["num_piecewise_graphs_seen"] == 9
    compiled = [p for p in record.pieces if not p.is_split_op]
    assert len(compiled) == counters["num_piecewise_capturable_graphs_seen"] == 5
    assert [p.compiled_index for p in compiled] == list(range(5))
    assert {p.split_op for p in record.pieces if p.is_split_op} == {"cltoy::attention"}
    assert len(record.compiles) == counters["num_backend_compilations"] == 5
    assert counters["num_eager_compiles"] == 5
    assert [c.submod for c in record.compiles] == [p.submod for p in compiled]
    assert {(c.outcome, c.size) for c in record.compiles} == {("compiled", "(1, 2048)")}
    assert all(c.legacy_key is None and c.standalone_key is None for c in record.compiles), (
        "the eager adaptor computes no AOTAutograd key, and none is invented")


def test_pieces_match_computation_graph_py(runs: tuple[Run, Run]) -> None:
    _, traced = runs
    text = _graph_file(traced)
    record = traced.trace.record
    assert re.findall(r"class (submod_\d+)\(", text) == [p.submod for p in record.pieces]
    for piece in record.pieces:
        body = text.split(f"class {piece.submod}(", 1)[1].split("\n    class ", 1)[0]
        assert ("torch.ops.cltoy.attention" in body) == piece.is_split_op, piece.submod
    artifacts = {a.name: a for a in raw_events.vllm_records(traced.out).artifacts}
    assert artifacts["computation_graph.py"].content == text
    assert artifacts["cache_dir"].extra["hash_dir"] == traced.result["cache_dir"].rsplit("/", 1)[1]


def test_counters_and_issues_from_the_vllm_events(runs: tuple[Run, Run]) -> None:
    _, traced = runs
    found = raw_events.vllm_records(traced.out)
    expected = {f"vllm.{k}": v for k, v in traced.result["counters"].items()}
    assert found.counters == expected
    assert found.issues == []
    assert found.hooks["main"]["missing"] == []
    assert found.passes == [], "the eager backend runs no Inductor, so no vLLM pass"


def test_no_observer_effect(runs: tuple[Run, Run]) -> None:
    plain, traced = runs
    import torch

    for a, b in zip(plain.outputs(), traced.outputs(), strict=True):
        assert torch.equal(a, b)
    assert plain.result["counters"] == traced.result["counters"]
    assert plain.result["attention_calls"] == traced.result["attention_calls"]
    assert plain.result["cache_dir"].rsplit("/", 1)[1] == traced.result["cache_dir"].rsplit("/", 1)[1]
    assert factor_files(plain.cache_root) == factor_files(traced.cache_root)
    assert _graph_file(plain) == _graph_file(traced)
