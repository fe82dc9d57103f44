"""Entering ``trace()`` is atomic: one block per process, a concurrent one is refused cleanly.

Issue 9 item 8 and issue 13's lifecycle: two threads entering ``trace(cross_check=True)`` at the
same moment must not both install (which left torch patched and the session active for good);
the second gets a clear error and changes nothing. A strict install failure leaves no temporary
directory, no patch and no active session behind. Real ``torch.compile`` with the eager backend.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from pathlib import Path

import pytest
import torch

import compile_lens
from compile_lens import _session
from compile_lens._torch import patching
from compile_lens._torch.keys import LEGACY_TARGET
from compile_lens.errors import CompileLensError, InstrumentationError
from compile_lens.instrument import hooks, plain_keys
from compile_lens.instrument.session import SESSION_DIR_ENV
from compile_lens.instrument.structured_log import StructuredTraceHandler

ROUNDS = 12


def _untouched(aot_level: int, aot_filters: list) -> list[str]:
    """What a trace left behind (empty when everything is restored)."""
    left = []
    if _session.held() or _session.current() is not None:
        left.append("the session is still held")
    if any(isinstance(h, StructuredTraceHandler)
           for h in logging.getLogger("torch.__trace").handlers):
        left.append("a handler is still on torch.__trace")
    aot = logging.getLogger(hooks.AOT_CACHE_LOGGER)
    if (aot.level, aot.filters) != (aot_level, aot_filters):
        left.append("the AOT cache logger was not restored")
    if hasattr(patching.current(plain_keys.TARGET), "__wrapped__"):
        left.append("the Inductor wrapper is still patched")
    if hasattr(patching.current(LEGACY_TARGET), "__wrapped__"):
        left.append("autograd_cache_key is still wrapped")
    if SESSION_DIR_ENV in os.environ:
        left.append(f"{SESSION_DIR_ENV} is still set")
    return left


def _race_once() -> tuple[list[str], list[object], list[BaseException]]:
    """Two threads enter ``trace(cross_check=True)`` together; the one inside waits until both
    have tried, so the blocks overlap whatever the scheduling."""
    start = threading.Barrier(2)
    tried = threading.Condition()
    attempts = [0]
    refused: list[str] = []
    traces: list[object] = []
    errors: list[BaseException] = []

    def attempted() -> None:
        with tried:
            attempts[0] += 1
            tried.notify_all()

    def worker(n: int) -> None:
        try:
            start.wait()
            try:
                with compile_lens.trace(cross_check=True, factors=False, bytecode=False) as t:
                    attempted()
                    with tried:  # inside: wait for the other thread's attempt (refused, or a bug)
                        assert tried.wait_for(lambda: attempts[0] == 2, timeout=60), "no attempt"
                    torch._dynamo.reset()
                    torch.compile(lambda x: torch.relu(x) + n, backend="eager")(torch.ones(3))
                traces.append(t)
            except CompileLensError as exc:
                refused.append(str(exc))
                attempted()
        except BaseException as exc:  # reported by the test, never lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,), name=f"tracer-{n}") for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return refused, traces, errors


def test_two_threads_entering_at_once_one_is_refused_and_nothing_leaks():
    aot = logging.getLogger(hooks.AOT_CACHE_LOGGER)
    level, filters = aot.level, list(aot.filters)
    for _ in range(ROUNDS):
        refused, traces, errors = _race_once()
        assert not errors, errors
        assert len(traces) == 1 and len(refused) == 1, (len(traces), refused)
        assert "already active in thread 'tracer-" in refused[0]
        assert not _untouched(level, filters)
        (t,) = traces
        assert len(t.record.graphs) == 1, "the block recorded its own compile"
    with compile_lens.trace() as t:  # the next block enters as usual
        torch._dynamo.reset()
        torch.compile(torch.sin, backend="eager")(torch.ones(2))
    assert len(t.record.graphs) == 1


def test_a_nested_block_is_refused_without_disturbing_the_outer_one():
    with compile_lens.trace() as outer:
        options = _session.current()
        with pytest.raises(CompileLensError, match="cannot be nested"), compile_lens.trace():
            pass
        assert _session.current() is options, "the outer block is still active"
        torch._dynamo.reset()
        torch.compile(torch.cos, backend="eager")(torch.ones(2))
    assert len(outer.record.graphs) == 1


def test_strict_install_failures_leave_no_temp_dir_and_no_state(monkeypatch, tmp_path):
    """Each thread's strict trace fails to install; none may leave its session dir or patches."""
    def broken_install():
        msg = "renamed in a newer torch"
        raise AttributeError(msg)

    monkeypatch.setattr(hooks, "enable_aot_factor_lines", broken_install)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    aot = logging.getLogger(hooks.AOT_CACHE_LOGGER)
    level, filters = aot.level, list(aot.filters)
    outcomes: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        try:
            with compile_lens.trace(strict=True, cross_check=True):
                pass
            found = "entered"
        except InstrumentationError:
            found = "install failed"
        except CompileLensError:
            found = "refused"
        with lock:
            outcomes.append(found)

    for _ in range(ROUNDS):
        threads = [threading.Thread(target=worker) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not list(Path(tmp_path).glob("compile_lens_session_*")), "a session dir leaked"
        assert not _untouched(level, filters)
    assert len(outcomes) == 3 * ROUNDS
    assert "entered" not in outcomes and "install failed" in outcomes
