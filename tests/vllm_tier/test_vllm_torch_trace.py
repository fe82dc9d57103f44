"""The TORCH_TRACE of an ``LLM(...).generate`` run opens with vLLM's split and pieces × compile
ranges, and agrees with what the in-process ``trace()`` of the same run recorded.

One run of the tiny Llama in vLLM's multiprocess engine with ``TORCH_TRACE`` set and a ``trace()``
block open: every vLLM process writes its own log (``TORCH_TRACE=<dir>``), and compile_lens' plugin
records the same compile through its wrappers. Two independent accounts of one compile: the log
directory (vLLM's own ``vllm_*`` artifacts, alone once compile_lens' records are removed) and the
live trace must name the same split, the same piece compiles and the same keys.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from vllm_runs import HERE, RUN_TIMEOUT_S, VLLM

import compile_lens

pytestmark = [*VLLM, pytest.mark.inductor]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("llm_torch_trace")
    env = {**os.environ, "PYTHONPATH": str(HERE / "cpu_plugin"), "VLLM_CPU_KVCACHE_SPACE": "1",
           "VLLM_CACHE_ROOT": str(base / "cache"), "TORCH_TRACE": str(base / "torch_trace")}
    for name in ("COMPILE_LENS_SESSION_DIR", "TORCH_LOGS", "TORCH_COMPILE_DEBUG"):
        env.pop(name, None)
    proc = subprocess.run([sys.executable, str(HERE / "_llm_run.py"), str(base / "out"), "--trace"],
                          env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
                          check=False)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    return base / "torch_trace", base / "out" / "trace.json"


def _strip_compile_lens(src: Path, dst: Path) -> Path:
    """The logs as a run without compile_lens leaves them: no ``compile_lens_*`` records."""
    dst.mkdir()
    for log in src.iterdir():
        out, skip = [], False
        for line in log.read_bytes().split(b"\n"):
            if not line.startswith(b"\t"):
                skip = b'{"artifact": {"name": "compile_lens_' in line
            if not skip:
                out.append(line)
        (dst / log.name).write_bytes(b"\n".join(out))
    return dst


def _compiled(record) -> list[tuple]:
    (graph,) = [g for g in record.graphs if any(p.graph_id == g.id for p in record.pieces
                                                  if p.submod != "<graph>")]
    pieces = [(p.submod, p.compiled_index, p.is_split_op) for p in record.pieces
              if p.graph_id == graph.id]
    compiles = [(c.submod, c.size, c.outcome, c.legacy_key) for c in record.compiles
                if c.graph_id == graph.id]
    return [pieces, compiles]


def test_logs_agree_with_the_live_trace(run, tmp_path):
    logs, live_path = run
    live = compile_lens.load(live_path).record
    log = compile_lens.load(logs).record
    assert len(list(logs.iterdir())) >= 2, "one log per vLLM process"
    assert _compiled(log) == _compiled(live)
    compiles = _compiled(live)[1]
    assert compiles and all(size.startswith("(") for _, size, _, _ in compiles), "compile ranges"
    assert log.run.extra["parser"]["malformed_count"] == 0


def test_vllm_own_artifacts_alone_give_the_split_and_compile_ranges(run, tmp_path):
    logs, live_path = run
    live = compile_lens.load(live_path).record
    plain = compile_lens.load(_strip_compile_lens(logs, tmp_path / "plain")).record
    assert _compiled(plain) == _compiled(live)
    (account,) = [a for a in plain.run.extra["vllm_account"].values() if a.get("compiles")]
    assert {c["submod"] for c in account["compiles"]} == {c[0] for c in _compiled(live)[1]}
    assert "vllm::unified_attention_with_output" in account["config"]["splitting_ops"]
