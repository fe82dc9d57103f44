"""Run a callback right after a watched module is imported, without importing it ourselves.

Stage 1 (instrument). Importing vLLM's compilation modules to patch them cost the tracer most
of its install time (``vllm.compilation.backends`` pulls in a large part of vLLM), and it
imported modules the user's code might never import. ``PostImportHooks`` is a ``sys.meta_path``
finder: for a watched module it asks the finders behind it for the real spec, wraps that spec's
loader, and once the module has executed (vLLM's own import, at vLLM's moment) puts the real
loader back on the module and calls ``on_import(name)``. A module already imported is never
watched: the caller patches it at once. Nothing is imported here; modules nobody imports are
never touched.
"""

from __future__ import annotations

import importlib.abc
import sys
import threading
from collections.abc import Callable
from typing import Any


class _Loader(importlib.abc.Loader):
    """A module's own loader, plus a call after the module has executed.

    Every other attribute (``get_source``, ``get_filename``, ``is_package``…) is the real
    loader's; after ``exec_module`` the module's ``__loader__`` and ``__spec__.loader`` are the
    real loader again, as a plain import leaves them.
    """

    def __init__(self, loader: Any, done: Callable[[str], None]) -> None:
        self._loader = loader
        self._done = done

    def create_module(self, spec: Any) -> Any:
        create = getattr(self._loader, "create_module", None)
        return create(spec) if create is not None else None

    def exec_module(self, module: Any) -> None:
        try:
            self._loader.exec_module(module)
        finally:
            if getattr(module, "__loader__", None) is self:
                module.__loader__ = self._loader
            spec = getattr(module, "__spec__", None)
            if spec is not None and spec.loader is self:
                spec.loader = self._loader
        self._done(module.__name__)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)


class PostImportHooks(importlib.abc.MetaPathFinder):
    """Calls ``on_import(name)`` right after a watched module is imported (once per module)."""

    def __init__(self, on_import: Callable[[str], None]) -> None:
        self._on_import = on_import
        self._watched: set[str] = set()
        self._finding: set[str] = set()
        self._lock = threading.RLock()

    def open(self) -> None:
        """Go first on ``sys.meta_path`` (before anything imports a watched module)."""
        if self not in sys.meta_path:
            sys.meta_path.insert(0, self)

    def close(self) -> None:
        """Leave ``sys.meta_path``; nothing watched any more (idempotent)."""
        with self._lock:
            self._watched.clear()
        while self in sys.meta_path:
            sys.meta_path.remove(self)

    def watch(self, name: str) -> None:
        """Call back once ``name`` is imported (the caller checked it is not imported yet)."""
        with self._lock:
            self._watched.add(name)

    def watched(self) -> set[str]:
        """The modules still waiting to be imported."""
        with self._lock:
            return set(self._watched)

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        """The real spec of a watched module, with its loader wrapped; ``None`` otherwise."""
        with self._lock:
            if fullname not in self._watched or fullname in self._finding:
                return None
            self._finding.add(fullname)
        try:
            spec = None
            for finder in list(sys.meta_path):
                find = getattr(finder, "find_spec", None)
                if finder is self or find is None:
                    continue
                spec = find(fullname, path, target)
                if spec is not None:
                    break
        finally:
            with self._lock:
                self._finding.discard(fullname)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return None  # let the import system find it as it would without us
        spec.loader = _Loader(spec.loader, self._imported)
        return spec

    def _imported(self, name: str) -> None:
        with self._lock:
            if name not in self._watched:
                return  # closed meanwhile: the trace is over
            self._watched.discard(name)
        self._on_import(name)
