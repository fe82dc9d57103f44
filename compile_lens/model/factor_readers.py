"""Model: turn anything a user has on disk or in memory into ``FactorDump``s to compare.

Stage 2 (model): stdlib only. Accepted: a ``compile_lens.Trace`` or ``TraceRecord`` (per-piece keys
and factor lines come from ``compiles``/``key_lines``), a ``FactorDump``, or a path to a trace
``.json``, a factor dump ``.json`` (``save_factors``), a vLLM ``cache_key_factors.json`` (any
form) or a vLLM cache directory (every rank/prefix inside). Anything else, or a corrupt file,
raises ``TraceFormatError`` naming the file, what is wrong and what to pass instead.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compile_lens.errors import TraceFormatError
from compile_lens.model.factors import FACTORS_FORMAT, FACTORS_SCHEMA_VERSION, FactorDump
from compile_lens.model.redaction import redact_dump
from compile_lens.model.serialize import (
    from_dict,
    parse_json,
    read_bounded,
    to_dict,
    trace_from_dict,
)
from compile_lens.model.trace import FORMAT_NAME, TraceRecord
from compile_lens.model.trace_factors import trace_dump, validate_dump
from compile_lens.model.vllm_factors import find_factor_files, is_vllm_factors, vllm_dump

ACCEPTED = (
    "a compile_lens Trace or TraceRecord, a FactorDump, or a path to a trace .json, a factor dump "
    ".json, a vLLM cache_key_factors.json or a vLLM cache directory"
)


@dataclass(frozen=True, kw_only=True)
class FactorSet:
    """One side of a diff: a name for display and one ``FactorDump`` per label.

    A single trace or file has one entry labelled ``""``; a vLLM cache directory has one per
    rank/prefix (``"rank_0_0/backbone"``).
    """

    name: str
    entries: dict[str, FactorDump] = field(default_factory=dict)


def factors_to_json(dump: FactorDump, *, indent: int | None = 1) -> str:
    """A factor dump as deterministic JSON (sorted keys), readable by ``load_factors``."""
    body = to_dict(dump)
    body["format"] = FACTORS_FORMAT
    body["schema_version"] = FACTORS_SCHEMA_VERSION
    return json.dumps(body, indent=indent, sort_keys=True, default=str)


def save_factors(dump: FactorDump, path: str | os.PathLike[str], *, redact: bool = True) -> Path:
    """Write ``dump`` to ``path`` (parents created); returns the path.

    Secret-looking env values are redacted unless ``redact=False`` (even in a dump collected with
    ``redact=False``: writing secrets to a file takes a second, explicit opt-out).
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(factors_to_json(_redacted(dump) if redact else dump), encoding="utf-8")
    return p


def _dump_from_dict(data: dict[str, Any], source: str) -> FactorDump:
    version = data.get("schema_version")
    if not isinstance(version, int) or version < 1:
        msg = f"{source}: factor dump without a valid schema_version ({version!r})"
        raise TraceFormatError(msg)
    if version > FACTORS_SCHEMA_VERSION:
        msg = (
            f"{source}: written with factor schema {version}; this compile_lens reads "
            f"{FACTORS_SCHEMA_VERSION} and older. Upgrade with: pip install -U compile-lens"
        )
        raise TraceFormatError(msg)
    body = {k: v for k, v in data.items() if k not in ("format", "schema_version")}
    return validate_dump(from_dict(FactorDump, body, source), source)


def _parse_json(raw: bytes, source: str) -> Any:
    return parse_json(raw, source, ACCEPTED)


def dump_from_data(
    data: Any, source: str, *, redact: bool = True, path: Path | None = None
) -> FactorDump:
    """Recognise parsed JSON (trace, factor dump, vLLM factors) and build its ``FactorDump``."""
    if isinstance(data, dict) and data.get("format") == FORMAT_NAME:
        dump = trace_dump(trace_from_dict(data, source), source)
    elif isinstance(data, dict) and data.get("format") == FACTORS_FORMAT:
        dump = _dump_from_dict(data, source)
    elif is_vllm_factors(data):
        dump = vllm_dump(data, source, redact=redact, path=path)
    else:
        found = sorted(map(str, data))[:8] if isinstance(data, dict) else type(data).__name__
        msg = f"{source}: not a compile_lens trace, factor dump or vLLM cache_key_factors.json "
        msg += f"(found {found}); expected {ACCEPTED}"
        raise TraceFormatError(msg)
    return _redacted(dump) if redact else dump


def _redacted(dump: FactorDump) -> FactorDump:
    return redact_dump(dump)


def _read_path(path: Path, *, redact: bool) -> FactorSet:
    if not path.exists():
        msg = f"{path}: no such file or directory; expected {ACCEPTED}"
        raise TraceFormatError(msg)
    if path.is_dir():
        files = find_factor_files(path)
        if not files:
            msg = (
                f"{path}: no cache_key_factors.json under this directory; pass a vLLM cache "
                "directory such as ~/.cache/vllm/torch_compile_cache/<hash>, or a file"
            )
            raise TraceFormatError(msg)
        entries = {label: _read_file(p, redact=redact) for label, p in files.items()}
        return FactorSet(name=str(path), entries=entries)
    return FactorSet(name=str(path), entries={"": _read_file(path, redact=redact)})


def _read_file(path: Path, *, redact: bool) -> FactorDump:
    raw = read_bounded(path, missing=f"no such file; expected {ACCEPTED}", what=ACCEPTED)
    source = str(path)
    try:
        return dump_from_data(_parse_json(raw, source), source, redact=redact, path=path)
    except TraceFormatError:
        raise
    except (TypeError, ValueError, AttributeError, KeyError, RecursionError) as exc:
        msg = f"{source}: unexpected content ({type(exc).__name__}: {exc}); expected {ACCEPTED}"
        raise TraceFormatError(msg) from None


def load_factors(source: Any, *, redact: bool = True, name: str = "") -> FactorSet:
    """Read one side of a diff from any accepted input (see the module docstring)."""
    if isinstance(source, FactorSet):
        return source
    if isinstance(source, FactorDump):
        dump = _redacted(source) if redact else source
        label = f"{name} (factors from {source.source})" if name else f"factors ({source.source})"
        return FactorSet(name=label, entries={"": dump})
    record = getattr(source, "record", source)
    if isinstance(record, TraceRecord):
        label = f"{name} (trace)" if name else "trace"
        dump = trace_dump(record, label)
        return FactorSet(name=label, entries={"": _redacted(dump) if redact else dump})
    if isinstance(source, str | os.PathLike):
        return _read_path(Path(source), redact=redact)
    msg = f"cannot compare a {type(source).__name__}; pass {ACCEPTED}"
    raise TraceFormatError(msg)
