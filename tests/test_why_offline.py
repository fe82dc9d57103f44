"""The ledger of a trace that holds no cause records (written before them): nothing is claimed.

The 80-layer synthetic trace (``tests/fixtures/synthetic.py``) has piece compiles but no frame
compiles and no cache answers, like a trace saved by an older compile_lens: every compile keeps
its outcome, none is called a cache miss, and there is no why block to show.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))

import synthetic

from compile_lens.analysis.ledger import ledger
from compile_lens.analysis.why import why
from compile_lens.views.why_view import ledger_section, why_block


def test_no_cause_records_means_outcomes_only_and_no_why() -> None:
    record = synthetic.synthetic_trace(layers=8, sizes=2)
    rows = ledger(record)
    assert Counter(r.cause for r in rows) == Counter(c.outcome for c in record.compiles)
    assert why(record) == [] and why_block(record) == ""
    assert "t.compiles is this table" in ledger_section(record)
