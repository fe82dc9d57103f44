"""The observers a trace installs, each returning an undo callable (restored in ``finally``).

All are key-neutral (docs/design/torch-hooks.md §6): a handler on the structured trace stream,
AOTAutograd's factor lines made available without printing anything new, and Dynamo's bytecode
hook (which returns ``None``, leaving the transformed code unchanged).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from compile_lens.instrument.structured_log import StructuredTraceHandler, attach, detach

AOT_CACHE_LOGGER = "torch._functorch._aot_autograd.autograd_cache"
Undo = Callable[[], None]


def install_trace_handler(handler: StructuredTraceHandler) -> Undo:
    """Subscribe ``handler`` to ``torch.__trace``."""
    attach(handler)
    return lambda: detach(handler)


def enable_aot_factor_lines() -> Undo:
    """Make AOTAutograd compute its key's factor lines (torch ≥ 2.12 only does so at DEBUG).

    The logger goes to DEBUG with a filter that drops anything below its previous effective
    level, so nothing new is printed (docs/design/torch-hooks.md §3). The key itself does not change.
    """
    logger = logging.getLogger(AOT_CACHE_LOGGER)
    previous_level = logger.level
    effective = logger.getEffectiveLevel()

    def keep_previous_output(record: logging.LogRecord) -> bool:
        return record.levelno >= effective

    logger.setLevel(logging.DEBUG)
    logger.addFilter(keep_previous_output)

    def undo() -> None:
        logger.removeFilter(keep_previous_output)
        logger.setLevel(previous_level)

    return undo


def install_bytecode_hook(store: list[tuple[str, Any]]) -> Undo:
    """Keep ``(compile_id, transformed code)`` of every frame Dynamo compiles, for depyf later."""
    from torch._dynamo.convert_frame import register_bytecode_hook
    from torch._guards import CompileContext

    def hook(code: Any, new_code: Any) -> None:  # names as in torch's BytecodeHook protocol
        try:
            cid = CompileContext.current_compile_id()
            store.append((str(cid) if cid is not None else "", new_code))
        except Exception:  # never disturb Dynamo
            return None
        return None

    handle = register_bytecode_hook(hook)
    return handle.remove


def decompile(code: Any) -> tuple[str | None, str]:
    """``(source, note)``: depyf's decompilation of a code object, or why there is none."""
    try:
        import depyf
    except ImportError:
        return None, "install depyf to see the transformed bytecode: pip install 'compile-lens[notebook]'"
    try:
        return str(depyf.decompile(code)), ""
    except Exception as exc:  # depyf does not know every opcode of every Python
        return None, f"depyf could not decompile this frame: {type(exc).__name__}: {exc}"
