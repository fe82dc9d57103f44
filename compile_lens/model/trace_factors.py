"""Model: a trace's cache-key factors as one ``FactorDump``, and type checks for loaded dumps.

Stage 2 (model): stdlib only. A trace stores run-level factors in ``TraceRecord.factors`` and the
per-piece keys in ``compiles`` (legacy/standalone/FX keys) with their factor lines in
``key_lines``; ``trace_dump`` folds both into the dump a diff compares.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from compile_lens.errors import TraceFormatError
from compile_lens.model.factors import FactorDump, PieceKeys
from compile_lens.model.trace import TraceRecord
from compile_lens.model.vllm_factors import FACTORS_FILE, is_vllm_factors, location, vllm_dump

_STR_MAPS = ("env", "code", "system", "hashes")


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


def _str_map(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, dict):
        msg = f"{where}: expected an object, got {type(value).__name__}"
        raise TraceFormatError(msg)
    return {str(k): _as_text(v) for k, v in value.items()}


def _str_list(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        msg = f"{where}: expected a list of strings"
        raise TraceFormatError(msg)
    return list(value)


def _pieces(value: Any, where: str) -> list[PieceKeys]:
    if not isinstance(value, list) or not all(isinstance(p, PieceKeys) for p in value):
        msg = f"{where}: expected a list of pieces"
        raise TraceFormatError(msg)
    out = []
    for i, piece in enumerate(value):
        if not isinstance(piece.index, int) or isinstance(piece.index, bool):
            msg = f"{where}[{i}].index: expected an integer, got {piece.index!r}"
            raise TraceFormatError(msg)
        keys = _str_map(piece.keys, f"{where}[{i}].keys")
        names = {
            k: str(getattr(piece, k)) for k in ("graph", "submod", "size", "structure", "outcome")
        }
        out.append(dataclasses.replace(piece, keys=keys, **names))
    return out


def validate_dump(dump: FactorDump, source: str) -> FactorDump:
    """Check (and coerce scalars to text in) a loaded dump; ``TraceFormatError`` names the field."""
    fields: dict[str, Any] = {k: _str_map(getattr(dump, k), f"{source}: {k}") for k in _STR_MAPS}
    if not isinstance(dump.config, dict) or not all(
        isinstance(v, dict) for v in dump.config.values()
    ):
        msg = f"{source}: config: expected an object of config sections (objects)"
        raise TraceFormatError(msg)
    fields["redacted"] = _str_list(dump.redacted, f"{source}: redacted")
    affects = dump.env_affects if isinstance(dump.env_affects, dict) else None
    if affects is None:
        msg = f"{source}: env_affects: expected an object"
        raise TraceFormatError(msg)
    fields["env_affects"] = {
        k: _str_list(v, f"{source}: env_affects.{k}") for k, v in affects.items()
    }
    if not isinstance(dump.key_lines, dict):
        msg = f"{source}: key_lines: expected an object"
        raise TraceFormatError(msg)
    fields["key_lines"] = {
        k: _str_list(v, f"{source}: key_lines.{k}") for k, v in dump.key_lines.items()
    }
    fields["pieces"] = _pieces(dump.pieces, f"{source}: pieces")
    fields["source"] = str(dump.source)
    return dataclasses.replace(dump, **fields)


def _structure(piece: Any) -> str:
    if piece is None:
        return ""
    op = piece.split_op or ("split" if piece.is_split_op else "")
    return f"{op}|{piece.num_nodes}|{len(piece.input_shapes)}"


def _keys(compile_: Any) -> dict[str, str]:
    keys: dict[str, str] = {}
    if compile_.legacy_key:
        keys["aot"] = str(compile_.legacy_key)
    if compile_.standalone_key:
        keys["standalone"] = str(compile_.standalone_key)
    for i, fx in enumerate(compile_.fx_keys or []):
        keys["fx" if i == 0 else f"fx{i}"] = str(fx)
    return keys


def _vllm_files(record: TraceRecord) -> list[tuple[str, FactorDump]]:
    """``(rank/prefix, dump)`` for every ``cache_key_factors.json`` a vLLM trace kept."""
    out = []
    for art in sorted(record.artifacts, key=lambda a: (a.path, a.process)):
        if art.name != FACTORS_FILE or not art.content:
            continue
        try:
            data = json.loads(art.content)
        except (ValueError, RecursionError):
            continue
        if is_vllm_factors(data):
            where = location(Path(art.path))
            label = f"{where['rank']}/{where['prefix']}" if where else art.path
            out.append((label, vllm_dump(data, f"{art.path} (in trace)", path=Path(art.path))))
    return out


def merge_vllm(base: FactorDump, record: TraceRecord) -> FactorDump:
    """Add vLLM's hashes and env factors (from the trace's ``cache_key_factors.json``) to ``base``.

    The first file's hashes keep their plain names (``env``, ``config``, ``code``, ``compiler``,
    ``dir``); further prefixes get ``"<name> (rank_0_0/eagle_head)"``.
    """
    files = _vllm_files(record)
    if not files:
        return base
    hashes, env, affects = dict(base.hashes), dict(base.env), dict(base.env_affects)
    config = dict(base.config)
    for i, (label, dump) in enumerate(files):
        suffix = "" if i == 0 else f" ({label})"
        hashes.update({f"{k}{suffix}": v for k, v in dump.hashes.items()})
        for name, value in dump.env.items():
            env.setdefault(name, value)
            affects[name] = sorted({*affects.get(name, []), "vllm.env_hash"})
        if i == 0 and "vllm" in dump.config:
            config.setdefault("vllm", dump.config["vllm"])
    redacted = sorted({*base.redacted, *(n for _, d in files for n in d.redacted)})
    return dataclasses.replace(
        base, hashes=hashes, env=env, env_affects=affects, config=config, redacted=redacted
    )


def trace_dump(record: TraceRecord, source: str = "trace") -> FactorDump:
    """Run factors plus per-piece keys and factor lines of a trace, as one ``FactorDump``."""
    base = validate_dump(record.factors, source) if record.factors else FactorDump(source="trace")
    base = merge_vllm(base, record)
    if not record.compiles:
        return base
    by_id = {(p.graph_id, p.submod): p for p in record.pieces}
    order = {g.id: i for i, g in enumerate(record.graphs)}
    pieces = []
    for n, c in enumerate(record.compiles):
        piece = by_id.get((c.graph_id, c.submod))
        pieces.append(
            PieceKeys(
                graph=str(c.graph_id),
                submod=str(c.submod),
                size=str(c.size),
                index=piece.index if piece is not None else n,
                keys=_keys(c),
                structure=_structure(piece),
                outcome=str(c.outcome),
            )
        )
    pieces.sort(key=lambda p: (order.get(p.graph, len(order)), p.graph, p.index, p.size))
    used = {k for p in pieces for k in p.keys.values()}
    lines = dict(base.key_lines)
    lines.update({k: list(v) for k, v in record.key_lines.items() if k in used})
    return dataclasses.replace(base, pieces=pieces, key_lines=lines)
