"""The standalone AOTAutograd key of a vLLM piece, computed the way vLLM's adaptor would compile it.

Stage 1 (instrument). What vLLM's proposed ``VLLM_DEBUG_COMPILE_CACHE_KEY`` does, without changing
vLLM's code path: before ``CompilerManager.compile`` runs, compute
``torch._inductor.standalone_compile.autograd_cache_key`` (torch ≥ 2.12) on a **deep copy** of the
piece (vLLM donates the graph to Inductor, and only a copy gives the key ``standalone_compile``
itself looks up, docs/design/torch-hooks.md §2), with the same inputs and settings
``InductorStandaloneAdaptor`` uses: ``dynamic_shapes`` (``from_example_inputs`` for a single size,
else ``from_graph``), ``aot`` (mega-artifact mode), the input fake mode, the Inductor config patches
(vLLM's pass manager included) inside the manager's ``compile_context`` (the pass context the pass
manager's ``uuid`` reads), and vLLM's functorch settings plus ``autograd_cache_normalize_inputs``.
The legacy key is captured during the real compile by the transparent ``autograd_cache_key`` wrapper
of ``compile_lens._torch.keys``; vLLM's own ``mock.patch`` wraps *our* wrapper and restores it.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import itertools
from collections.abc import Iterator
from typing import Any

from compile_lens._torch.keys import PROBE_KEY_NOTE, probe_standalone_key, standalone_key_api
from compile_lens._torch.patching import Patch, patched, resolve
from compile_lens.instrument.vllm import _state

KEYED_COMPILERS = ("inductor_standalone",)
"""Adaptors whose compile looks up an AOTAutograd key (``InductorAdaptor`` turns that cache off)."""


def _split(result: Any) -> tuple[str | None, list[str]]:
    parts: list[Any] = list(result) if isinstance(result, tuple) else []
    if parts:
        lines = parts[1] if len(parts) > 1 and isinstance(parts[1], list) else []
        return (str(parts[0]) if parts[0] is not None else None), [str(x) for x in lines]
    return (str(result) if result is not None else None), []


def _fake_mode(example_inputs: list[Any]) -> Any:
    from torch._subclasses.fake_tensor import FakeTensor

    for value in example_inputs:
        if isinstance(value, FakeTensor):
            return value.fake_mode
    return None


def _inductor_patches(config: dict[str, Any], compile_range: Any) -> dict[str, Any]:
    """vLLM's config patches for this range (its own ``set_inductor_config`` on a copy)."""
    patches = dict(config or {})
    try:
        set_inductor_config = _state.vllm_module(
            "vllm.compilation.compiler_interface").set_inductor_config
    except (ImportError, AttributeError):
        return patches
    set_inductor_config(patches, compile_range)
    return patches


def _functorch_patches() -> dict[str, Any]:
    patches: dict[str, Any] = {}
    try:
        interface = _state.vllm_module("vllm.compilation.compiler_interface")
        patches.update(interface._get_vllm_functorch_config())
    except (ImportError, AttributeError):
        pass
    from torch._functorch import config as functorch_config

    if hasattr(functorch_config, "autograd_cache_normalize_inputs"):
        patches["autograd_cache_normalize_inputs"] = True  # vLLM's dedup patch (PR #34003)
    return patches


def _uses_aot() -> bool:
    try:
        envs = _state.vllm_module("vllm.envs")
    except ImportError:
        return False
    return bool(getattr(envs, "VLLM_USE_MEGA_AOT_ARTIFACT", False))


@contextlib.contextmanager
def _fake_mode_context(fn: Any, kwargs: dict[str, Any], mode: Any) -> Iterator[None]:
    """Reuse the inputs' fake mode as vLLM's adaptor does (an argument, or its own patch)."""
    if mode is None:
        yield
    elif "fake_mode" in inspect.signature(fn).parameters:
        kwargs["fake_mode"] = mode
        yield
    else:
        patch = Patch("torch._inductor.standalone_compile:FakeTensorMode",
                      lambda _original: lambda *a, **k: mode,
                      why="reuse the inputs' fake mode, as vLLM's InductorStandaloneAdaptor does")
        with patched(patch):
            yield


AOT_COUNTER = "torch._functorch.aot_autograd:AOT_COUNTER"


