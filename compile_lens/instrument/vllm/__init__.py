"""Stage 1: observers of vLLM's piecewise compilation (``vllm.compilation``), as compile events.

``install(strict)`` wraps, at class or module level and through ``_torch.patching``, the
places docs/design/vllm-hooks.md §6 lists, each feature-detected against the installed vLLM (never its
version string). The tracer imports none of vLLM's modules: a hook whose module vLLM has already
imported goes in at once, the others the moment vLLM imports their module (a post-import hook on
``sys.meta_path``, ``lazy``), so entering ``trace()`` costs no vLLM import:

==============================================================  ==========================================
target                                                          reports
==============================================================  ==========================================
``backends.VllmBackend.__call__``                               Dynamo graph (before the split mutates it),
                                                                cache dir + files, counters
``backends.split_graph``                                        pieces and split ops, before they compile
``piecewise_backend.PiecewiseBackend.__init__``                 which piece compiles; mega warm-start loads
``backends.CompilerManager.compile`` / ``.load``                per piece × range: outcome, legacy and
                                                                standalone keys, handle, seconds
``backends.VllmBackend.collect_standalone_compile_artifacts``   artifact sha256 per piece (cold mega)
``caching.reconstruct_serializable_fn_from_mega_artifact``      the mega-artifact warm start
``decorators._try_load_aot_compiled_fn``                        the AOT model file loaded (or not)
``passes.vllm_inductor_pass.VllmInductorPass.end_and_log``      vLLM pass timings
``passes.ir.lowering_pass.VllmIRLoweringPass.__call__``         IR lowering choices (``selected_impls``)
``cuda_graph.CUDAGraphWrapper.__call__`` (platform class)       CUDA-graph captures (FULL and PIECEWISE,
                                                                per piece or whole model) and replays
model runner logger (``Graph capturing finished …``)            vLLM's own account of the capture phase
==============================================================  ==========================================

Every wrapper calls the original with the same arguments and returns its result unchanged;
exceptions (vLLM's ``StopCompiling`` included) pass through untouched; observer failures are
reported once and the compile goes on (``strict=True`` raises ``InstrumentationError``). Events go
to torch's structured trace stream (``compile_lens._events``), so the same recorder builds graphs,
pieces and compiles for vLLM as for the embedded backend, in this process or (through the
``vllm.general_plugins`` entry point, ``compile_lens.instrument.vllm_plugin``) in vLLM's EngineCore
and worker processes. vLLM-specific events (``vllm_pass``, ``vllm_lowering``, ``vllm_artifact``,
``vllm_counters``, ``issue``) are turned into model records by ``records``.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import sys
import threading
from collections.abc import Callable
from typing import Any

from compile_lens import _events
from compile_lens._torch.patching import Patch, patched, resolve
from compile_lens.instrument.vllm import _state, compiles, files, graphs, lazy, runtime, warm
from compile_lens.instrument.vllm._state import emit

_B = "vllm.compilation.backends"
HOOKS: tuple[tuple[str, Callable[[Any], Any], bool], ...] = (
    (f"{_B}:VllmBackend.__call__", graphs.wrap_backend_call, True),
    (f"{_B}:split_graph", graphs.wrap_split_graph, False),
    (f"{_B}:CompilerManager.compile", compiles.wrap_compile, True),
    (f"{_B}:CompilerManager.load", compiles.wrap_load, False),
    ("vllm.compilation.piecewise_backend:PiecewiseBackend.__init__",
     compiles.wrap_piecewise_init, True),
    (f"{_B}:VllmBackend.collect_standalone_compile_artifacts", warm.wrap_collect_artifacts, False),
    ("vllm.compilation.caching:reconstruct_serializable_fn_from_mega_artifact",
     warm.wrap_reconstruct, False),
    ("vllm.compilation.decorators:_try_load_aot_compiled_fn", warm.wrap_try_load_aot, False),
    ("vllm.compilation.passes.vllm_inductor_pass:VllmInductorPass.end_and_log",
     runtime.wrap_end_and_log, False),
    ("vllm.compilation.passes.ir.lowering_pass:VllmIRLoweringPass.__call__",
     runtime.wrap_lowering_call, False),
    ("vllm.compilation.cuda_graph:CUDAGraphWrapper.__call__", runtime.wrap_static_graph_call, False),
    (f"{_B}:trace_structured", graphs.wrap_vllm_trace_structured, False),
    ("vllm.compilation.piecewise_backend:trace_structured", graphs.wrap_vllm_trace_structured,
     False),
)
"""``(target, wrapper factory, required)``; a missing optional target is noted, not an error."""

_V2 = "vllm.v1.worker.gpu.cudagraph_utils"
WORKER_HOOKS: tuple[tuple[str, Callable[[Any], Any]], ...] = (
    (f"{_V2}:CudaGraphManager.capture", runtime.wrap_manager_capture),
    (f"{_V2}:CudaGraphManager.run_fullgraph", runtime.wrap_run_fullgraph),
)
"""Hooks in modules only the model-running process imports (vLLM's V2 model runner captures its
FULL graphs itself). Like every hook they go in when vLLM imports their module, so the user's
process never gets worker modules from us; all of them are optional."""

_INSTALL: dict[str, Any] = {"depth": 0, "pid": None}
WHY = "observe vLLM's compilation (docs/design/vllm-hooks.md §6)"


def _module_of(target: str) -> str:
    return target.partition(":")[0]


def _platform_wrapper_target() -> str | None:
    """The platform's own static graph wrapper class, when it is not ``CUDAGraphWrapper``.

    Only once vLLM has resolved its platform: resolving it here would run vLLM's platform
    detection (imports, device probes) for the tracer. Until then ``install_worker_hooks``
    asks again when a piece compiles, by which time vLLM knows its platform.
    """
    platforms = sys.modules.get("vllm.platforms")
    platform = getattr(platforms, "_current_platform", None) if platforms is not None else None
    if platform is None:
        return None
    try:
        qualname = str(platform.get_static_graph_wrapper_cls())
    except Exception:  # an odd platform class; captures are optional
        return None
    module, _, name = qualname.rpartition(".")
    if not module or name in ("CUDAGraphWrapper", "AbstractStaticGraphWrapper"):
        return None
    return f"{module}:{name}.__call__"


class _Hooks:
    """The declared patches of one ``install``: in place now where vLLM has imported the module,
    otherwise the moment vLLM imports it (``lazy.PostImportHooks``); the tracer itself never
    imports a vLLM module. Every patch goes on ``stack``, so the undo restores all of them.

    A *required* target whose module is imported but lacks it raises ``InstrumentationError``
    (at install, or at vLLM's import of the module under ``strict``; otherwise an issue and a
    warning); a missing optional one is listed in ``missing`` and noted in the trace.
    """

    def __init__(self, stack: contextlib.ExitStack) -> None:
        self.stack = stack
        self.sources: dict[str, str] = {}
        self.missing: list[str] = []
        self.pending: dict[str, list[tuple[str, Callable[[Any], Any], bool]]] = {}
        self.lock = threading.RLock()
        self.finder = lazy.PostImportHooks(self._imported)
        self.platform_checked = False
        self.closed = False

    def start(self) -> None:
        """Patch what is imported, watch the rest (``HOOKS``, ``WORKER_HOOKS``, the platform's)."""
        self.stack.callback(self.finder.close)
        self.finder.open()
        self.add([*HOOKS, *((t, make, False) for t, make in WORKER_HOOKS)])
        self.add_platform_wrapper()

    def add(self, hooks: list[tuple[str, Callable[[Any], Any], bool]]) -> None:
        with self.lock:
            for hook in hooks:
                self.pending.setdefault(_module_of(hook[0]), []).append(hook)
            for module in list(self.pending):
                if module in sys.modules:
                    self._apply(module)
                else:
                    self.finder.watch(module)

    def add_platform_wrapper(self) -> None:
        """Watch the platform's own graph wrapper once vLLM has resolved its platform."""
        with self.lock:
            if self.platform_checked or "vllm.platforms" not in sys.modules:
                return
            if getattr(sys.modules["vllm.platforms"], "_current_platform", None) is None:
                return
            self.platform_checked = True
            target = _platform_wrapper_target()
            if target:
                self.add([(target, runtime.wrap_static_graph_call, False)])

    def close(self) -> None:
        """No patch goes in any more (before the stack restores the ones in place)."""
        with self.lock:
            self.closed = True
            self.finder.close()

    def catch_up(self) -> None:
        """Patch watched modules that got imported without passing our finder (safety net)."""
        with self.lock:
            if self.closed:
                return
            for module in [m for m in self.pending if m in sys.modules]:
                _state.GUARD.run("vllm.install", self._apply, module)

    def _apply(self, module: str) -> None:
        with self.lock:
            patches = []
            for target, make, required in self.pending.pop(module, []):
                try:
                    value = resolve(target)[2]
                except Exception:
                    if required:
                        raise
                    self.missing.append(target)
                    continue
                patches.append(Patch(target, make, why=WHY))
                with contextlib.suppress(TypeError, OSError, ValueError):
                    self.sources[target] = str(inspect.getsourcefile(inspect.unwrap(value)))
            if patches:
                self.stack.enter_context(patched(*patches))

    def _imported(self, module: str) -> None:
        """vLLM just imported ``module``: its patches go in, and the trace hears which."""
        with self.lock:
            if self.closed or module not in self.pending:
                return
            missing = len(self.missing)
            _state.GUARD.run("vllm.install", self._apply, module)
            _state.GUARD.run("vllm.install", self.report, self.missing[missing:])

    def report(self, newly_missing: list[str] | None = None) -> None:
        """The hooks in place so far (the last report of a process is the complete one)."""
        vllm = sys.modules.get("vllm")
        watched = sorted(t for hooks in self.pending.values() for t, _, _ in hooks)
        emit(_events.VLLM_HOOKS, {"vllm_version": str(getattr(vllm, "__version__", "")),
                                  "hooks": dict(self.sources), "missing": list(self.missing),
                                  "not_imported": watched, "pid": os.getpid()})
        for target in self.missing if newly_missing is None else newly_missing:
            emit(_events.NOTE, {"message": f"this vLLM has no {target}; that part of vLLM's "
                                           "compilation is not observed"})


def install(strict: bool) -> Callable[[], None]:
    """Wrap vLLM's compilation for observation; returns the undo callable (idempotent).

    Call with ``"vllm" in sys.modules``. Nothing of vLLM is imported here: a hook whose module
    vLLM has imported goes in now, the others when vLLM imports their module (``_Hooks``). A
    second call while installed (a forked child inherits the patches) returns a no-op undo. A
    missing *required* target raises ``InstrumentationError`` naming it; missing optional ones
    are noted in the trace.
    """
    if _INSTALL["depth"]:
        _INSTALL["depth"] += 1
        return _release
    _state.GUARD.reset(strict)
    stack = contextlib.ExitStack()
    hooks = _Hooks(stack)
    try:
        hooks.start()
        files.set_baseline()
        runtime.reset()
        stack.callback(runtime.install_capture_account())
        _state.GUARD.run("vllm.install", hooks.report)
    except BaseException:
        stack.close()  # a strict failure must not leave vLLM patched
        raise
    _INSTALL.update(depth=1, pid=os.getpid(), stack=stack, hooks=hooks)
    if not _FORK_HOOK:
        os.register_at_fork(after_in_child=_after_fork_in_child)
        _FORK_HOOK.append(True)
    return _release


_FORK_HOOK: list[bool] = []
SESSION_DIR_ENV = "COMPILE_LENS_SESSION_DIR"


def _after_fork_in_child() -> None:
    """Record a process forked while the observers are installed (vLLM's EngineCore, workers).

    vLLM loads its plugins once per interpreter: a forked EngineCore inherits "plugins loaded"
    and never calls our ``vllm.general_plugins`` entry point, so a fork of a traced process
    starts recording here instead (the patches came along with the fork). Outside a trace this
    does nothing; ``subprocess`` children (fork + exec) never run fork hooks.
    """
    if not _INSTALL["depth"] or _INSTALL.get("pid") == os.getpid():
        return
    directory = os.environ.get(SESSION_DIR_ENV)
    if not directory or not os.path.isdir(directory):
        return
    try:
        from compile_lens.instrument.vllm import process

        process.start(directory)
    except Exception as exc:  # a fork hook must never stop vLLM's process from starting
        import warnings

        warnings.warn(f"compile_lens: could not trace this forked process "
                      f"({type(exc).__name__}: {exc}); it runs untraced", RuntimeWarning,
                      stacklevel=2)


def install_worker_hooks() -> None:
    """A piece compiles or loads in this process: vLLM knows its platform now, so its own
    static graph wrapper is watched too; and any watched module imported behind our finder's
    back is patched."""
    hooks = _INSTALL.get("hooks")
    if hooks is None:
        return
    hooks.add_platform_wrapper()
    hooks.catch_up()


def _release() -> None:
    """Undo one ``install``; the last one reports final counters/replays and restores vLLM."""
    if _INSTALL["depth"] <= 0:
        return
    _INSTALL["depth"] -= 1
    if _INSTALL["depth"]:
        return
    stack = _INSTALL.pop("stack", None)
    hooks = _INSTALL.pop("hooks", None)
    if hooks is not None:
        hooks.close()  # first: no patch may go in after the restore below
    try:
        _state.GUARD.run("vllm.finish", runtime.report_replays)
        _state.GUARD.run("vllm.finish", files.report_counters)
    finally:
        if stack is not None:
            stack.close()


def installed() -> bool:
    """True while the vLLM observers are installed in this process."""
    return bool(_INSTALL["depth"])


__all__ = ["HOOKS", "install", "installed"]
