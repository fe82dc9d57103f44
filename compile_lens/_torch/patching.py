"""The single home of monkey-patching in compile_lens.

Every patch is declared as data (``Patch``: target, replacement factory, why) and applied through
``patched()``, a context manager that restores the original in ``finally`` even when the body
raises. A missing target raises ``InstrumentationError`` naming it and the torch version, so a
rename upstream shows up as an error, never as silently missing data.

Patch the attribute where it is *looked up*: e.g. AOTAutograd's cache calls
``autograd_cache.autograd_cache_key`` as a module global, so replacing that module attribute
intercepts the real call.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from compile_lens.errors import InstrumentationError


@dataclass(frozen=True)
class Patch:
    """One declared patch: ``target`` is ``"module.path:Attr.attr"``; ``make`` wraps the original."""

    target: str
    make: Callable[[Any], Any]
    why: str = ""


def resolve(target: str) -> tuple[Any, str, Any]:
    """Return ``(owner, attribute name, current value)`` for ``"module:Attr.attr"``."""
    module_name, _, attr_path = target.partition(":")
    try:
        owner: Any = importlib.import_module(module_name)
        *parents, name = attr_path.split(".")
        for part in parents:
            owner = getattr(owner, part)
        value = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
    except (ImportError, AttributeError, KeyError) as exc:
        msg = f"compile_lens: cannot patch {target}: {exc} (torch {_torch_version()})"
        raise InstrumentationError(msg) from None
    return owner, name, value


def _torch_version() -> str:
    try:
        import torch

        return str(torch.__version__)
    except ImportError:  # pragma: no cover
        return "not installed"


@contextlib.contextmanager
def patched(*patches: Patch) -> Iterator[list[Any]]:
    """Apply ``patches`` for the duration of the block; yields the originals; always restores."""
    applied: list[tuple[Any, str, Any]] = []
    try:
        for patch in patches:
            owner, name, original = resolve(patch.target)
            setattr(owner, name, patch.make(original))
            applied.append((owner, name, original))
        yield [original for _, _, original in applied]
    finally:
        for owner, name, original in reversed(applied):
            setattr(owner, name, original)


def current(target: str) -> Any:
    """The object currently at ``target`` (tests use it to check originals are back)."""
    return resolve(target)[2]
