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
    # A forked child is named by multiprocessing only after the fork hook started recording.
    meta["process_name"] = multiprocessing.current_process().name
    meta["role"] = _role(meta["process_name"])
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
    from compile_lens.instrument.structured_log import StructuredTraceHandler, attach
    from compile_lens.instrument.vllm import files
    from compile_lens.record.raw import JsonlSink

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
    threading.Thread(target=_watch_flush_requests, args=(directory,), daemon=True,
                     name="compile_lens-flush").start()
    atexit.register(finish)
    multiprocessing.util.Finalize(None, finish, exitpriority=100)
    return True


FLUSH_REQUEST = "flush.request"
FLUSH_POLL_S = 0.2


def _flushed_path(directory: str | Path, pid: int) -> Path:
    return Path(directory) / f"flushed-{pid}"


def _watch_flush_requests(directory: str) -> None:
    """Answer the tracing process's flush requests until this process finishes.

    The ``trace()`` block usually ends while vLLM's EngineCore and workers live on (the ``LLM``
    object outlives the block), so their end-of-process reports would come too late. When the
    block ends, the tracing process writes a token to ``flush.request``; this thread then emits
    the cumulative replay counts and counters (events, as at exit) and writes the token to
    ``flushed-<pid>``. One ``stat`` every 0.2 s, off vLLM's threads: no per-step work.
    """
    from compile_lens.instrument.vllm import _state, files, runtime

    request, answered = Path(directory) / FLUSH_REQUEST, ""
    while _PROC.get("pid") == os.getpid() and not _PROC.get("finished"):
        time.sleep(FLUSH_POLL_S)
        try:
            token = request.read_text(encoding="utf-8") if request.exists() else ""
        except OSError:
            return  # the session directory is gone: the trace has ended
        if not token or token == answered:
            continue
        _state.GUARD.run("vllm.flush", runtime.report_replays)
        _state.GUARD.run("vllm.flush", files.report_counters)
        with _LOCK, contextlib.suppress(OSError):
            _write_meta()
        answered = token
        with contextlib.suppress(OSError):
            _flushed_path(directory, os.getpid()).write_text(token, encoding="utf-8")


def request_flush(directory: str | Path, timeout_s: float = 5.0) -> list[int]:
    """Ask every live recording process to report its counters now; wait for the answers.

    Returns the pids that did not answer within ``timeout_s`` (dead or stuck processes are not
    waited for: a process whose description says it exited, or whose pid is gone, is skipped).
    """
    directory = Path(directory)
    pids = [pid for pid in _described_pids(directory) if _alive(pid)]
    if not pids:
        return []
    token = f"{os.getpid()}-{time.time_ns()}"
    (directory / FLUSH_REQUEST).write_text(token, encoding="utf-8")
    deadline = time.monotonic() + timeout_s
    waiting = set(pids)
    while waiting and time.monotonic() < deadline:
        for pid in list(waiting):
            with contextlib.suppress(OSError):
                if _flushed_path(directory, pid).read_text(encoding="utf-8") == token:
                    waiting.discard(pid)
            if pid in waiting and not _alive(pid):
                waiting.discard(pid)
        if waiting:
            time.sleep(0.02)
    return sorted(waiting)


def _described_pids(directory: Path) -> list[int]:
    pids = []
    for path in sorted(directory.glob("process-*.json")):
        with contextlib.suppress(OSError, ValueError):
            meta = json.loads(path.read_text(encoding="utf-8"))
            if meta.get("state") == "running" and int(meta["pid"]) != os.getpid():
                pids.append(int(meta["pid"]))
    return pids


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs. An exited process its parent has not reaped yet (a zombie: vLLM's
    EngineCore, shut down when the ``LLM`` went away inside the block) still answers signal 0
    but will never answer a flush; waiting for it cost every such trace the full timeout."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _exited_unreaped(pid)


def _exited_unreaped(pid: int) -> bool:
    """Zombie or dead by ``/proc`` (``record.merge.exited_unreaped``, imported when needed)."""
    from compile_lens.record.merge import exited_unreaped

    return exited_unreaped(pid)


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
