"""The end-of-block flush of vLLM's processes does not wait for a process that has exited.

vLLM shuts its EngineCore down when the ``LLM`` goes away, which can happen inside the ``trace()``
block; until vLLM reaps it the EngineCore is a zombie, which answers signal 0 like a live process.
Its description still says ``running`` (it was stopped by a signal, before its clean exit), so the
flush waited for it until the timeout (5 s of tracer self-time in every such CPU-tier trace). No
vLLM needed: a real exited, unreaped child process stands in for it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from compile_lens.instrument.vllm import process

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")


def _zombie() -> subprocess.Popen[bytes]:
    """A child that has exited and that nobody has reaped yet."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    for _ in range(600):  # bounded wait for the exit, without reaping it
        if process._exited_unreaped(child.pid):
            break
        time.sleep(0.05)
    return child


def test_a_zombie_is_not_alive_and_the_flush_does_not_wait_for_it(tmp_path: Path) -> None:
    child = _zombie()
    try:
        assert process._exited_unreaped(child.pid), "the child is a zombie"
        assert not process._alive(child.pid)
        (tmp_path / f"process-{child.pid}.json").write_text(json.dumps(
            {"pid": child.pid, "role": "engine_core", "state": "running"}))
        assert process.request_flush(tmp_path) == [], "nothing left unanswered to wait for"
    finally:
        child.wait()


def test_a_live_process_is_alive() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert process._alive(child.pid) and not process._exited_unreaped(child.pid)
    finally:
        child.kill()
        child.wait()
