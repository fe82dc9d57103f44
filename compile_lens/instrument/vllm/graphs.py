"""Observe ``VllmBackend.__call__`` and ``split_graph``: the Dynamo graph, its pieces, split ops.

Stage 1 (instrument). ``VllmBackend.__call__`` gets the full Dynamo graph once per model prefix.
``split_graph`` mutates that graph in place (``_decompose_size_nodes``), so the graph is described
*before* the original runs. ``split_graph`` is a module global of ``vllm.compilation.backends``
looked up at call time; wrapping it reports the pieces as soon as they exist, before vLLM compiles
them. After the call, vLLM's own files (cache dir, ``cache_key_factors.json``,
``computation_graph.py``, ``vllm_compile_cache.py``) and the ``compilation_counter`` deltas are
reported (``files``). Every wrapper calls the original with the same arguments and returns its
result unchanged; exceptions pass through untouched.
"""

from __future__ import annotations

import functools
from typing import Any

from compile_lens import _events
from compile_lens._fx import describe_nodes, readable_code, target_name
from compile_lens.instrument.structured_log import others_listen
from compile_lens.instrument.vllm import _state, files
from compile_lens.instrument.vllm._state import GUARD, emit


def _compiler_name(backend: Any) -> str:
    compiler = getattr(getattr(backend, "compiler_manager", None), "compiler", None)
    return str(getattr(compiler, "name", "") or type(compiler).__name__)


def _begin(backend: Any, graph: Any) -> _state.GraphInfo:
    """Register the graph and describe it before vLLM splits (and mutates) it."""
    info = _state.new_graph(prefix=str(getattr(backend, "prefix", "") or ""),
                            is_encoder=bool(getattr(backend, "is_encoder", False)))
    info.compiler = _compiler_name(backend)
    config = getattr(backend, "vllm_config", None)
    rank = getattr(getattr(config, "parallel_config", None), "rank", None)
    info.rank = rank if isinstance(rank, int) else None
    _state.BACKENDS[backend] = info
    manager = getattr(backend, "compiler_manager", None)
    if manager is not None:
        _state.MANAGERS[manager] = info
    splitting = list(getattr(getattr(backend, "compilation_config", None), "splitting_ops",
                             None) or [])
    payload = {
        "graph_key": info.graph_key, "backend": f"vllm ({info.compiler})", "prefix": info.prefix,
        "name": f"vllm:{info.prefix}" if info.prefix else "vllm", "code": readable_code(graph),
        "nodes": describe_nodes(graph), "split_ops": [],
        "splitting_ops": splitting, "is_encoder": info.is_encoder, "rank": info.rank,
    }
    emit(_events.GRAPH, payload, compile_id=_detached_compile_id(graph))
    return info


def _detached_compile_id(graph: Any) -> Any:
    """The graph's Dynamo compile id when the backend runs outside Dynamo's compile context."""
    from torch._guards import CompileContext

    if CompileContext.current_compile_id() is not None:
        return None
    return getattr(graph, "meta", {}).get("dynamo_compile_id")


def _finish(backend: Any, info: _state.GraphInfo) -> None:
    """After vLLM compiled: its files, counters and the process description."""
    manager = getattr(backend, "compiler_manager", None)
    files.report_cache_files(info, manager)
    files.report_counters()
    files.note_prefix(info)


def wrap_backend_call(original: Any) -> Any:
    """Class-level wrapper of ``VllmBackend.__call__(self, graph, example_inputs)``."""

    @functools.wraps(original)
    def __call__(self: Any, graph: Any, example_inputs: Any, *args: Any, **kwargs: Any) -> Any:
        info = GUARD.run("vllm.backend.begin", _begin, self, graph)
        token = _state.CURRENT_GRAPH.set(info)
        try:
            result = original(self, graph, example_inputs, *args, **kwargs)
        finally:
            _state.CURRENT_GRAPH.reset(token)
        if info is not None:
            GUARD.run("vllm.backend.finish", _finish, self, info)
        return result

    return __call__


def _split_op_names(item_graph: Any, splitting_ops: list[str]) -> list[str]:
    """The ops in a splitting submodule that vLLM split at (``ns::op`` names)."""
    try:
        should_split = _state.vllm_module("vllm.compilation.partition_rules").should_split
    except (ImportError, AttributeError):
        should_split = None
    names = []
    for node in item_graph.graph.nodes:
        if node.op != "call_function":
            continue
        if should_split is None or should_split(node, splitting_ops):
            names.append(_op_name(node.target))
    return names


