"""Observe vLLM's warm starts: the AOT model load and the "mega artifact" path.

Stage 1 (instrument). With ``VLLM_USE_AOT_COMPILE`` (default on torch ≥ 2.10) vLLM saves the whole
compiled model; with ``VLLM_USE_MEGA_AOT_ARTIFACT`` (default on torch ≥ 2.12) every piece's artifact
is bundled into it. A warm start then runs **no** Dynamo, split, pass or
``CompilerManager.compile``: ``reconstruct_serializable_fn_from_mega_artifact`` builds
``PiecewiseBackend(graph=None, compiled_runnables=…)`` per piece (docs/design/vllm-hooks.md §2).
That is the only signal, so it is wrapped here and each piece × range is reported as ``loaded``,
with the sha256 of its artifact bytes (vLLM's own content key,
``StandaloneCompiledArtifacts.submodule_bytes``). On a cold mega run the same hashes are reported
when vLLM collects the artifacts for saving, so two runs can be compared artifact by artifact.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
from typing import Any

from compile_lens import _events
from compile_lens._events import Outcome
from compile_lens.instrument.vllm import _state, files
from compile_lens.instrument.vllm._state import GUARD, emit


def _begin_mega(state: dict[str, Any], artifacts: Any) -> _state.GraphInfo:
    info = _state.new_graph(prefix=str(state.get("prefix") or ""),
                            is_encoder=bool(state.get("is_encoder", False)))
    info.compiler = "inductor_standalone (mega artifact)"
    hashes = {str(k): str(v) for k, v in (getattr(artifacts, "submodule_bytes", {}) or {}).items()}
    compiled = [str(n) for n in artifacts.submodule_names()]
    info.compiled_submods = compiled
    submods = [str(n) for n in (state.get("submod_names") or compiled)]
    emit(_events.GRAPH, {
        "graph_key": info.graph_key, "backend": "vllm (mega artifact, warm start)",
        "prefix": info.prefix, "name": f"vllm:{info.prefix} (loaded)",
        "code": str(state.get("execution_code") or ""), "nodes": [], "split_ops": [],
    })
    rows = _events.piece_rows(
        _events.PieceSource(submod=name, index=position, is_split_op=name not in compiled)
        for position, name in enumerate(submods))
    emit(_events.SPLIT, {"graph_key": info.graph_key, "pieces": rows})
    emit(_events.NOTE, {"message": "vLLM warm-started from its mega AOT artifact: nothing was traced, "
                             "split or compiled; pieces are reported as loaded with the sha256 of "
                             "their artifact bytes"})
    _state.WARM.set((info, compiled, hashes))
    return info


def wrap_reconstruct(original: Any) -> Any:
    """Module-attribute wrapper of ``reconstruct_serializable_fn_from_mega_artifact``."""

    signature = inspect.signature(original)

    @functools.wraps(original)
    def reconstruct(*args: Any, **kwargs: Any) -> Any:
        token = _state.WARM.set(None)
        try:
            info = GUARD.run("vllm.warm_start", _begin_mega_call, signature, args, kwargs)
            result = original(*args, **kwargs)
        finally:
            _state.WARM.reset(token)
        if info is not None:
            GUARD.run("vllm.warm_start.finish", _finish_mega, info)
        return result

    return reconstruct


def _begin_mega_call(signature: inspect.Signature, args: tuple[Any, ...],
                     kwargs: dict[str, Any]) -> _state.GraphInfo:
    bound = signature.bind(*args, **kwargs).arguments
    return _begin_mega(bound["state"], bound["standalone_compile_artifacts"])


def _finish_mega(info: _state.GraphInfo) -> None:
    files.report_counters()
    files.note_prefix(info)


def report_loaded_backend(backend: Any, owner: tuple[Any, str, int]) -> None:
    """Report a ``PiecewiseBackend`` built from ``compiled_runnables``: each range was loaded."""
    warm = _state.WARM.get()
    index = owner[2]
    if warm is not None:
        info, compiled, hashes = warm
        submod = compiled[index] if index < len(compiled) else owner[1]
    else:
        info, submod, hashes = owner[0] or _state.new_graph(), owner[1], {}
    for compile_range in list(getattr(backend, "range_entries", {}) or {}):
        where = _events.where(info.graph_key, submod, _state.size_label(compile_range))
        emit(_events.PIECE_START, where)
        emit(_events.PIECE_END, _events.piece_end(
            where, Outcome.LOADED, 0.0, graph_index=index,
            artifact_sha256=hashes.get(f"{submod}_{compile_range}"), prefix=info.prefix,
            compiler=info.compiler, note="loaded from vLLM's mega AOT artifact"))


def wrap_collect_artifacts(original: Any) -> Any:
    """Class-level wrapper of ``VllmBackend.collect_standalone_compile_artifacts`` (cold mega)."""

    @functools.wraps(original)
    def collect_standalone_compile_artifacts(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        GUARD.run("vllm.mega_artifacts", _report_hashes, self, result)
        return result

    return collect_standalone_compile_artifacts


def _report_hashes(backend: Any, result: Any) -> None:
    artifacts = result[0] if isinstance(result, tuple) and result else None
    table = getattr(artifacts, "submodule_bytes", None)
    info = _state.BACKENDS.get(backend)
    if not table or info is None:
        return
    content = json.dumps({str(k): str(v) for k, v in table.items()}, sort_keys=True)
    emit(_events.VLLM_ARTIFACT, {"graph_key": info.graph_key, "name": "mega_artifact_hashes",
                           "path": "", "content": content, "prefix": info.prefix})


def wrap_try_load_aot(original: Any) -> Any:
    """Module-attribute wrapper of ``decorators._try_load_aot_compiled_fn(model, path)``."""

    signature = inspect.signature(original)

    @functools.wraps(original)
    def _try_load_aot_compiled_fn(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        GUARD.run("vllm.aot_load", _report_aot_load, signature, args, kwargs, result is not None)
        return result

    return _try_load_aot_compiled_fn


def _report_aot_load(signature: inspect.Signature, args: tuple[Any, ...],
                     kwargs: dict[str, Any], loaded: bool) -> None:
    path = str(signature.bind(*args, **kwargs).arguments["aot_compilation_path"])
    emit(_events.VLLM_ARTIFACT, {"name": "aot_model", "path": path, "loaded": loaded,
                           "exists": os.path.exists(path),
                           "size": os.path.getsize(path) if os.path.exists(path) else 0})
    files.report_counters()
