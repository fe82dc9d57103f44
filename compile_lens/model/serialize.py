"""Model: JSON round-trip of model records, with schema checks and unknown-field preservation.

Stage 2 (model): stdlib only. The model's type hints are the schema: ``from_dict`` checks every
field against its declared type (strings, 64-bit integers, finite numbers, booleans, lists,
objects, nested records), so a trace that loads has the types every view relies on and always
renders. Unknown fields of a record go to its ``extra`` dict on load (bounded in depth), so a trace
written by a newer compile_lens of the same schema version still loads and re-saves intact.
Reading is bounded (``read_bounded``: regular files only, a size limit) and parsing strict
(``parse_json``: no ``NaN``, no overflowing numbers, no unbounded nesting); every problem is one
``TraceFormatError`` naming the file.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
import stat
import types
import typing
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from compile_lens.errors import TraceFormatError
from compile_lens.model.trace import FORMAT_NAME, SCHEMA_VERSION, TraceRecord

T = TypeVar("T")


def to_dict(record: Any) -> Any:
    """Convert a record (or container of records) to plain JSON types, keys sorted on dump."""
    if dataclasses.is_dataclass(record) and not isinstance(record, type):
        out = {f.name: to_dict(getattr(record, f.name)) for f in dataclasses.fields(record)}
        extra = out.pop("extra", None) or {}
        # Fields this version does not know were kept in ``extra``: write them back in place.
        for key, value in extra.items():
            out.setdefault(key, value)
        return out
    if isinstance(record, dict):
        return {str(k): to_dict(v) for k, v in record.items()}
    if isinstance(record, list | tuple):
        return [to_dict(v) for v in record]
    return record


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


_Convert = Callable[[Any, str], Any]
_PASS = (str, bool)
"""Declared types whose check keeps the value as it is, with nothing else to look at."""


@cache
def _plan(cls: type) -> tuple[dict[str, tuple[type | tuple[type, ...] | None, _Convert]], bool]:
    """Per class, once: field name → (types accepted as they are, converter); has ``extra``.

    The converter is the field's check (``_converter``); the accepted types (``str``, ``bool``,
    either or ``None`` when optional: the values that check keeps as they are) let ``from_dict``
    keep the commonest values without a call.
    """
    hints = _hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    plan: dict[str, tuple[type | tuple[type, ...] | None, _Convert]] = {}
    for name in names:
        if name != "extra":
            plan[name] = (_passes(hints[name]), _converter(hints[name]))
    return plan, "extra" in names


def _passes(hint: Any) -> type | tuple[type, ...] | None:
    if hint in _PASS:
        return hint
    args = typing.get_args(hint)
    if (typing.get_origin(hint) in (typing.Union, types.UnionType) and len(args) == 2
            and args[1] is type(None) and args[0] in _PASS):
        return (args[0], type(None))
    return None


def from_dict(cls: type[T], data: Any, where: str = "trace") -> T:
    """Rebuild a record of type ``cls`` from ``to_dict`` output; raise ``TraceFormatError`` if off."""
    if not isinstance(data, dict):
        msg = f"{where}: expected an object for {cls.__name__}, got {type(data).__name__}"
        raise TraceFormatError(msg)
    plan, has_extra = _plan(cls)
    kwargs: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in data.items():
        field = plan.get(key)
        if field is None:  # unknown to this version, or "extra" itself
            _free(value, f"{where}.{key}")
            extra[key] = value
        elif field[0] is not None and isinstance(value, field[0]):
            kwargs[key] = value
        else:
            kwargs[key] = field[1](value, f"{where}.{key}")
    if has_extra:
        kwargs["extra"] = extra
    try:
        return cls(**kwargs)
    except TypeError as exc:
        msg = f"{where}: cannot build {cls.__name__}: {exc}"
        raise TraceFormatError(msg) from None


MAX_DEPTH = 48
"""How deep a free-form value (``extra``, options, config values) may nest; deeper is refused."""
MAX_INT = 2**63
"""Integers beyond the 64-bit range are refused: no field of a trace needs them, and they would
overflow float conversions in the views."""


def _bad(where: str, expected: str, value: Any) -> TraceFormatError:
    shown = repr(value) if isinstance(value, int | float | bool) or value is None else (
        type(value).__name__)
    return TraceFormatError(f"{where}: expected {expected}, got {shown}")


def _str(value: Any, where: str) -> Any:
    if not isinstance(value, str):
        raise _bad(where, "a string", value)
    return value


def _bool(value: Any, where: str) -> Any:
    if not isinstance(value, bool):
        raise _bad(where, "true or false", value)
    return value


def _int(value: Any, where: str) -> Any:
    if not isinstance(value, int) or isinstance(value, bool) or abs(value) >= MAX_INT:
        raise _bad(where, "a 64-bit integer", value)
    return value


def _float(value: Any, where: str) -> Any:
    """A number, as a finite float (an integer becomes a float)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _bad(where, "a number", value)
    if isinstance(value, int) and abs(value) >= MAX_INT:
        raise _bad(where, "a number in range", value)
    value = float(value)
    if not math.isfinite(value):
        raise _bad(where, "a finite number", value)
    return value


