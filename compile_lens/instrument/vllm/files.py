"""Report what vLLM wrote and counted: its cache files and ``compilation_counter`` deltas.

Stage 1 (instrument), read-only. After ``VllmBackend.__call__`` the per-prefix cache directory
(``$VLLM_CACHE_ROOT/torch_compile_cache/<hash10>/rank_<r>_<dp>/<prefix>``) holds
``cache_key_factors.json`` (the factors behind the directory name), ``computation_graph.py`` (the
split graph) and, when vLLM stored handles, ``vllm_compile_cache.py``. They are read, never
written, and sent as ``vllm_artifact`` events (the text travels with the event, so traces from
other processes keep it after the session directory is gone). ``compilation_counter`` deltas
(since ``install``) go out as cumulative ``vllm_counters`` events: the last one of a process wins.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import sys
from pathlib import Path
from typing import Any

from compile_lens import _events
from compile_lens.instrument.vllm import _state
from compile_lens.instrument.vllm._state import emit

CACHE_FILES = ("cache_key_factors.json", "computation_graph.py", "vllm_compile_cache.py")
MAX_TEXT_BYTES = 2_000_000
"""Files larger than this are referenced by path and hash only (a huge model's graph)."""

_BASELINE: dict[str, int] = {}
_PREFIX_LISTENERS: list[Any] = []


def counters() -> dict[str, int]:
    """The current values of vLLM's ``compilation_counter`` (integer fields only).

    Read only where vLLM has imported it (the tracer imports no vLLM module): before that,
    nothing has been counted, and the counter starts from zero when vLLM imports it.
    """
    module = sys.modules.get("vllm.compilation.counter")
    compilation_counter = getattr(module, "compilation_counter", None)
    if compilation_counter is None:
        return {}
    out = {}
    for f in dataclasses.fields(compilation_counter):
        value = getattr(compilation_counter, f.name, None)
        if isinstance(value, int) and not isinstance(value, bool):
            out[f.name] = value
    return out


def set_baseline() -> None:
    """Remember the counters now; later reports are deltas from here."""
    _BASELINE.clear()
    _BASELINE.update(counters())


def deltas() -> dict[str, int]:
    """Counter changes since ``set_baseline`` (only the ones that moved)."""
    now = counters()
    return {k: v - _BASELINE.get(k, 0) for k, v in sorted(now.items())
            if v != _BASELINE.get(k, 0)}


def report_counters() -> None:
    """Emit the cumulative counter deltas of this process."""
    emit(_events.VLLM_COUNTERS, {"counters": deltas(), "pid": os.getpid()})


def _file_payload(path: Path) -> dict[str, Any]:
    data = path.read_bytes()
    body: dict[str, Any] = {"name": path.name, "path": str(path), "size": len(data),
                            "sha256": hashlib.sha256(data).hexdigest()}
    if len(data) <= MAX_TEXT_BYTES:
        body["content"] = data.decode("utf-8", errors="replace")
    return body


def report_cache_files(info: _state.GraphInfo, manager: Any) -> None:
    """Emit the cache directory and the files vLLM keeps in it for this graph."""
    directory = getattr(manager, "cache_dir", None)
    if not directory:
        return
    local = Path(str(directory))
    common = {"graph_key": info.graph_key, "prefix": info.prefix}
    emit(_events.VLLM_ARTIFACT, {**common, "name": "cache_dir", "path": str(local),
                           "hash_dir": local.parent.parent.name,
                           "disabled": bool(getattr(manager, "disable_cache", False))})
    for name in CACHE_FILES:
        path = local / name
        if path.is_file():
            emit(_events.VLLM_ARTIFACT, lambda path=path: {**common, **_file_payload(path)})


def on_prefix(listener: Any) -> None:
    """Call ``listener(info)`` whenever a graph of a new prefix is seen (process descriptions)."""
    _PREFIX_LISTENERS.append(listener)


def note_prefix(info: _state.GraphInfo) -> None:
    """Tell the listeners (the plugin's process file) which prefix and rank just compiled."""
    for listener in list(_PREFIX_LISTENERS):
        listener(info)
