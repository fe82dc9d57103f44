"""Observe each piece × compile range: ``PiecewiseBackend.__init__`` and ``CompilerManager.compile``.

Stage 1 (instrument). ``PiecewiseBackend.__init__`` compiles every range of its piece up front
(PR #35472), so wrapping it tells ``CompilerManager.compile`` which submodule it is compiling.
``CompilerManager.compile`` is the best per-piece hook (docs/design/vllm-hooks.md §3): around the original
call it emits ``piece_start``/``piece_end`` with

* the outcome: ``loaded`` (``CompilerManager.load`` returned an artifact from vLLM's cache),
  ``deduplicated`` (the result *is* an artifact compiled earlier in this process: vLLM raised its
  ``StopCompiling`` (a ``BaseException``) inside the compile, which we never catch), ``cache_hit``
  (Inductor's own AOTAutograd cache hit) or ``compiled``;
* the legacy key: captured live by the transparent ``autograd_cache_key`` wrapper, and found by
  identity in ``loaded_artifacts`` (covers loads and dedups, where no key is computed);
* the handle and artifact path from ``CompilerManager.cache``; the seconds;
* the standalone key computed up front (``keys``) for the cross-check.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import time
from typing import Any

from compile_lens import _events
from compile_lens._events import Outcome
from compile_lens.instrument.vllm import _state, keys, warm
from compile_lens.instrument.vllm._state import GUARD, PieceFrame, emit


def wrap_piecewise_init(original: Any) -> Any:
    """Class-level wrapper of ``PiecewiseBackend.__init__`` (names the piece being compiled)."""
    signature = inspect.signature(original)

    @functools.wraps(original)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        GUARD.run("vllm.worker_hooks", _worker_hooks)
        owner = GUARD.run("vllm.piecewise_backend", _owner, signature, self, args, kwargs)
        token = _state.OWNER.set(owner)
        try:
            original(self, *args, **kwargs)
        finally:
            _state.OWNER.reset(token)
        if owner is not None and getattr(self, "compiled_runnables", None) is not None:
            GUARD.run("vllm.warm_start", warm.report_loaded_backend, self, owner)

    return __init__


def _worker_hooks() -> None:
    from compile_lens.instrument import vllm

    vllm.install_worker_hooks()


def _owner(signature: inspect.Signature, backend: Any, args: tuple[Any, ...],
           kwargs: dict[str, Any]) -> tuple[_state.GraphInfo | None, str, int]:
    bound = signature.bind(backend, *args, **kwargs).arguments
    info = _state.BACKENDS.get(bound.get("vllm_backend"))
    index = int(bound.get("piecewise_compile_index", 0))
    submod = str(bound.get("submod_name") or "")
    if not submod and info is not None and index < len(info.compiled_submods):
        submod = info.compiled_submods[index]
    return info, submod or f"piece_{index}", index


def _piece_name(info: _state.GraphInfo, graph_index: int) -> str:
    owner = _state.OWNER.get()
    if owner is not None and owner[0] is info and owner[2] == graph_index:
        return owner[1]
    if graph_index < len(info.compiled_submods):
        return info.compiled_submods[graph_index]
    return f"piece_{graph_index}"


def _aot_cache_hits() -> int:
    from torch._dynamo.utils import counters

    return int(counters["aot_autograd"]["autograd_cache_hit"])


class _Compile:
    """One observed ``CompilerManager.compile`` call (what we know before and after it)."""

    def __init__(self, manager: Any, bound: dict[str, Any]) -> None:
        self.manager = manager
        self.info = _state.MANAGERS.get(manager) or _state.new_graph()
        self.range = bound.get("compile_range")
        self.graph_index = int(bound.get("graph_index", 0))
        self.frame = PieceFrame(self.info, _piece_name(self.info, self.graph_index),
                                _state.size_label(self.range))
        loaded = getattr(manager, "loaded_artifacts", {}) or {}
        self.before = {k: id(v) for k, v in loaded.items()}
        self.hits = _aot_cache_hits()
        self.where = _events.where(self.info.graph_key, self.frame.submod, self.frame.size)
        emit(_events.PIECE_START, self.where)
        self.standalone: tuple[str | None, list[str], str] = (None, [], "")
        key_start = time.perf_counter()
        if self.info.compiler in keys.KEYED_COMPILERS:
            self.standalone = keys.standalone_key(
                manager, bound.get("graph"), list(bound.get("example_inputs") or []),
                dict(bound.get("additional_inductor_config") or {}), self.range)
        self.start = time.perf_counter()
        self.key_seconds = self.start - key_start

    def _key_of(self, result: Any) -> str | None:
        loaded = getattr(self.manager, "loaded_artifacts", {}) or {}
        return next((k for k, v in loaded.items() if v is result), None)

    def _outcome(self, key: str | None) -> tuple[Outcome, str | None]:
        if self.frame.loaded:
            return Outcome.LOADED, None
        if key is not None and key in self.before:
            return Outcome.DEDUPLICATED, self.info.first_by_key.get(key)
        return (Outcome.CACHE_HIT if _aot_cache_hits() > self.hits else Outcome.COMPILED), None

    def finish(self, result: Any, seconds: float, legacy: Any) -> None:
        """Classify and report the compile that just returned ``result``."""
        key = self._key_of(result)
        outcome, dedup_of = self._outcome(key)
        live = getattr(legacy, "key", None)
        legacy_key = key or live
        notes = [n for n in (self.standalone[2],) if n]
        if live and key and live != key:
            notes.append(f"the live legacy key {live} differs from vLLM's stored key {key}")
        handle = _handle(self.manager, self.range, self.graph_index)
        emit(_events.PIECE_END, _events.piece_end(
            self.where, outcome, seconds, legacy_key=legacy_key,
            standalone_key=self.standalone[0], dedup_of=dedup_of, key_seconds=self.key_seconds,
            artifact_path=handle[1] if handle else None, note="; ".join(notes),
            handle=list(handle) if handle else None, graph_index=self.graph_index,
            compile_range=_range_pair(self.range), compiler=self.info.compiler,
            prefix=self.info.prefix))
        for k, lines in ((self.standalone[0], self.standalone[1]),
                         (live, list(getattr(legacy, "lines", []) or []))):
            if k and lines:
                emit(_events.KEY_LINES, lambda k=k, lines=lines: {"key": k, "lines": lines})
        if legacy_key:
            self.info.first_by_key.setdefault(legacy_key, self.frame.submod)

    def failed(self, seconds: float) -> None:
        """Close the piece scope when vLLM's compile raised (the exception propagates as is)."""
        try:
            emit(_events.PIECE_END, _events.piece_end(
                self.where, Outcome.FAILED, seconds, standalone_key=self.standalone[0],
                note="vLLM's compile raised; see the exception"))
        except Exception:  # never mask vLLM's own exception
            return


