"""The two AOTAutograd cache keys of a piece.

* **standalone** — ``torch._inductor.standalone_compile.autograd_cache_key`` (torch ≥ 2.12),
  computed up front on a deep copy of the piece (docs/design/torch-hooks.md §2: it equals the key
  ``standalone_compile`` itself looks up only for a deep copy). It drives dedup and the artifact
  cache.
* **legacy** — captured during the real compile by wrapping the module global
  ``torch._functorch._aot_autograd.autograd_cache.autograd_cache_key`` for the duration of that
  compile only (how vLLM got its key before 2.12).
* **probe** — on torch without the standalone key API (2.11), the up-front key comes from running
  ``standalone_compile`` itself on a deep copy of the piece and stopping it the moment it has
  computed its AOTAutograd key (the same legacy function, with the real arguments, in the real
  context), before any lookup or lowering. It is faithful by construction; ``trace(cross_check=
  True)`` compares it with the legacy key of the real compile, so a difference would show. Its
  cost is torch's (benchmarks/RESULTS.md, "Key cost"); two things in it were ours to drop, both
  after the key or outside it: a second deep copy (``standalone_compile`` copies the graph
  itself) and, on torch < 2.12, the key's factor lines where nobody reads them (torch ≥ 2.12
  itself computes them only for a DEBUG logger; on 2.11 they were half the probe's time).
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, cast

from compile_lens._torch.patching import Patch, patched

LEGACY_TARGET = "torch._functorch._aot_autograd.autograd_cache:autograd_cache_key"
FACTOR_LINES_TARGET = "torch._inductor.codecache:FxGraphCachePickler.debug_lines"
"""What computes a key's factor lines, after the key (``AOTAutogradCachePickler`` inherits it)."""
AOT_CACHE_LOGGER = "torch._functorch._aot_autograd.autograd_cache"
NO_STANDALONE_KEY_NOTE = (
    "this torch has no torch._inductor.standalone_compile.autograd_cache_key (added in torch "
    "2.12): up-front keys come from a probe that runs standalone_compile on a copy of each piece "
    "up to its AOTAutograd key and stops there; trace(cross_check=True) checks them against the "
    "legacy key of the real compile"
)
PROBE_KEY_NOTE = "up-front key from the standalone_compile probe (no standalone key API here)"


def standalone_key_api() -> Any | None:
    """The standalone key function, or ``None`` when this torch lacks it (feature probe)."""
    try:
        # The *attribute* torch._inductor.standalone_compile is a function that shadows the
        # module, so import the module by name (docs/design/torch-hooks.md §2).
        module = importlib.import_module("torch._inductor.standalone_compile")
    except ImportError:
        return None
    return getattr(module, "autograd_cache_key", None)


def _split_result(result: Any) -> tuple[str | None, list[str]]:
    """Accept ``key`` or ``(key, debug_lines)`` results (the signature changed across torch)."""
    if isinstance(result, tuple) and result:
        key, *rest = cast(tuple[Any, ...], result)
        lines = rest[0] if rest and isinstance(rest[0], list) else []
        return (str(key) if key is not None else None), [str(x) for x in lines]
    return (str(result) if result is not None else None), []


def compute_standalone_key(
    graph: Any, example_inputs: list[Any], dynamic_shapes: str
) -> tuple[str | None, list[str]]:
    """``(key, factor lines)`` from the standalone API on a deep copy; raises if unsupported."""
    fn = standalone_key_api()
    if fn is None:
        return None, []
    return _split_result(fn(copy.deepcopy(graph), list(example_inputs), dynamic_shapes))


@dataclass
class LegacyCapture:
    """What the legacy key wrapper saw during one compile (the last call wins)."""

    key: str | None = None
    lines: list[str] = field(default_factory=list)
    calls: int = 0


@contextlib.contextmanager
def capture_legacy_key() -> Iterator[LegacyCapture]:
    """Wrap the legacy key function for the block; the wrapper is transparent (same result)."""
    seen = LegacyCapture()

    def make(original: Any) -> Any:
        def autograd_cache_key(*args: Any, **kwargs: Any) -> Any:
            result = original(*args, **kwargs)
            seen.key, seen.lines = _split_result(result)
            seen.calls += 1
            return result

        autograd_cache_key.__wrapped__ = original  # type: ignore[attr-defined]
        return autograd_cache_key

    with patched(Patch(LEGACY_TARGET, make, why="capture the legacy AOTAutograd key")):
        yield seen