def _any(value: Any, where: str) -> Any:
    _free(value, where)
    return value


_SCALARS: dict[Any, _Convert] = {str: _str, bool: _bool, int: _int, float: _float}
"""The checks of a scalar field by declared type (bools are not ints; floats are finite); any
other type is checked as a free-form value (``_any``)."""


def _free(value: Any, where: str) -> None:
    """A free-form (``Any``) value: bounded depth, 64-bit integers, finite floats."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            msg = f"{where}: nested deeper than {MAX_DEPTH} levels"
            raise TraceFormatError(msg)
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
        elif isinstance(item, int) and not isinstance(item, bool) and abs(item) >= MAX_INT:
            raise _bad(where, "a 64-bit integer", item)


@cache
def _converter(hint: Any) -> _Convert:
    """The check of a field declared ``hint``, which also rebuilds the value; made once per hint.

    The model's type hints are the schema: one validator for every record, so a trace that
    loads has the types every view, table and analysis relies on. ``typing`` is asked here,
    once per hint, not per value (``from_dict`` runs for every node of every graph).

    Optional: ``None`` where the hint allows it, else the first other type. A record: its own
    fields (``from_dict``). ``list[T]``, ``dict[str, T]``: the container, then each item.
    Anything else: ``_SCALARS``.
    """
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        options = [a for a in args if a is not type(None)]
        return _optional(_converter(options[0]), nullable=len(options) < len(args))
    if dataclasses.is_dataclass(hint):
        return functools.partial(from_dict, hint)  # type: ignore[arg-type]
    if origin is list:
        (item,) = typing.get_args(hint) or (Any,)
        return functools.partial(_list, _converter(item), _passes(item))
    if origin is dict:
        args = typing.get_args(hint)
        value_hint = args[1] if len(args) == 2 else Any
        return functools.partial(_dict, _converter(value_hint), _passes(value_hint))
    return _SCALARS.get(hint, _any)


def _optional(inner: _Convert, *, nullable: bool) -> _Convert:
    if not nullable:
        return inner

    def convert(value: Any, where: str) -> Any:
        return None if value is None else inner(value, where)

    return convert


def _list(item: _Convert, kept: type | tuple[type, ...] | None, value: Any, where: str
          ) -> list[Any]:
    """A list, checked item by item; ``kept``: item types kept as they are (see ``_plan``)."""
    if not isinstance(value, list):
        raise _bad(where, "a list", value)
    if kept is not None and all(isinstance(v, kept) for v in value):
        return list(value)
    return [item(v, f"{where}[{i}]") for i, v in enumerate(value)]


def _dict(item: _Convert, kept: type | tuple[type, ...] | None, value: Any, where: str
          ) -> dict[Any, Any]:
    if not isinstance(value, dict):
        raise _bad(where, "an object", value)
    if kept is not None and all(isinstance(v, kept) for v in value.values()):
        return dict(value)
    return {k: item(v, f"{where}.{k}") for k, v in value.items()}


def trace_to_json(record: TraceRecord, *, indent: int | None = 1, redact: bool = True) -> str:
    """Serialise a trace; deterministic (sorted keys) so equal traces give equal files.

    Args:
        record: the trace.
        indent: JSON indentation (``None``: one line).
        redact: replace secrets (env, configs, key factor lines, notes, code) by keyed
            fingerprints first (``compile_lens.model.redaction``); ``False`` writes them as
            recorded, for a file you keep to yourself.
    """
    if redact:
        from compile_lens.model.redaction import redact_record

        record = redact_record(record)
    body = to_dict(record)
    body["format"] = FORMAT_NAME
    return json.dumps(body, indent=indent, sort_keys=True, default=str)


def _no_constant(name: str) -> Any:
    msg = f"{name} is not a number JSON allows"
    raise ValueError(msg)


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        msg = f"{text} overflows a float"
        raise ValueError(msg)
    return value


def parse_json(raw: str | bytes, source: str, expected: str) -> Any:
    """Parse JSON strictly, with one clear ``TraceFormatError`` for anything off.

    Refused: binary data, empty files, bad or truncated JSON, ``NaN``/``Infinity`` and floats
    that overflow, integers of more digits than Python converts, nesting that exhausts the
    parser's stack.

    Args:
        raw: the file's bytes (or text).
        source: the file name, for messages.
        expected: what the file should have been, for messages ("a compile_lens trace").
    """
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            msg = f"{source}: binary data, not UTF-8 JSON; expected {expected}"
            raise TraceFormatError(msg) from None
    if not raw.strip():
        msg = f"{source}: the file is empty; expected {expected}"
        raise TraceFormatError(msg)
    try:
        return json.loads(raw, parse_constant=_no_constant, parse_float=_finite)
    except json.JSONDecodeError as exc:
        hint = " (the file looks truncated)" if exc.pos >= len(raw.rstrip()) - 1 else ""
        msg = f"{source}: invalid JSON at line {exc.lineno} column {exc.colno}{hint}: {exc.msg}"
        raise TraceFormatError(msg) from None
    except RecursionError:
        msg = f"{source}: JSON nested too deeply to be {expected}"
        raise TraceFormatError(msg) from None
    except ValueError as exc:
        msg = f"{source}: invalid JSON: {' '.join(str(exc).split())[:200]}; expected {expected}"
        raise TraceFormatError(msg) from None


def trace_from_json(text: str | bytes, source: str = "<string>") -> TraceRecord:
    """Parse a trace, with clear errors for truncated, corrupt or unknown-schema input."""
    data = parse_json(text, source, "a compile_lens trace (JSON)")
    return trace_from_dict(data, source)


def trace_from_dict(data: Any, source: str = "<dict>") -> TraceRecord:
    """Validate the envelope (format name, schema version) and rebuild the record."""
    if not isinstance(data, dict) or data.get("format") != FORMAT_NAME:
        msg = (
            f"{source}: not a compile_lens trace (no \"format\": \"{FORMAT_NAME}\" field). "
            "To compare vLLM factor files use compile_lens.diff(); to read a trace, pass a file "
            "written by Trace.save()."
        )
        raise TraceFormatError(msg)
    version = data.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        shown = version if isinstance(version, int | float | bool) or version is None else (
            type(version).__name__)
        msg = f"{source}: schema_version is missing or not an integer ({shown!r})"
        raise TraceFormatError(msg)
    if version > SCHEMA_VERSION:
        msg = (
            f"{source}: written with trace schema {version}, but this compile_lens reads schema "
            f"{SCHEMA_VERSION} and older; upgrade with: pip install -U compile-lens"
        )
        raise TraceFormatError(msg)
    if version < 1:
        msg = f"{source}: unknown trace schema version {version}"
        raise TraceFormatError(msg)
    body = {k: v for k, v in data.items() if k != "format"}
    return from_dict(TraceRecord, body, source)


MAX_READ_ENV = "COMPILE_LENS_MAX_READ_BYTES"
DEFAULT_MAX_READ = 4 << 30


def max_read_bytes() -> int:
    """The largest file compile_lens reads (4 GiB; ``$COMPILE_LENS_MAX_READ_BYTES`` overrides)."""
    try:
        return max(1, int(os.environ.get(MAX_READ_ENV, DEFAULT_MAX_READ)))
    except ValueError:
        return DEFAULT_MAX_READ


def read_bounded(path: str | Path, *, missing: str = "no such file", what: str = "a .json file"
                 ) -> bytes:
    """Read a regular file of bounded size; anything else is one ``TraceFormatError`` line.

    Devices (``/dev/zero``), FIFOs and sockets are refused without reading (a FIFO is opened
    non-blocking, so a missing writer cannot hang us); files over ``max_read_bytes()`` are
    refused before reading; I/O errors name the file and the reason.

    Args:
        path: the file.
        missing: the message for a path that does not exist.
        what: what the file should be, for messages.
    """
    p = Path(path)
    try:
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        msg = f"{p}: {missing}"
        raise TraceFormatError(msg) from None
    except OSError as exc:
        msg = f"{p}: cannot be read ({exc.strerror or exc})"
        raise TraceFormatError(msg) from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        kind = ("is a directory" if stat.S_ISDIR(info.st_mode)
                else "not a regular file (a device, FIFO or socket)")
        msg = f"{p}: {kind}; expected {what}"
        raise TraceFormatError(msg)
    with os.fdopen(fd, "rb") as handle:
        limit = max_read_bytes()
        too_big = (f"{p}: larger than {limit} bytes, the most compile_lens reads; raise the limit "
                   f"with {MAX_READ_ENV}=<bytes>")
        if info.st_size > limit:
            raise TraceFormatError(too_big)
        try:
            data = handle.read(limit + 1)
        except OSError as exc:
            msg = f"{p}: cannot be read ({exc.strerror or exc})"
            raise TraceFormatError(msg) from None
    if len(data) > limit:
        raise TraceFormatError(too_big)
    return data


def read_trace(path: str | Path) -> TraceRecord:
    """Read a trace file; a missing, special, huge or corrupt file gives a ``TraceFormatError``."""
    p = Path(path)
    raw = read_bounded(p, missing="no such trace file",
                       what="a trace .json file written by Trace.save()")
    return trace_from_json(raw, str(p))
