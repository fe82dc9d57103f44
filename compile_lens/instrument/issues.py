"""Fail open: record a broken hook as an ``InstrumentationIssue``, warn once, keep compiling.

With ``strict=True`` (the test suite) the failure raises ``InstrumentationError`` instead. Only
``Exception`` is caught: ``BaseException`` (KeyboardInterrupt, vLLM's ``StopCompiling``) passes.
"""

from __future__ import annotations

import contextlib
import threading
import warnings
from collections.abc import Iterator

from compile_lens.errors import InstrumentationError
from compile_lens.model import InstrumentationIssue


class IssueLog:
    """Collects hook failures of one trace session."""

    def __init__(self, strict: bool) -> None:
        self.strict = strict
        self._counts: dict[tuple[str, str], int] = {}
        self._messages: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

    def record(self, hook: str, exc: Exception) -> None:
        """Note ``exc`` raised by ``hook``; raise in strict mode, warn on first sight otherwise."""
        if self.strict:
            msg = f"compile_lens: instrumentation hook {hook!r} failed: {type(exc).__name__}: {exc}"
            raise InstrumentationError(msg) from exc
        key = (hook, type(exc).__name__)
        with self._lock:
            first = key not in self._counts
            self._counts[key] = self._counts.get(key, 0) + 1
            self._messages.setdefault(key, str(exc))
        if first:
            warnings.warn(
                f"compile_lens: hook {hook!r} failed ({type(exc).__name__}: {exc}); the compile "
                "goes on and the trace records the failure",
                RuntimeWarning,
                stacklevel=3,
            )

    @contextlib.contextmanager
    def guard(self, hook: str) -> Iterator[None]:
        """Run the block; an ``Exception`` in it is recorded (or raised when strict)."""
        try:
            yield
        except Exception as exc:
            self.record(hook, exc)

    def issues(self) -> list[InstrumentationIssue]:
        """The recorded failures, in a stable order."""
        return [
            InstrumentationIssue(hook=h, error_type=t, message=self._messages[(h, t)], count=n)
            for (h, t), n in sorted(self._counts.items())
        ]
