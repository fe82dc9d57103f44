"""Why did a frame compile? Recompiles, the recompile limit and graph breaks, for real.

One traced block (``backend="eager"``: Dynamo's decisions need no Inductor) produces each cause;
each test reads compile_lens' ledger row for its function and checks it against what torch
itself recorded for that compile: ``torch._dynamo.utils.guard_failures``, the
``recompile_reasons`` and ``compilation_metrics`` records on the structured-trace stream
(kept raw by ``_why.TorchRecords``), and torch's ``counters``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
import torch
from _why import TorchRecords, counter_deltas, counter_snapshot, torch_records

import compile_lens
from compile_lens.analysis.ledger import LIMIT, RECOMPILE, RESUME, LedgerRow, ledger
from compile_lens.analysis.why import why

SCALE_GLOBAL = 1.0


def size_fn(x: torch.Tensor) -> torch.Tensor:
    return x * 2


def dtype_fn(x: torch.Tensor) -> torch.Tensor:
    return x + 1


def global_fn(x: torch.Tensor) -> torch.Tensor:
    return x * SCALE_GLOBAL


class Scaled(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.scale = 2.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


def limit_fn(x: torch.Tensor) -> torch.Tensor:
    return x - 1


def break_fn(x: torch.Tensor) -> torch.Tensor:
    y = x * 3
    torch._dynamo.graph_break()
    return y + 1


@dataclass
class EagerRun:
    trace: Any
    torch: TorchRecords
    guard_failures: dict[str, list[str]]
    counters: dict[str, dict[str, int]]
    limit: int

    def rows(self, name: str) -> list[LedgerRow]:
        return [r for r in ledger(self.trace.record) if r.name == name]


def _causes() -> None:
    global SCALE_GLOBAL
    compiled = torch.compile(size_fn, backend="eager")
    compiled(torch.randn(8))
    compiled(torch.randn(16))
    compiled = torch.compile(dtype_fn, backend="eager")
    compiled(torch.randn(8))
    compiled(torch.randn(8, dtype=torch.float64))
    compiled = torch.compile(global_fn, backend="eager")
    compiled(torch.randn(8))
    SCALE_GLOBAL = 3.0
    compiled(torch.randn(8))
    module = Scaled()
    compiled = torch.compile(module, backend="eager")
    compiled(torch.randn(8))
    module.scale = 5.0
    compiled(torch.randn(8))
    compiled = torch.compile(limit_fn, backend="eager")
    for dtype in (torch.float32, torch.float64, torch.int32, torch.int64):
        compiled(torch.ones(4, dtype=dtype))
    torch.compile(break_fn, backend="eager")(torch.randn(8))


@pytest.fixture(scope="module")
def run() -> EagerRun:
    torch._dynamo.reset()
    before = counter_snapshot()
    limit = 2
    try:
        with torch._dynamo.config.patch(recompile_limit=limit), torch_records() as records, \
                compile_lens.trace(strict=True, progress=False) as t:
            _causes()
        from torch._dynamo.utils import guard_failures

        failures = {code.co_name: list(reasons) for code, reasons in guard_failures.items()}
        return EagerRun(t, records, failures, counter_deltas(before), limit)
    finally:
        torch._dynamo.reset()


def _torch_reasons(run: EagerRun, compile_id: str) -> list[str]:
    """The guard-failure reasons torch logged before compiling ``compile_id``."""
    for md, payload in run.torch.artifacts("recompile_reasons"):
        if f"{md['frame_id']}/{md['frame_compile_id']}" == compile_id and payload:
            return json.loads(payload) if payload.startswith("[") else [payload]
    return []


def _check_recompile(run: EagerRun, name: str) -> LedgerRow:
    first, again = run.rows(name)
    assert first.cause == "first_compile" and first.cache_size == 0
    assert again.cause == RECOMPILE
    assert again.reasons == run.guard_failures[name]
    assert again.guard and again.guard in again.reasons[0]
    (torch_metrics,) = [m for m in run.torch.metrics()
                        if m.get("co_name") == name and m.get("recompile_reason")]
    assert again.reasons[0] == torch_metrics["recompile_reason"]
    assert again.cache_size == torch_metrics["cache_size"] == 1
    return again


def test_size_change_on_a_static_dimension(run: EagerRun) -> None:
    row = _check_recompile(run, "size_fn")
    assert f"{row.guard}. {row.changed}" in run.guard_failures["size_fn"][0]
    assert row.changed.split() == ["expected", "8,", "actual", "16"]
    (item,) = [i for i in why(run.trace.record) if row.index in i.rows]
    assert "mark_dynamic(x, 0)" in item.hint


def test_dtype_change(run: EagerRun) -> None:
    row = _check_recompile(run, "dtype_fn")
    assert "dtype" in row.guard and f"{row.guard}. {row.changed}" in row.reasons[0]
    (item,) = [i for i in why(run.trace.record) if row.index in i.rows]
    assert item.hint == "", "torch names no standard remedy for a dtype change"


def test_python_global_changed(run: EagerRun) -> None:
    row = _check_recompile(run, "global_fn")
    assert "SCALE_GLOBAL" in row.guard
    assert row.user_line == f"{__file__}:{global_fn.__code__.co_firstlineno + 1} in global_fn"


def test_module_attribute_changed(run: EagerRun) -> None:
    row = _check_recompile(run, "forward")
    assert "scale" in row.guard
    assert row.user_line.startswith(f"{__file__}:")


def test_recompile_limit_reached(run: EagerRun) -> None:
    rows = run.rows("limit_fn")
    assert [r.cause for r in rows] == ["first_compile", RECOMPILE, LIMIT]
    limited = rows[-1]
    (failed,) = [m for m in run.torch.metrics() if m.get("fail_reason")]
    assert limited.compile_id == failed["compile_id"]
    assert failed["fail_reason"] in run.counters["unimplemented"]
    assert f"({run.limit})" in limited.why and "recompile_limit" in limited.why
    assert limited.reasons == _torch_reasons(run, limited.compile_id)
    assert len(limited.reasons) == run.limit
    (item,) = [i for i in why(run.trace.record) if i.cause == LIMIT]
    assert item.hint and f"Hint: {item.hint}" in failed["fail_reason"]


def test_graph_break(run: EagerRun) -> None:
    (row,) = run.rows("break_fn")
    (payload,) = [p for _, p in run.torch.artifacts("dynamo_graph_break_reason")]
    (reason,) = [k for k in run.counters["graph_break"] if k in payload]
    assert row.graph_breaks == [f"{__file__}:{break_fn.__code__.co_firstlineno + 2}: "
                                f"{reason.splitlines()[0]}"]
    (item,) = [i for i in why(run.trace.record) if i.cause == "graph_break"]
    assert item.rows == [row.index] and reason.splitlines()[0] in item.text
    assert item.hint and f"Hint: {item.hint}" in payload
    resumed = [r for r in ledger(run.trace.record) if r.cause == RESUME]
    assert [r.name for r in resumed] == list(run.counters["resumes"])


def test_every_frame_compile_torch_logged_is_a_row(run: EagerRun) -> None:
    frames = [r for r in ledger(run.trace.record) if r.kind == "frame"]
    assert [r.compile_id for r in frames] == [m["compile_id"] for m in run.torch.metrics()]
    assert run.counters["frames"]["total"] == len(frames)


def test_compiles_frame_and_summary_open_with_why(run: EagerRun) -> None:
    df = run.trace.compiles
    recompiled = [m for m in run.torch.metrics() if m.get("recompile_reason")
                  and not m.get("fail_reason")]
    assert list(df["cause"]).count(RECOMPILE) == len(recompiled) == 5
    text = str(run.trace.summary())
    assert text.startswith("why:")
    assert "recompile of `size_fn`" in text
    assert "recompile limit hit for `limit_fn`" in text


def test_cause_records_round_trip_and_old_traces_load(run: EagerRun, tmp_path: Any) -> None:
    path = run.trace.save(tmp_path / "t.json")
    loaded = compile_lens.load(path).record
    assert loaded.frame_compiles == run.trace.record.frame_compiles
    assert ledger(loaded) == ledger(run.trace.record)
    data = json.loads(path.read_text())
    data["frame_compiles"][0]["from_a_newer_version"] = {"x": 1}
    old = {k: v for k, v in data.items() if k not in ("frame_compiles", "cache_decisions")}
    (tmp_path / "newer.json").write_text(json.dumps(data))
    (tmp_path / "old.json").write_text(json.dumps(old))
    newer = compile_lens.load(tmp_path / "newer.json")
    assert newer.record.frame_compiles[0].extra == {"from_a_newer_version": {"x": 1}}
    assert json.loads(newer.to_json())["frame_compiles"][0]["from_a_newer_version"] == {"x": 1}
    before = compile_lens.load(tmp_path / "old.json")
    assert before.record.frame_compiles == [] and before.record.cache_decisions == []
    assert set(before.compiles["kind"]) <= {"piece"}
