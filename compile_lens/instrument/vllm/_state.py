"""Per-process state of the vLLM observers: which graph a backend compiles, fail-open handling.

Stage 1 (instrument). vLLM compiles one Dynamo graph per ``VllmBackend`` (one per model prefix:
backbone, eagle head, encoder…). Each gets a ``GraphInfo`` with a ``graph_key`` unique in the
process; compile events (``compile_lens._events``) carry it, so the recorder attaches pieces,
compiles and runtime captures to the right graph, also when they come from another process.

Objects are found again through weak maps keyed by vLLM's own objects (the backend, its
``CompilerManager``), never by attributes set on them, so nothing vLLM owns is modified.
"""

from __future__ import annotations

import contextvars
import itertools
import os
import threading
import warnings
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from compile_lens import _events
from compile_lens.errors import InstrumentationError

_SEQ = itertools.count()


@dataclass
class GraphInfo:
    """What the observers know about one ``VllmBackend`` invocation."""

    graph_key: str
    prefix: str = ""
    is_encoder: bool = False
    compiler: str = ""
    compiled_submods: list[str] = field(default_factory=list)
    first_by_key: dict[str, str] = field(default_factory=dict)
    rank: int | None = None


@dataclass
class PieceFrame:
    """The piece being compiled right now (set around ``CompilerManager.compile``)."""

    info: GraphInfo
    submod: str
    size: str
    loaded: bool = False


def new_graph(prefix: str = "", is_encoder: bool = False) -> GraphInfo:
    """A fresh ``GraphInfo`` with a process-unique key (``vllm-<pid>-<n>``)."""
    info = GraphInfo(graph_key=f"vllm-{os.getpid()}-{next(_SEQ)}", prefix=prefix,
                     is_encoder=is_encoder)
    GRAPHS.append(info)
    return info


GRAPHS: list[GraphInfo] = []
"""Every graph of this process, in order: a whole-model (FULL) CUDA graph belongs to the first
non-encoder one (the model's backbone), since it captures the whole forward."""


def model_graph() -> GraphInfo | None:
    """The graph a whole-model CUDA graph of this process is filed under (``None`` if none)."""
    return next((g for g in GRAPHS if not g.is_encoder), GRAPHS[0] if GRAPHS else None)


BACKENDS: weakref.WeakKeyDictionary[Any, GraphInfo] = weakref.WeakKeyDictionary()
"""``VllmBackend`` → its graph."""
MANAGERS: weakref.WeakKeyDictionary[Any, GraphInfo] = weakref.WeakKeyDictionary()
"""``CompilerManager`` → the graph its backend compiles."""

CURRENT_GRAPH: contextvars.ContextVar[GraphInfo | None] = contextvars.ContextVar(
    "compile_lens_vllm_graph", default=None)
OWNER: contextvars.ContextVar[tuple[GraphInfo | None, str, int] | None] = contextvars.ContextVar(
    "compile_lens_vllm_owner", default=None)
"""``(graph, submod name, piecewise index)`` while a ``PiecewiseBackend`` is being built."""
PIECE: contextvars.ContextVar[PieceFrame | None] = contextvars.ContextVar(
    "compile_lens_vllm_piece", default=None)
WARM: contextvars.ContextVar[tuple[GraphInfo, list[str], dict[str, str]] | None] = (
    contextvars.ContextVar("compile_lens_vllm_warm", default=None))
"""``(graph, compiled submods in order, artifact sha256 by "submod_range")`` on a mega warm start."""


class Guard:
    """Fail open: an observer that raises is reported once and the compile goes on.

    With ``strict=True`` the failure raises ``InstrumentationError`` instead (tests). Only
    ``Exception`` is caught; ``BaseException`` (vLLM's ``StopCompiling``, KeyboardInterrupt)
    always passes through.
    """

    def __init__(self, strict: bool = False) -> None:
        self.strict = strict
        self._seen: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def reset(self, strict: bool) -> None:
        """Start a new session: its strictness, and every failure warned about again."""
        with self._lock:
            self.strict = strict
            self._seen.clear()

    def run(self, hook: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call ``fn``; on ``Exception`` report it under ``hook`` and return ``None``."""
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            self.failed(hook, exc)
            return None

    def failed(self, hook: str, exc: Exception) -> None:
        """Report a failed observer (raise when strict; warn and note it once otherwise)."""
        if self.strict:
            msg = f"compile_lens: vLLM hook {hook!r} failed: {type(exc).__name__}: {exc}"
            raise InstrumentationError(msg) from exc
        key = (hook, type(exc).__name__)
        with self._lock:
            first = key not in self._seen
            self._seen.add(key)
        message = f"vLLM hook {hook!r} failed ({type(exc).__name__}: {exc})"
        emit("issue", {"hook": hook, "message": str(exc), "error_type": type(exc).__name__})
        if first:
            emit("note", {"message": message + "; that part of the trace is missing"})
            warnings.warn(f"compile_lens: {message}; the compile goes on and the trace records "
                          "the failure", RuntimeWarning, stacklevel=2)


GUARD = Guard()


def emit(event: str, payload: dict[str, Any] | Callable[[], dict[str, Any]],
         compile_id: Any = None) -> None:
    """``_events.emit`` that never raises into vLLM (a failing payload is dropped).

    ``compile_id`` (a Dynamo ``CompileId``) tags the event when it is emitted outside Dynamo's
    compile context: ``aot_compile`` calls the backend after the capture context has closed, so
    the graph event would otherwise not join the ``dynamo_output_graph`` of the same compile.
    """
    try:
        if compile_id is None:
            _events.emit(event, payload)
        else:
            _emit_with_compile_id(event, payload, compile_id)
    except Exception:  # the trace stream is best effort; never break the compile for it
        return


def _emit_with_compile_id(event: str, payload: Any, compile_id: Any) -> None:
    import json

    from torch._logging import trace_structured

    def payload_fn() -> str:
        body = payload() if callable(payload) else payload
        return json.dumps(body, sort_keys=True, default=str)

    trace_structured("artifact",
                     metadata_fn=lambda: {"name": _events.PREFIX + event, "encoding": "json"},
                     payload_fn=payload_fn, expect_trace_id=False, compile_id=compile_id)


def cross_check_requested() -> bool:
    """Whether the active ``trace()`` asked for ``cross_check`` (this process or, for vLLM's
    processes started by spawn, the session's ``session.json``)."""
    from compile_lens import _session

    options = _session.current()
    if options is not None:
        return bool(options.cross_check)
    directory = os.environ.get("COMPILE_LENS_SESSION_DIR")
    if not directory:
        return False
    import json

    try:
        with open(os.path.join(directory, "session.json"), encoding="utf-8") as fh:
            return bool(json.load(fh).get("cross_check", False))
    except (OSError, ValueError, AttributeError):
        return False


def size_label(compile_range: Any) -> str:
    """``"8"`` for a single-size compile range, ``"(1, 2048)"`` for a range (model convention)."""
    start, end = getattr(compile_range, "start", None), getattr(compile_range, "end", None)
    if start is not None and start == end:
        return str(start)
    return str(compile_range)
