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
import importlib
import itertools
import os
import sys
import weakref
from dataclasses import dataclass, field
from typing import Any

from compile_lens import _events
from compile_lens.instrument.issues import IssueLog

_SEQ = itertools.count()


def vllm_module(name: str) -> Any:
    """vLLM's module ``name``: the loaded one (a dict lookup: the hooks run inside vLLM, which
    has imported it), else imported now. Raises ``ImportError`` where vLLM lacks it, as an
    ``import`` statement would; looked up by name, so the package type-checks without vLLM."""
    module = sys.modules.get(name)
    return module if module is not None else importlib.import_module(name)


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


class Guard(IssueLog):
    """The vLLM observers' fail-open policy: ``IssueLog``'s rules, reported on the event stream.

    A failing hook raises ``InstrumentationError`` when strict; otherwise it is counted, warned
    about once per (hook, exception type), and sent as a ``compile_lens_issue`` event (plus a
    ``note`` the first time): vLLM's hooks also run in worker processes, whose failures reach the
    trace only through the stream. ``BaseException`` (vLLM's ``StopCompiling``) passes through.
    """

    label = warn_label = "vLLM hook"

    def failed(self, hook: str, exc: Exception) -> None:
        """Report a failed observer (``record`` under the name the wrappers use)."""
        self.record(hook, exc)

    def _reported(self, hook: str, exc: Exception, first: bool) -> None:
        emit(_events.ISSUE, {"hook": hook, "message": str(exc), "error_type": type(exc).__name__})
        if first:
            message = f"vLLM hook {hook!r} failed ({type(exc).__name__}: {exc})"
            emit(_events.NOTE, {"message": message + "; that part of the trace is missing"})


GUARD = Guard()


def emit(event: str, payload: _events.Payload, compile_id: Any = None) -> None:
    """``_events.emit`` that never raises into vLLM (a failing payload is dropped).

    ``compile_id`` (a Dynamo ``CompileId``) tags the event when it is emitted outside Dynamo's
    compile context: ``aot_compile`` calls the backend after the capture context has closed, so
    the graph event would otherwise not join the ``dynamo_output_graph`` of the same compile.
    """
    try:
        _events.emit(event, payload, compile_id=compile_id)
    except Exception:  # the trace stream is best effort; never break the compile for it
        return


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
