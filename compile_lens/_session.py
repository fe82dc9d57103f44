"""The process's one trace session: who holds it, and the options compilers may read.

A compiler (the embedded backend, the vLLM wrappers) asks ``current()`` whether a trace is active
and whether it asked for ``cross_check`` (compile every piece through the legacy path and compare
keys). The object ``current()`` returns is new for every ``trace()`` block, so a compiler can also
tell *which* block compiled something (``is``): the embedded backend reports CUDA-graph captures
and replays only to the block that compiled the graph.

One session at a time per process. ``trace()`` enters through ``claim()``: under one
process-wide lock it checks that no session is held, installs every observer and activates the
options, as one step. A second ``trace()`` (nested, or from another thread) waits for that step
and is then refused with a clear error, having installed nothing. The claim is released only
after everything is restored, so one session's restore can never interleave with the next one's
install (which would leave torch patched).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass

from compile_lens.errors import CompileLensError


@dataclass(frozen=True, kw_only=True)
class SessionOptions:
    """What the active ``trace()`` asked for (one object per block: compare with ``is``)."""

    cross_check: bool = False
    strict: bool = False


@dataclass
class _Holder:
    """The thread holding the session, and its options once active."""

    thread: int
    thread_name: str
    options: SessionOptions | None = None


_LOCK = threading.Lock()
_HOLDER: _Holder | None = None


def current() -> SessionOptions | None:
    """The active session's options, or ``None`` when nothing is being traced."""
    holder = _HOLDER
    return holder.options if holder is not None else None


def held() -> bool:
    """Whether a ``trace()`` holds the session (also while it installs or restores)."""
    return _HOLDER is not None


def claim(stack: contextlib.ExitStack, options: SessionOptions,
          install: Callable[[], None]) -> None:
    """Take the process's session for ``stack``'s lifetime: check, install, activate, atomically.

    ``install`` puts every observer in place, each pushing its undo onto ``stack``. Closing
    ``stack`` deactivates first, then runs the undos, then releases the session (the release is
    pushed first, so it runs last). If ``install`` raises, the exception propagates and the
    caller's ``stack`` unwinds the same way.

    Raises:
        CompileLensError: a session is already held (a nested block, or another thread's).
    """
    global _HOLDER
    me = threading.current_thread()
    with _LOCK:
        if _HOLDER is not None:
            raise CompileLensError(_refusal(_HOLDER, me.ident))
        holder = _Holder(thread=me.ident or 0, thread_name=me.name)
        _HOLDER = holder
        stack.callback(_release, holder)
        install()
        holder.options = options
        stack.callback(_deactivate, holder)


def _deactivate(holder: _Holder) -> None:
    holder.options = None


def _release(holder: _Holder) -> None:
    global _HOLDER
    with _LOCK:
        if _HOLDER is holder:
            _HOLDER = None


def _refusal(holder: _Holder, thread: int | None) -> str:
    if holder.thread == thread:
        return "compile_lens.trace() blocks cannot be nested; end the outer block first"
    return (f"compile_lens.trace() is already active in thread {holder.thread_name!r}: one trace "
            "per process at a time (it records every thread's compiles); end that block first")
