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
  cost is torch's (benchmarks/RESULTS.md, "Key cost"); what was ours to drop lies outside the
  key or after it: a second deep copy (``standalone_compile`` copies the graph itself), and the
  key's factor lines where nobody reads them (``_factor_lines``: torch ≥ 2.12 computes them only
  for a DEBUG logger, 2.11 on every key, about 40 % of the probe there; inside ``trace()`` the
  caller may also refuse them for a key whose lines it already has).
"""

from __future__ import annotations

import contextlib
import copy
import functools
import importlib
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeAlias, cast

from compile_lens._torch.patching import Patch, patched

LEGACY_TARGET = "torch._functorch._aot_autograd.autograd_cache:autograd_cache_key"
FACTOR_LINES_TARGET = "torch._inductor.codecache:FxGraphCachePickler.debug_lines"
"""What computes a key's factor lines, after the key (``AOTAutogradCachePickler`` inherits it)."""
HASH_TARGET = "torch._inductor.codecache:FxGraphCachePickler.get_hash"
"""What hashes the key's details; the key is ``AOTAUTOGRAD_CACHE_PREFIX`` + that hash."""
FactorLines: TypeAlias = "bool | Callable[[str], bool] | None"
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
    graph: Any, example_inputs: list[Any], dynamic_shapes: str, *,
    factor_lines: FactorLines = None,
) -> tuple[str | None, list[str]]:
    """``(key, factor lines)`` from the standalone API on a deep copy; raises if unsupported.

    ``factor_lines`` as for ``probe_standalone_key``."""
    fn = standalone_key_api()
    if fn is None:
        return None, []
    with _factor_lines(factor_lines):
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


def _aot_key_prefix() -> str:
    from torch._inductor import codecache

    return str(getattr(codecache, "AOTAUTOGRAD_CACHE_PREFIX", "a"))  # torch 2.11 writes "a"


@contextlib.contextmanager
def _factor_lines(factor_lines: FactorLines) -> Iterator[None]:
    """Compute an AOTAutograd key's factor lines only where wanted; the key is the same.

    torch computes the lines after the key, from the same details, and since 2.12 only for a
    DEBUG logger. ``None``: where that logger says (``factor_lines_wanted()``), on every torch;
    ``False``: never; ``True``: as torch does; a callable: where the logger says and the callable
    returns true for the key (e.g. not for a key whose lines were already sent). A skipped
    computation returns ``[]``. Acts in the calling thread only; restored on exit.
    """
    if factor_lines is None:
        factor_lines = factor_lines_wanted()
    elif callable(factor_lines) and not factor_lines_wanted():
        factor_lines = False
    if factor_lines is True:
        yield
        return
    wanted = factor_lines
    caller = threading.get_ident()
    last_hash: list[Any] = [None, None]  # (details, its hash): the key's own get_hash call

    def remember(original: Any) -> Any:
        def get_hash(self: Any, obj: Any) -> str:
            digest = original(self, obj)
            if threading.get_ident() == caller:
                last_hash[:] = [obj, digest]
            return digest

        get_hash.__wrapped__ = original  # type: ignore[attr-defined]
        return get_hash

    def skip(original: Any) -> Any:
        def debug_lines(self: Any, details: Any) -> list[str]:
            if threading.get_ident() != caller:  # another thread's compile: untouched
                return original(self, details)
            if wanted is False:
                return []
            if last_hash[0] is details and not wanted(_aot_key_prefix() + last_hash[1]):
                return []
            return original(self, details)

        debug_lines.__wrapped__ = original  # type: ignore[attr-defined]
        return debug_lines

    patches = [Patch(FACTOR_LINES_TARGET, skip, why="compute the key's factor lines only where "
                                                     "wanted (torch < 2.12 computes them always)")]
    if callable(wanted):
        patches.append(Patch(HASH_TARGET, remember, why="know the key its lines are asked for"))
    try:
        with patched(*patches):
            yield
    finally:
        last_hash[:] = [None, None]


@contextlib.contextmanager
def _stop_at_key() -> Iterator[tuple[LegacyCapture, list[Exception]]]:
    """The probe's patch: the legacy key function records the key and raises ``_KeyComputed``,
    in the calling thread only (a compile in another thread meanwhile goes through the original
    untouched). Restored on exit."""
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

    with patched(Patch(LEGACY_TARGET, make, why="stop standalone_compile at its key")):
        yield seen, refused


@functools.cache
def copies_its_graph() -> bool:
    """Whether ``standalone_compile`` deep-copies the graph it is given (feature probe).

    torch copies it, before anything else, in the versions that accept ``donate_graph_module``
    (the switch that turns the copy off); a torch without that parameter is not known to copy, so
    the probe copies for it: Inductor's passes before the key may change the graph in place, and
    the caller's piece must reach its real compile as it was.
    """
    import inspect

    import torch

    try:
        parameters = inspect.signature(torch._inductor.standalone_compile).parameters
    except (TypeError, ValueError):
        return False
    return "donate_graph_module" in parameters


def probe_standalone_key(
    graph: Any, example_inputs: list[Any], dynamic_shapes: str, *,
    factor_lines: FactorLines = None, **compile_kwargs: Any
) -> tuple[str | None, list[str]]:
    """``(key, factor lines)`` that ``standalone_compile(graph, ...)`` would look up; no compile.

    ``compile_kwargs`` are passed on to ``standalone_compile`` (``options``, ``aot``: what the
    caller's real compile passes, e.g. vLLM's adaptor). ``graph`` is copied here only where
    ``standalone_compile`` would not copy it itself (``copies_its_graph``), so the caller's
    graph is left as it was and keyed as one deep copy. ``factor_lines``: ``None`` computes
    them where torch ≥ 2.12 would (``factor_lines_wanted()``), ``False`` never, ``True`` as torch
    does (torch < 2.12 always), a callable also asks it about the key (``_factor_lines``);
    skipped lines come back as ``[]``, the key is the same (torch computes them after the key,
    from the same details). Raises ``KeyProbeError`` when the key function was not reached or
    refused the piece.
    """
    import torch

    if compile_kwargs.get("donate_graph_module") or not copies_its_graph():
        graph = copy.deepcopy(graph)
    try:
        with _factor_lines(factor_lines), _stop_at_key() as (seen, refused):
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
