"""The ledger of an imported TORCH_TRACE log is the ledger of the live trace of the same run.

A fresh process runs Dynamo-only causes (a size recompile, a graph break, a recompile-limit hit;
``backend="eager"``) inside ``compile_lens.trace()`` with ``TORCH_TRACE`` set, so torch writes its
own log of the same compiles. Loading that log must give the same causes as the live trace.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import compile_lens
from compile_lens.analysis.ledger import ledger

SCRIPT = textwrap.dedent("""
    import sys, torch, compile_lens
    def grow(x):
        return x * 2
    def broken(x):
        y = x + 1
        torch._dynamo.graph_break()
        return y * 3
    def limited(x):
        return x - 1
    with torch._dynamo.config.patch(recompile_limit=2), compile_lens.trace(progress=False) as t:
        f = torch.compile(grow, backend="eager")
        f(torch.randn(8)); f(torch.randn(16))
        torch.compile(broken, backend="eager")(torch.randn(4))
        f = torch.compile(limited, backend="eager")
        for dtype in (torch.float32, torch.float64, torch.int32):
            f(torch.ones(4, dtype=dtype))
    t.save(sys.argv[1])
""")


def _causes(record: object) -> list[tuple[str, str, str, str, str, list[str]]]:
    return [(r.kind, r.compile_id, r.name, r.cause, r.why, r.graph_breaks)
            for r in ledger(record) if r.kind == "frame"]  # type: ignore[arg-type]


def test_torch_trace_log_gives_the_live_ledger(tmp_path: Path) -> None:
    env = {**os.environ, "TORCH_TRACE": str(tmp_path / "torch_trace")}
    subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "live.json")], env=env,
                   check=True, timeout=600)
    live = compile_lens.load(tmp_path / "live.json").record
    imported = compile_lens.load(tmp_path / "torch_trace").record
    assert _causes(imported) == _causes(live)
    causes = [c[3] for c in _causes(live)]
    assert causes.count("recompile") == 2 and "recompile_limit" in causes
    assert "graph_break_resume" in causes
    assert str(compile_lens.load(tmp_path / "torch_trace").summary()).startswith("why:")
