"""Record Inductor's autotune picks (``max-autotune`` GEMM templates vs cuBLAS and the rest).

Stage 1 (instrument). ``torch._inductor.select_algorithm.add_feedback_saver(fn)`` calls ``fn``
after every algorithm selection that timed its choices (docs/design/torch-hooks.md §5): the op (``mm``,
``addmm``…), the input nodes, and a time per choice (a Triton template config, ``extern_mm`` =
cuBLAS, …). The saver turns that into a ``compile_lens_autotune`` event; the recorder files it
under the piece being compiled.

Key-neutral (savers are not a cache-key factor) and off the runtime hot path (selection happens
while compiling). ``clear_feedback_savers()`` would remove every owner's saver, so ``install``'s
undo removes only its own. An exception in a saver would abort the user's compile, so the saver
catches ``Exception`` and reports it to ``on_error`` (fail open).
"""

from __future__ import annotations

import contextlib
import math
import sys
from collections.abc import Callable
from typing import Any

from compile_lens import _events
from compile_lens._torch.patching import Patch, patched

_SELECTOR = "torch._inductor.select_algorithm"
_SAVER_NAME = "compile_lens_autotune_saver"
MAX_CHOICES = 12  # the fastest choices kept per selection (max-autotune times 15-25)


def _choice_name(choice: Any) -> str:
    name = getattr(choice, "name", None) or type(choice).__name__
    desc = getattr(choice, "description", "")
    return f"{name} ({desc})" if desc else str(name)


def _node_shape(node: Any) -> str:
    try:
        size = [str(s) for s in node.get_size()]
        return f"{node.get_dtype()}[{', '.join(size)}]".replace("torch.", "")
    except Exception:  # an input node without a layout: fall back to its repr's head
        return type(node).__name__


def payload(timings: dict[Any, float], name: str, input_nodes: Any,
            precompile_times: Any = None) -> dict[str, Any]:
    """The event body: choices by time (ms, fastest first; ``None`` = failed to run)."""
    times = [(float(t), _choice_name(c)) for c, t in timings.items()]
    finite = sorted((t, c) for t, c in times if math.isfinite(t))
    failed = sorted(c for t, c in times if not math.isfinite(t))
    ranked = [[c, t] for t, c in finite] + [[c, None] for c in failed]
    return {
        "op": str(name),
        "input_shapes": [_node_shape(n) for n in (input_nodes or [])],
        "picked": finite[0][1] if finite else None,
        "picked_ms": finite[0][0] if finite else None,
        "choices": ranked[:MAX_CHOICES], "num_choices": len(ranked), "failed": len(failed),
        "precompile_s": _total(precompile_times),
    }


def _total(precompile_times: Any) -> float | None:
    if isinstance(precompile_times, dict):
        values = [float(v) for v in precompile_times.values() if isinstance(v, int | float)]
        return round(sum(values), 6) if values else None
    return None


def install(on_error: Callable[[str, Exception], None]) -> Callable[[], None]:
    """Record autotune picks; the returned undo removes exactly what this installed.

    If Inductor's selector is not imported yet, the saver is attached when the first Dynamo
    compile starts (importing it here would bill the tracer for an import the compile makes
    anyway).
    """
    if _SELECTOR in sys.modules:
        return _attach(on_error)
    import torch._dynamo.callback as dynamo_callback

    added: list[Callable[[], None]] = []

    def compile_lens_autotune_on_start(*_: Any) -> None:
        try:
            if not added:
                added.append(_attach(on_error))
        except Exception as exc:  # Dynamo runs start callbacks unguarded
            on_error("autotune", exc)

    dynamo_callback.on_compile_start(compile_lens_autotune_on_start)

    def undo() -> None:
        # torch._dynamo.reset() inside the block clears Dynamo's callbacks: ours may be gone.
        handler = dynamo_callback.callback_handler
        if compile_lens_autotune_on_start in getattr(handler, "start_callbacks", ()):
            handler.remove_start_callback(compile_lens_autotune_on_start)
        for step in added:
            step()

    return undo


def _attach(on_error: Callable[[str, Exception], None]) -> Callable[[], None]:
    """Add the saver to Inductor's selector cache, never creating that cache.

    Creating it (``get_algorithm_selector_cache()``, ``add_feedback_saver``) reads the system's
    cache factors, which calls ``torch.cuda.current_device()``: that would initialize CUDA in a
    process that had not (vLLM then starts its workers with ``spawn`` instead of ``fork``). So an
    existing cache gets the saver now; otherwise the cache class's ``__init__`` is wrapped for
    the trace and each cache Inductor creates gets the saver when Inductor creates it.
    """
    from torch._inductor import select_algorithm

    caches: list[Any] = []
    saver = _make_saver(on_error)
    stack = contextlib.ExitStack()
    existing = getattr(select_algorithm, "_ALGORITHM_SELECTOR_CACHE", None)
    if existing is not None:
        if _has_saver(existing):
            return lambda: None  # already recording (another trace session installed it)
        existing.feedback_saver_fns.append(saver)
        caches.append(existing)
    else:
        def make(original: Any) -> Any:
            def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
                original(self, *args, **kwargs)
                if not _has_saver(self):
                    self.feedback_saver_fns.append(saver)
                    caches.append(self)

            return __init__

        stack.enter_context(patched(Patch(
            _CACHE_INIT, make, why="record autotune picks without creating Inductor's selector "
                                   "cache (that would initialize CUDA)")))

    def undo() -> None:
        stack.close()
        for cache in caches:
            savers = cache.feedback_saver_fns
            while saver in savers:
                savers.remove(saver)

    return undo


_CACHE_INIT = "torch._inductor.select_algorithm:AlgorithmSelectorCache.__init__"


def _has_saver(cache: Any) -> bool:
    return any(getattr(f, "__name__", "") == _SAVER_NAME for f in cache.feedback_saver_fns)


def _make_saver(on_error: Callable[[str, Exception], None]) -> Callable[..., None]:
    def compile_lens_autotune_saver(timings: Any, name: Any, input_nodes: Any, choices: Any,
                                    profiled_bench_thunk: Any, precompile_times: Any = None,
                                    *_: Any) -> None:
        try:
            _events.emit("autotune", lambda: payload(timings, name, input_nodes, precompile_times))
        except Exception as exc:  # never break the user's compile
            on_error("autotune", exc)

    return compile_lens_autotune_saver


def installed_savers() -> list[Any]:
    """The feedback savers now installed on Inductor's selector cache (tests check that undo
    leaves others' in place); empty while no cache exists."""
    from torch._inductor import select_algorithm

    cache = getattr(select_algorithm, "_ALGORITHM_SELECTOR_CACHE", None)
    return list(cache.feedback_saver_fns) if cache is not None else []
