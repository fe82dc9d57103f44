"""Real recorded piecewise traces (``tests/fixtures/traces``, see its README): the demo model
through the embedded backend, default mode vs ``cross_check=True``. Cross-check compiles every
piece through the legacy path but must not change a single key: the diff says they agree.
"""

from __future__ import annotations

from pathlib import Path

import compile_lens

TRACES = Path(__file__).parents[1] / "fixtures" / "traces"


def test_default_and_cross_check_runs_have_the_same_keys():
    d = compile_lens.diff(TRACES / "demo.json", TRACES / "demo_cross_check.json")
    assert d.equal, str(d)
    (entry,) = d.entries
    assert entry.counts["pieces"] == (15, 15)
    kind, unique = next((k, v) for k, v in entry.counts.items() if k.startswith("unique"))
    assert kind == "unique standalone keys"
    assert unique[0] == unique[1] < 15  # identical middle layers share a key (dedup)
    assert {c.name for c in entry.noise} == {"TORCHINDUCTOR_CACHE_DIR"}