def _handle(manager: Any, compile_range: Any, graph_index: int) -> tuple[str, str] | None:
    compiler = getattr(getattr(manager, "compiler", None), "name", None)
    entry = (getattr(manager, "cache", {}) or {}).get((compile_range, graph_index, compiler))
    handle = entry.get("graph_handle") if isinstance(entry, dict) else entry
    if isinstance(handle, tuple | list) and len(handle) == 2:
        return str(handle[0]), str(handle[1])
    return None


def _range_pair(compile_range: Any) -> list[int] | None:
    start, end = getattr(compile_range, "start", None), getattr(compile_range, "end", None)
    return [int(start), int(end)] if isinstance(start, int) and isinstance(end, int) else None


def wrap_compile(original: Any) -> Any:
    """Class-level wrapper of ``CompilerManager.compile``; result and exceptions untouched."""
    signature = inspect.signature(original)

    @functools.wraps(original)
    def compile(self: Any, *args: Any, **kwargs: Any) -> Any:
        seen: _Compile | None = GUARD.run("vllm.compile.start", _start, signature, self, args,
                                          kwargs)
        returned = False
        try:
            with contextlib.ExitStack() as stack:
                legacy = None
                if seen is not None:
                    token = _state.PIECE.set(seen.frame)
                    stack.callback(_state.PIECE.reset, token)
                    legacy = GUARD.run("vllm.legacy_key", _capture_legacy, stack)
                result = original(self, *args, **kwargs)
                returned = True
        finally:
            if seen is not None and not returned:
                seen.failed(time.perf_counter() - seen.start)
        if seen is not None:
            GUARD.run("vllm.compile.end", seen.finish, result,
                      time.perf_counter() - seen.start, legacy)
        return result

    return compile


def _start(signature: inspect.Signature, manager: Any, args: tuple[Any, ...],
           kwargs: dict[str, Any]) -> _Compile:
    bound = signature.bind(manager, *args, **kwargs)
    bound.apply_defaults()
    return _Compile(manager, bound.arguments)


def _capture_legacy(stack: contextlib.ExitStack) -> Any:
    from compile_lens._torch.keys import capture_legacy_key

    return stack.enter_context(capture_legacy_key())


def wrap_load(original: Any) -> Any:
    """Class-level wrapper of ``CompilerManager.load``: notes that the piece came from the cache."""

    @functools.wraps(original)
    def load(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        frame = _state.PIECE.get()
        if frame is not None and result is not None:
            frame.loaded = True
        return result

    return load
