"""Model: JSON round-trip of model records, with schema checks and unknown-field preservation.

Stage 2 (model): stdlib only. Unknown fields of a record go to its ``extra`` dict on load, so a
trace written by a newer compile_lens of the same schema version still loads and re-saves intact.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
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


def from_dict(cls: type[T], data: Any, where: str = "trace") -> T:
    """Rebuild a record of type ``cls`` from ``to_dict`` output; raise ``TraceFormatError`` if off."""
    if not isinstance(data, dict):
        msg = f"{where}: expected an object for {cls.__name__}, got {type(data).__name__}"
        raise TraceFormatError(msg)
    hints = _hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    kwargs: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in data.items():
        if key not in names or key == "extra":
            extra[key] = value
            continue
        kwargs[key] = _convert(hints[key], value, f"{where}.{key}")
    if "extra" in names:
        kwargs["extra"] = extra
    try:
        return cls(**kwargs)
    except TypeError as exc:
        msg = f"{where}: cannot build {cls.__name__}: {exc}"
        raise TraceFormatError(msg) from None


def _convert(hint: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        return _convert(options[0], value, where)
    if dataclasses.is_dataclass(hint):
        return from_dict(hint, value, where)
    if origin is list:
        if not isinstance(value, list):
            msg = f"{where}: expected a list, got {type(value).__name__}"
            raise TraceFormatError(msg)
        (item,) = typing.get_args(hint) or (Any,)
        return [_convert(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            msg = f"{where}: expected an object, got {type(value).__name__}"
            raise TraceFormatError(msg)
        args = typing.get_args(hint)
        vt = args[1] if len(args) == 2 else Any
        return {k: _convert(vt, v, f"{where}.{k}") for k, v in value.items()}
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def trace_to_json(record: TraceRecord, *, indent: int | None = 1) -> str:
    """Serialise a trace; deterministic (sorted keys) so equal traces give equal files."""
    body = to_dict(record)
    body["format"] = FORMAT_NAME
    return json.dumps(body, indent=indent, sort_keys=True, default=str)


def trace_from_json(text: str | bytes, source: str = "<string>") -> TraceRecord:
    """Parse a trace, with clear errors for truncated, corrupt or unknown-schema input."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            msg = f"{source}: not a compile_lens trace (the file is binary, not UTF-8 JSON)"
            raise TraceFormatError(msg) from None
    if not text.strip():
        msg = f"{source}: the file is empty; expected a compile_lens trace (JSON)"
        raise TraceFormatError(msg)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        hint = " (the file looks truncated)" if exc.pos >= len(text.rstrip()) - 1 else ""
        msg = f"{source}: invalid JSON at line {exc.lineno} column {exc.colno}{hint}: {exc.msg}"
        raise TraceFormatError(msg) from None
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
    if not isinstance(version, int):
        msg = f"{source}: schema_version is missing or not an integer ({version!r})"
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


def read_trace(path: str | Path) -> TraceRecord:
    """Read a trace file; a missing file or directory gives a ``TraceFormatError`` naming it."""
    p = Path(path)
    if not p.exists():
        msg = f"{p}: no such trace file"
        raise TraceFormatError(msg)
    if p.is_dir():
        msg = f"{p}: is a directory; expected a trace .json file written by Trace.save()"
        raise TraceFormatError(msg)
    return trace_from_json(p.read_bytes(), str(p))
