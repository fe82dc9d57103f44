"""Merging other processes' records: a process that died is marked partial, never waited for.

Real processes stand in for vLLM's: one that still runs, and one that has exited but whose parent
has not reaped it yet (a zombie: vLLM's EngineCore after the ``LLM`` went away). A zombie answers
signal 0 like a live process, so its description's ``state: "running"`` must not be believed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from compile_lens.record import merge

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")


def _describe(directory: Path, pid: int) -> None:
    (directory / f"process-{pid}.json").write_text(json.dumps(
        {"pid": pid, "role": "engine_core", "state": "running"}))
    (directory / f"events-{pid}.jsonl").write_text("")


def test_a_zombie_that_said_running_is_marked_partial(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        for _ in range(600):  # bounded wait for the exit, without reaping it
            if merge.exited_unreaped(child.pid):
                break
            time.sleep(0.05)
        assert merge.exited_unreaped(child.pid), "the child is a zombie"
        assert not merge.exited_unreaped(live.pid)
        _describe(tmp_path, child.pid)
        _describe(tmp_path, live.pid)
        _, processes = merge.read_session_dir(tmp_path)
        by_pid = {p.pid: p for p in processes}
        assert not by_pid[child.pid].complete
        assert "died before it finished" in by_pid[child.pid].note
        assert by_pid[live.pid].complete and by_pid[live.pid].note == ""
    finally:
        live.kill()
        live.wait()
        child.wait()