def _op_name(target: Any) -> str:
    """``ns::op`` (``ns::op.overload``), the form vLLM's ``splitting_ops`` use."""
    qualified = getattr(target, "_qualified_op_name", None)  # OpOverloadPacket
    if isinstance(qualified, str):
        return qualified
    name = getattr(target, "name", None)  # OpOverload.name() -> "ns::op"
    overload = getattr(target, "_overloadname", None)
    if callable(name) and isinstance(overload, str):
        base = str(name())
        return base if overload == "default" else f"{base}.{overload}"
    return target_name(target)


def _code_of(gm: Any) -> str:
    """The piece's Python code *without* touching the module.

    ``gm.code`` on vLLM's lazy split submodules (``_LazyGraphModule``) forces their real recompile,
    and a module recompiled before Inductor sees it hashes differently: reading ``.code`` here
    changed vLLM's real AOTAutograd keys (measured on the toy). ``graph.python_code`` generates
    the same text from the graph alone.
    """
    return str(gm.graph.python_code(root_module="self").src).strip()


def _piece_source(position: int, item: Any, splitting_ops: list[str]) -> _events.PieceSource:
    is_split = bool(item.is_splitting_graph)
    ops = _split_op_names(item.graph, splitting_ops) if is_split else []
    return _events.PieceSource(
        submod=str(item.submod_name), index=position, is_split_op=is_split,
        split_op=", ".join(dict.fromkeys(ops)) or None, graph=item.graph, code=_code_of,
        extra={"graph_id": int(getattr(item, "graph_id", position))})


def _piece_rows(items: list[Any], splitting_ops: list[str]) -> list[_events.PieceRow]:
    return _events.piece_rows(_piece_source(position, item, splitting_ops)
                              for position, item in enumerate(items))


def _report_split(info: _state.GraphInfo, items: list[Any], splitting_ops: list[str]) -> None:
    rows = _piece_rows(items, splitting_ops)
    info.compiled_submods = [r["submod"] for r in rows if not r["is_split_op"]]
    split_ops = sorted({op for r in rows for op in (r.get("split_op") or "").split(", ") if op})
    emit(_events.SPLIT, {"graph_key": info.graph_key, "pieces": rows})
    emit(_events.GRAPH, {"graph_key": info.graph_key, "split_ops": split_ops})


def wrap_split_graph(original: Any) -> Any:
    """Module-attribute wrapper of ``split_graph(graph, splitting_ops)``."""

    @functools.wraps(original)
    def split_graph(graph: Any, splitting_ops: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(graph, splitting_ops, *args, **kwargs)
        info = _state.CURRENT_GRAPH.get()
        if info is not None:
            GUARD.run("vllm.split_graph", _report_split, info, list(result[1]),
                      list(splitting_ops or []))
        return result

    return split_graph


GRAPH_DUMP_NOT_BUILT = (
    "(not built: only compile_lens listens, and building it runs print_readable on vLLM's lazy "
    "submodules, which recompiles them and changes what Inductor generates; compile_lens records "
    "the graph and pieces itself. With TORCH_TRACE set, vLLM builds it as usual.)")


def wrap_vllm_trace_structured(original: Any) -> Any:
    """Module-level wrapper of ``trace_structured`` as vLLM's backend modules bound it.

    vLLM's ``graph_dump`` payloads call ``print_readable`` on the split graph and its lazy
    submodules, which recompiles them: the graphs Inductor then gets differ from an untraced
    run's, and so does the generated code (measured with vLLM 0.26 on an H100). torch builds a
    payload whenever any handler listens, so our handler alone would trigger it. When nothing
    else listens, the payload is replaced by a short note; every other event passes unchanged.
    """

    @functools.wraps(original)
    def trace_structured(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "graph_dump" and not GUARD.run("vllm.trace_structured", others_listen):
            return None  # nobody but compile_lens would read it: not built, not sent
        return original(name, *args, **kwargs)

    return trace_structured


def _graph_dump_note() -> str:
    return GRAPH_DUMP_NOT_BUILT