def _own_aot_ids() -> contextlib.AbstractContextManager[Any]:
    """Give the key computation its own AOT id counter.

    Computing a key takes the next id of AOTAutograd's process-wide ``AOT_COUNTER`` (it builds an
    ``AOTConfig``); the real compiles after it would get shifted ids, which Inductor writes into
    the generated code (``# AOT ID: ['4_inference']``), so the artifacts vLLM saves would differ
    from an untraced run's by that comment (measured). The id is not part of the key.
    """
    try:
        resolve(AOT_COUNTER)
    except Exception:  # a torch without the counter has nothing to protect
        return contextlib.nullcontext()
    return patched(Patch(AOT_COUNTER, lambda _original: itertools.count(),
                         why="keep the real compiles' AOT ids unchanged"))


def standalone_key(manager: Any, graph: Any, example_inputs: list[Any], config: dict[str, Any],
                   compile_range: Any) -> tuple[str | None, list[str], str]:
    """``(key, factor lines, note)`` for one piece × range; ``key`` is ``None`` with a reason.

    Never raises for an unsupported piece: the reason goes into ``note``.
    """
    from torch._functorch import config as functorch_config
    from torch._inductor import config as inductor_config

    fn = standalone_key_api()
    single = getattr(compile_range, "start", 0) == getattr(compile_range, "end", 1)
    dynamic_shapes = "from_example_inputs" if single else "from_graph"
    patches = _inductor_patches(config, compile_range)
    mode = _fake_mode(example_inputs) if single else None
    scope = getattr(manager, "compile_context", None)
    try:
        with contextlib.ExitStack() as stack:
            if scope is not None:
                stack.enter_context(scope(compile_range))
            stack.enter_context(functorch_config.patch(_functorch_patches()))
            stack.enter_context(_own_aot_ids())
            if fn is None:
                if not _state.cross_check_requested():
                    return None, [], PROBE_OFF_NOTE
                return _probe(stack, graph, example_inputs, dynamic_shapes, patches, mode)
            kwargs: dict[str, Any] = {}
            if "aot" in inspect.signature(fn).parameters:
                kwargs["aot"] = _uses_aot()
            stack.enter_context(inductor_config.patch(patches))
            stack.enter_context(_fake_mode_context(fn, kwargs, mode))
            result = fn(copy.deepcopy(graph), list(example_inputs), dynamic_shapes, **kwargs)
    except Exception as exc:  # an uncacheable piece: say why, keep the real compile untouched
        return None, [], f"standalone key unavailable: {type(exc).__name__}: {exc}"
    key, lines = _split(result)
    return key, lines, ""


def _probe(stack: contextlib.ExitStack, graph: Any, example_inputs: list[Any],
           dynamic_shapes: str, patches: dict[str, Any],
           mode: Any) -> tuple[str | None, list[str], str]:
    """The up-front key on a torch without the standalone key API: ``standalone_compile`` with
    the arguments vLLM's adaptor passes, stopped at its AOTAutograd key (``_torch.keys``)."""
    import torch

    compile_fn = torch._inductor.standalone_compile
    kwargs: dict[str, Any] = {"options": {"config_patches": patches}}
    if "aot" in inspect.signature(compile_fn).parameters and _uses_aot():
        kwargs["aot"] = True
    stack.enter_context(_fake_mode_context(_takes_no_fake_mode, {}, mode))
    if _skips_pre_grad_passes():
        stack.enter_context(patched(Patch(
            PRE_GRAD_TARGET, lambda _original: lambda gm, _inputs: gm,
            why="vLLM's adaptor skips Inductor's pre-grad passes on this torch")))
    key, lines = probe_standalone_key(graph, list(example_inputs), dynamic_shapes, **kwargs)
    return key, lines, PROBE_KEY_NOTE


PRE_GRAD_TARGET = "torch._inductor.compile_fx:_recursive_pre_grad_passes"
PROBE_OFF_NOTE = (
    "this torch has no standalone key API: inside vLLM the up-front key comes from a probe that "
    "runs standalone_compile up to the key, which runs only with trace(cross_check=True) "
    "because it can change the code vLLM generates (measured on torch 2.11 with vLLM 0.26)")


def _takes_no_fake_mode() -> None:
    """Signature stand-in: ``standalone_compile`` takes no ``fake_mode`` argument, so the inputs'
    fake mode is installed by patching, as vLLM's adaptor does."""


def _skips_pre_grad_passes() -> bool:
    """Whether vLLM's adaptor patches out the pre-grad passes for this compile.

    vLLM does so on the torch lines that predate the upstream fix, which are the ones without the
    standalone key API (both arrived in 2.12), unless ``VLLM_ENABLE_PREGRAD_PASSES`` is set.
    """
    try:
        envs = _state.vllm_module("vllm.envs")
    except ImportError:
        return False
    return not bool(getattr(envs, "VLLM_ENABLE_PREGRAD_PASSES", False))