class KeyProbeError(RuntimeError):
    """The probe could not get a key (the AOTAutograd cache is off, or the piece is uncacheable)."""


class _KeyComputed(BaseException):
    """Stops ``standalone_compile`` right after its key is computed.

    torch's ``AOTAutogradCache.try_load`` catches ``Exception`` (and then compiles anyway), so only
    a ``BaseException`` can leave it; torch's contexts on that path restore their state in
    ``finally``. ``probe_standalone_key`` catches exactly this class and nothing broader.
    """


def factor_lines_wanted() -> bool:
    """Whether torch ≥ 2.12 would compute an AOTAutograd key's factor lines now: only when its
    cache logger is enabled for DEBUG, which ``trace()`` arranges (docs/design/torch-hooks.md §3)."""
    return logging.getLogger(AOT_CACHE_LOGGER).isEnabledFor(logging.DEBUG)


@contextlib.contextmanager
def _stop_at_key(factor_lines: bool) -> Iterator[tuple[LegacyCapture, list[Exception]]]:
    """The probe's patches: the legacy key function records the key and raises ``_KeyComputed``;
    without ``factor_lines`` the lines are skipped. Both act in the calling thread only; a compile
    in another thread meanwhile goes through the originals untouched. Restored on exit."""
    seen = LegacyCapture()
    refused: list[Exception] = []
    prober = threading.get_ident()

    def make(original: Any) -> Any:
        def autograd_cache_key(*args: Any, **kwargs: Any) -> Any:
            if threading.get_ident() != prober:
                return original(*args, **kwargs)
            try:
                seen.key, seen.lines = _split_result(original(*args, **kwargs))
            except Exception as exc:  # a bypass: record why, still stop before any compile
                refused.append(exc)
            seen.calls += 1
            raise _KeyComputed

        autograd_cache_key.__wrapped__ = original  # type: ignore[attr-defined]
        return autograd_cache_key

    def no_lines(original: Any) -> Any:
        def debug_lines(self: Any, details: Any) -> list[str]:
            if threading.get_ident() != prober:
                return original(self, details)
            return []

        debug_lines.__wrapped__ = original  # type: ignore[attr-defined]
        return debug_lines

    patches = [Patch(LEGACY_TARGET, make, why="stop standalone_compile at its key")]
    if not factor_lines:
        patches.append(Patch(FACTOR_LINES_TARGET, no_lines,
                             why="skip the factor lines nobody reads (torch < 2.12 computes them "
                                 "on every key, after it)"))
    with patched(*patches):
        yield seen, refused


def probe_standalone_key(
    graph: Any, example_inputs: list[Any], dynamic_shapes: str, *,
    factor_lines: bool | None = None, **compile_kwargs: Any
) -> tuple[str | None, list[str]]:
    """``(key, factor lines)`` that ``standalone_compile(graph, ...)`` would look up; no compile.

    ``compile_kwargs`` are passed on to ``standalone_compile`` (``options``, ``aot``: what the
    caller's real compile passes, e.g. vLLM's adaptor). ``graph`` is not copied here:
    ``standalone_compile`` keys its own deep copy (unless told ``donate_graph_module``, then
    it gets one), so the caller's graph is left as it was. ``factor_lines``: ``None`` computes
    them where torch ≥ 2.12 would (``factor_lines_wanted()``), ``False`` never, ``True`` as torch
    does (torch < 2.12 always); skipped lines come back as ``[]``, the key is the same (torch
    computes them after the key, from the same details). Raises ``KeyProbeError`` when the key
    function was not reached or refused the piece.
    """
    import torch

    if factor_lines is None:
        factor_lines = factor_lines_wanted()
    if compile_kwargs.get("donate_graph_module"):
        graph = copy.deepcopy(graph)
    try:
        with _stop_at_key(factor_lines) as (seen, refused):
            torch._inductor.standalone_compile(
                graph, list(example_inputs),
                dynamic_shapes=cast(Any, dynamic_shapes),  # torch's names, as the caller's compile
                **compile_kwargs)
    except _KeyComputed:
        if refused:
            msg = f"AOTAutograd refused the piece: {type(refused[0]).__name__}: {refused[0]}"
            raise KeyProbeError(msg) from None
        return seen.key, seen.lines
    msg = "standalone_compile finished without computing an AOTAutograd key (is its cache off?)"
    raise KeyProbeError(msg)
