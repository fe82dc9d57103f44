"""Fail open: record a broken hook as an ``InstrumentationIssue``, warn once, keep compiling.

The one fail-open policy of compile_lens' observers. ``IssueLog`` is it for the hooks of one
``trace()`` session in this process; the vLLM observers' ``Guard`` (``instrument/vllm/_state``)
is the same policy that also sends each failure on the event stream (``compile_lens_issue``),
since vLLM's hooks run in worker processes the session does not see.

The rules, in one place (``IssueLog.record``):

* ``strict=True`` (the test suite): the failure raises ``InstrumentationError`` from the original;
* otherwise the failure is counted per ``(hook, exception type)`` and warned about once;
* only ``Exception`` is caught: ``BaseException`` (KeyboardInterrupt, vLLM's ``StopCompiling``)
  always passes through.
"""

from __future__ import annotations

import contextlib
import threading
import warnings
from collections.abc import Callable, Iterator
from typing import Any

from compile_lens.errors import InstrumentationError
from compile_lens.model import InstrumentationIssue


class IssueLog:
    """Collects hook failures of one trace session (and decides whether to raise or warn).

    ``label`` names the hooks in messages ("instrumentation hook", "vLLM hook"); ``warn_label``
    is the shorter name the warning uses.
    """

    label = "instrumentation hook"
    warn_label = "hook"

    def __init__(self, strict: bool = False) -> None:
        self.strict = strict
        self._counts: dict[tuple[str, str], int] = {}
        self._messages: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

    def reset(self, strict: bool) -> None:
        """Start a new session: its strictness, and every failure counted and warned anew."""
        with self._lock:
            self.strict = strict
            self._counts.clear()
            self._messages.clear()

    def record(self, hook: str, exc: Exception) -> None:
        """Note ``exc`` raised by ``hook``; raise in strict mode, warn on first sight otherwise."""
        if self.strict:
            msg = f"compile_lens: {self.label} {hook!r} failed: {type(exc).__name__}: {exc}"
            raise InstrumentationError(msg) from exc
        key = (hook, type(exc).__name__)
        with self._lock:
            first = key not in self._counts
            self._counts[key] = self._counts.get(key, 0) + 1
            self._messages.setdefault(key, str(exc))
        self._reported(hook, exc, first)
        if first:
            warnings.warn(
                f"compile_lens: {self.warn_label} {hook!r} failed ({type(exc).__name__}: {exc}); "
                "the compile goes on and the trace records the failure",
                RuntimeWarning,
                stacklevel=3,
            )

    def _reported(self, hook: str, exc: Exception, first: bool) -> None:
        """Where else a failure goes (subclasses); the log itself keeps only the counts."""

    @contextlib.contextmanager
    def guard(self, hook: str) -> Iterator[None]:
        """Run the block; an ``Exception`` in it is recorded (or raised when strict)."""
        try:
            yield
        except Exception as exc:
            self.record(hook, exc)

    def run(self, hook: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call ``fn``; on ``Exception`` record it under ``hook`` and return ``None``."""
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            self.record(hook, exc)
            return None

    def issues(self) -> list[InstrumentationIssue]:
        """The recorded failures, in a stable order."""
        with self._lock:
            counts = sorted(self._counts.items())
        return [
            InstrumentationIssue(hook=h, error_type=t, message=self._messages[(h, t)], count=n)
            for (h, t), n in counts
        ]
