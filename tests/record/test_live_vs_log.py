"""A TORCH_TRACE log opens with the same pieces, keys and outcomes as the live trace of that run.

One real compile (embedded backend, CPU) in a child process with TORCH_TRACE set and a
``trace()`` block open: two independent accounts of the same compile, the live handler's and the
log file's, go through the same parser and must agree.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import compile_lens

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    out = tmp_path_factory.mktemp("live_vs_log")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TORCHINDUCTOR_", "TORCH_COMPILE", "TORCHDYNAMO_", "TORCH_LOGS"))}
    env.update(TORCH_TRACE=str(out / "logs"), TORCHINDUCTOR_CACHE_DIR=str(out / "inductor"),
               PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.run([sys.executable, str(HERE / "_traced_run.py"), str(out)], env=env,
                          capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (log,) = sorted((out / "logs").iterdir())
    return compile_lens.load(out / "trace.json").record, compile_lens.load(log).record


def _pieces(record):
    return [(p.graph_id, p.submod, p.index, p.compiled_index, p.is_split_op) for p in record.pieces]


def _compiles(record):
    return [(c.graph_id, c.submod, c.size, c.outcome, c.legacy_key, c.standalone_key,
             c.key_match, tuple(c.fx_keys), c.cache_state, c.compile_id) for c in record.compiles]


@pytest.mark.inductor
def test_log_and_live_trace_agree(both):
    live, log = both
    assert _compiles(live), "the run compiled pieces"
    assert _pieces(log) == _pieces(live)
    assert _compiles(log) == _compiles(live)
    assert [(g.id, g.compile_id, len(g.nodes)) for g in log.graphs] == [
        (g.id, g.compile_id, len(g.nodes)) for g in live.graphs]
    assert log.key_lines == live.key_lines
    # A log line names its process, not its thread: work of Inductor's helper threads, which
    # the live handler sees outside any piece scope, falls into the open scope. Never fewer.
    assert {(p.submod, p.size, p.name) for p in live.passes} <= {
        (p.submod, p.size, p.name) for p in log.passes}
    assert log.run.extra["parser"]["unknown"] == {}
    assert log.run.extra["parser"]["malformed_count"] == 0
    assert log.run.notes == live.run.notes
    assert log.run.torch_version == live.run.torch_version
