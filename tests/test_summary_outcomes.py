"""The summary counts every compile outcome: ``failed`` and any a newer producer writes."""

from __future__ import annotations

from compile_lens.analysis.summary import summarize
from compile_lens.model import COMPILED, FAILED, PieceCompile, RunInfo, TraceRecord


def test_failed_and_unknown_outcomes_are_counted_in_the_headline():
    compiles = [PieceCompile(graph_id="g0", submod=f"submod_{i}", outcome=outcome)
                for i, outcome in enumerate((COMPILED, FAILED, FAILED, "from_the_future"))]
    summary = summarize(TraceRecord(run=RunInfo(), compiles=compiles))
    assert summary.outcomes[FAILED] == 2 and summary.outcomes["from_the_future"] == 1
    assert sum(summary.outcomes.values()) == summary.compiles == 4
    assert "(1 compiled, 2 failed, 1 from_the_future)" in str(summary)
