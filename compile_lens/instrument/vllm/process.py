"""Record a vLLM process that is not the tracing one (EngineCore, workers) into the session dir.

Stage 1 (instrument). The tracing process sets ``COMPILE_LENS_SESSION_DIR`` (never a ``VLLM_*``
variable: those enter vLLM's cache hash). vLLM loads its ``vllm.general_plugins`` in every process
it starts; our plugin calls ``start(dir)`` there, which

* subscribes a ``StructuredTraceHandler`` writing every structured-trace event as one JSON line to
  ``<dir>/events-<pid>.jsonl`` (flushed per line, so a killed process leaves whole lines);
* makes AOTAutograd's key factor lines available (as the session does in its own process);
* installs the vLLM observers (``compile_lens.instrument.vllm.install``);
* writes ``<dir>/process-<pid>.json``: ``{pid, role, rank, prefix, state, …}``, rewritten when a
  prefix compiles and with ``state: "exited"`` on a clean exit. A process that died leaves
  ``state: "running"`` with a dead pid; the merge notes it and never waits for it.

Options of the session (``strict``) are read from ``<dir>/session.json`` when present.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import multiprocessing
import multiprocessing.util
import os
import threading
import time
from pathlib import Path
from typing import Any

_PROC: dict[str, Any] = {}
_LOCK = threading.Lock()


def _role(name: str) -> str:
    lowered = name.lower()
    if "enginecore" in lowered or "engine_core" in lowered:
        return "engine_core"
    if "worker" in lowered:
        return "worker"
    return "process"


def _write_meta() -> None:
    meta, directory = _PROC.get("meta"), _PROC.get("dir")
    if not meta or not directory:
        return
    path = Path(directory) / f"process-{meta['pid']}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(meta, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def _options(directory: str) -> dict[str, Any]:
    try:
        data = json.loads((Path(directory) / "session.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _note_prefix(info: Any) -> None:
    """A graph compiled here: add its prefix and rank to the process description."""
    with _LOCK:
        meta = _PROC.get("meta")
        if meta is None:
            return
        if info.prefix and info.prefix not in meta["prefixes"]:
            meta["prefixes"].append(info.prefix)
            meta["prefix"] = ", ".join(meta["prefixes"])
        if info.rank is not None:
            meta["rank"] = info.rank
        _write_meta()


def _detach_inherited() -> None:
    """In a forked child: drop the parent's handlers (they would write the parent's files)."""
    from compile_lens.instrument.structured_log import TRACE_LOGGER, StructuredTraceHandler

    logger = logging.getLogger(TRACE_LOGGER)
    for handler in list(logger.handlers):
        if isinstance(handler, StructuredTraceHandler):
            logger.removeHandler(handler)
    _PROC.clear()


def _first(handler: logging.Handler) -> None:
    """Put ``handler`` before torch's ``LazyTraceHandler``.

    Without ``TORCH_TRACE`` that handler removes itself from ``torch.__trace`` on the first event,
    while ``Logger.callHandlers`` iterates the same list: the handler after it misses that event.
    """
    from compile_lens.instrument.structured_log import TRACE_LOGGER

    handlers = logging.getLogger(TRACE_LOGGER).handlers
    if handler in handlers:
        handlers.remove(handler)
        handlers.insert(0, handler)


def start(directory: str) -> bool:
    """Start recording this process into ``directory``; ``False`` if it already records."""
    from compile_lens.instrument import hooks, vllm
    from compile_lens.instrument.raw import JsonlSink
    from compile_lens.instrument.structured_log import StructuredTraceHandler, attach
    from compile_lens.instrument.vllm import files

    with _LOCK:
        if _PROC.get("pid") == os.getpid():
            return False
        _detach_inherited()
        name = multiprocessing.current_process().name
        role = _role(name)
        handler = StructuredTraceHandler(JsonlSink(directory), process=f"{role}-{os.getpid()}")
        attach(handler)
        _first(handler)
        _PROC.update(pid=os.getpid(), dir=directory, handler=handler, undo=[])
        _PROC["meta"] = {"pid": os.getpid(), "ppid": os.getppid(), "role": role, "rank": None,
                         "prefix": "", "prefixes": [], "process_name": name,
                         "state": "running", "started": time.time()}
        _write_meta()
    _PROC["undo"].append(hooks.enable_aot_factor_lines())
    files.on_prefix(_note_prefix)
    _PROC["undo"].append(vllm.install(strict=bool(_options(directory).get("strict", False))))
    atexit.register(finish)
    multiprocessing.util.Finalize(None, finish, exitpriority=100)
    return True


def finish() -> None:
    """Final reports, ``state: "exited"``, detach and close (idempotent; runs at exit)."""
    from compile_lens.instrument.structured_log import detach

    if _PROC.get("pid") != os.getpid() or _PROC.get("finished"):
        return
    _PROC["finished"] = True
    for undo in reversed(_PROC.get("undo", [])):
        try:
            undo()
        except Exception:  # exiting: nothing more useful to do than keep going
            continue
    with _LOCK:
        if _PROC.get("meta") is not None:
            _PROC["meta"]["state"] = "exited"
            with contextlib.suppress(OSError):  # the session directory may be gone already
                _write_meta()
    handler = _PROC.get("handler")
    if handler is not None:
        detach(handler)
        handler.sink.close()


def recording() -> bool:
    """True when this process records into a session directory."""
    return _PROC.get("pid") == os.getpid() and not _PROC.get("finished")
