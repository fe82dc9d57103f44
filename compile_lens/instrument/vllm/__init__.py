"""Stage 1: observers of vLLM's piecewise compilation (``vllm.compilation``), as compile events.

``install(strict)`` wraps, at class or module level and through ``_torch.patching``, the
places docs/design/vllm-hooks.md §6 lists, each feature-detected against the installed vLLM (never its
version string):

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
from collections.abc import Callable
from typing import Any

from compile_lens import _events
from compile_lens._torch.patching import Patch, patched, resolve
from compile_lens.instrument.vllm import _state, compiles, files, graphs, runtime, warm
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
FULL graphs itself). Resolving them at ``install`` would import worker modules into the user's
process, so they go in once a piece compiles or loads there (``install_worker_hooks``): by then
the model runner is imported, and its capture phase has not begun. Absent modules are skipped."""

_INSTALL: dict[str, Any] = {"depth": 0, "pid": None}


def _platform_wrapper_target() -> str | None:
    """The platform's own static graph wrapper class, when it is not ``CUDAGraphWrapper``."""
    try:
        from vllm.platforms import current_platform

        qualname = str(current_platform.get_static_graph_wrapper_cls())
    except Exception:  # platform detection can fail on odd machines; captures are optional
        return None
    module, _, name = qualname.rpartition(".")
    if not module or name in ("CUDAGraphWrapper", "AbstractStaticGraphWrapper"):
        return None
    return f"{module}:{name}.__call__"


def _available() -> tuple[list[Patch], dict[str, str], list[str]]:
    """The patches this vLLM supports, their source files, and the optional ones it lacks."""
    hooks = list(HOOKS)
    extra = _platform_wrapper_target()
    if extra:
        hooks.append((extra, runtime.wrap_static_graph_call, False))
    patches, sources, missing = [], {}, []
    for target, make, required in hooks:
        try:
            value = resolve(target)[2]
        except Exception:
            if required:
                raise
            missing.append(target)
            continue
        patches.append(Patch(target, make, why="observe vLLM's compilation (docs/design/vllm-hooks.md §6)"))
        with contextlib.suppress(TypeError, OSError, ValueError):
            sources[target] = str(inspect.getsourcefile(inspect.unwrap(value)))
    return patches, sources, missing


def _report_hooks(sources: dict[str, str], missing: list[str]) -> None:
    import vllm

    emit(_events.VLLM_HOOKS, {"vllm_version": str(getattr(vllm, "__version__", "")),
                        "hooks": sources, "missing": missing, "pid": os.getpid()})
    for target in missing:
        emit(_events.NOTE, {"message": f"this vLLM has no {target}; that part of vLLM's compilation "
                                 "is not observed"})


def install(strict: bool) -> Callable[[], None]:
    """Wrap vLLM's compilation for observation; returns the undo callable (idempotent).

    Call with ``"vllm" in sys.modules``. A second call while installed (a forked child inherits
    the patches) returns a no-op undo. A missing *required* target raises
    ``InstrumentationError`` naming it; missing optional ones are noted in the trace.
    """
    if _INSTALL["depth"]:
        _INSTALL["depth"] += 1
        return _release
    patches, sources, missing = _available()
    _state.GUARD.reset(strict)
    stack = contextlib.ExitStack()
    stack.enter_context(patched(*patches))
    try:
        files.set_baseline()
        runtime.reset()
        stack.callback(runtime.install_capture_account())
        _state.GUARD.run("vllm.install", _report_hooks, sources, missing)
    except BaseException:
        stack.close()  # a strict failure must not leave vLLM patched
        raise
    _INSTALL.update(depth=1, pid=os.getpid(), stack=stack)
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
    """Add ``WORKER_HOOKS`` whose modules this process has imported (once per install)."""
    stack = _INSTALL.get("stack")
    if stack is None or _INSTALL.get("worker_hooks"):
        return
    _INSTALL["worker_hooks"] = True
    patches = [Patch(target, make, why="observe the V2 model runner's CUDA graphs")
               for target, make in WORKER_HOOKS
               if target.partition(":")[0] in sys.modules and _resolvable(target)]
    if patches:
        stack.enter_context(patched(*patches))


def _resolvable(target: str) -> bool:
    try:
        resolve(target)
    except Exception:
        return False
    return True


def _release() -> None:
    """Undo one ``install``; the last one reports final counters/replays and restores vLLM."""
    if _INSTALL["depth"] <= 0:
        return
    _INSTALL["depth"] -= 1
    if _INSTALL["depth"]:
        return
    stack = _INSTALL.pop("stack", None)
    _INSTALL.pop("worker_hooks", None)
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
