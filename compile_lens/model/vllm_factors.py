"""Model: read vLLM's ``cache_key_factors.json`` (every known form) and find them in cache dirs.

Stage 2 (model): stdlib only. vLLM writes the file next to each compiled prefix, at
``<cache root>/torch_compile_cache/<hash10>/rank_<r>_<dp>/<prefix>/cache_key_factors.json``.
Forms handled:

- **legacy** (vLLM ≤ 0.32): ``{"env": {...}, "config_hash", "code_hash", "compiler_hash"}``; only the
  env factors are listed, the rest are hashes. ``hash10 = sha256(str([env, config, code,
  compiler]))[:10]`` with ``env = sha256(json.dumps(env, sort_keys=True))``.
- **full** (the ``compile_factors`` refactor, vLLM PR #29117 and later branches): adds ``config``
  (one dict per sub-config), ``compiler`` (a dict) and ``code`` (``{"files": [{"path", "hash"}]}``
  or a bare list); ``hash10`` is ``hash_factors({"env", "config", "code", "compiler"})[:10]``.
  An optional ``paths`` block (PR #40246) is kept as information only.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from compile_lens.errors import TraceFormatError
from compile_lens.model.factors import FactorDump
from compile_lens.model.redaction import redact_env

FACTORS_FILE = "cache_key_factors.json"
HASH_FIELDS = ("config_hash", "code_hash", "compiler_hash")
_SKIP_DIRS = frozenset({"inductor_cache", "triton_cache", "torch_aot_compile", "__pycache__"})


def is_vllm_factors(data: Any) -> bool:
    """True when ``data`` (parsed JSON) has the shape of a ``cache_key_factors.json``."""
    return isinstance(data, dict) and "env" in data and any(k in data for k in HASH_FIELDS)


def hash_factors(items: Any) -> str:
    """vLLM's ``hash_factors``: sha256 of the sorted-key JSON text."""
    return hashlib.sha256(json.dumps(items, sort_keys=True).encode()).hexdigest()


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts → ``{"a.b.c": leaf}``; lists and scalars are leaves."""
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for key in sorted(value, key=str):
            out.update(flatten(value[key], f"{prefix}{key}."))
        return out
    return {prefix[:-1] if prefix else "": value}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _code_entries(code: Any, source: str) -> list[dict[str, Any]]:
    files = code.get("files", []) if isinstance(code, dict) else code
    if not isinstance(files, list) or not all(isinstance(f, dict) for f in files):
        msg = f"{source}: 'code' must be a list of {{path, hash}} objects (or {{'files': [...]}})"
        raise TraceFormatError(msg)
    return files


def _check(data: Any, source: str) -> None:
    if not is_vllm_factors(data):
        msg = f"{source}: not a vLLM cache_key_factors.json (needs 'env' and the hash fields)"
        raise TraceFormatError(msg)
    if not isinstance(data["env"], dict):
        msg = f"{source}: 'env' must be an object of env-var factors, got {type(data['env']).__name__}"
        raise TraceFormatError(msg)
    for name in (*HASH_FIELDS, "code_hash"):
        if name in data and not isinstance(data[name], str):
            msg = f"{source}: '{name}' must be a string, got {type(data[name]).__name__}"
            raise TraceFormatError(msg)
    for name in ("config", "compiler"):
        if name in data and not isinstance(data[name], dict):
            msg = f"{source}: '{name}' must be an object, got {type(data[name]).__name__}"
            raise TraceFormatError(msg)


def _dir_hash(data: dict[str, Any], env_hash: str, code: list[dict[str, Any]] | None) -> str:
    if "config" in data or "compiler" in data:
        return hash_factors(
            {
                "env": data["env"],
                "config": data.get("config", {}),
                "code": {"files": code or []},
                "compiler": data.get("compiler", {}),
            }
        )[:10]
    parts = [env_hash, data.get("config_hash"), data.get("code_hash"), data.get("compiler_hash")]
    return hashlib.sha256(str(parts).encode()).hexdigest()[:10]


def location(path: Path) -> dict[str, str]:
    """``hash10``, ``rank`` and ``prefix`` read off a factors file's path (empty if not vLLM's)."""
    parts = path.parts
    for i in range(len(parts) - 1, 0, -1):
        if parts[i].startswith("rank_"):
            prefix = "/".join(parts[i + 1 : -1])
            return {"dir_hash": parts[i - 1], "rank": parts[i], "prefix": prefix}
    return {}


def vllm_dump(
    data: Any, source: str, *, redact: bool = True, path: Path | None = None
) -> FactorDump:
    """Build a ``FactorDump`` from a parsed ``cache_key_factors.json`` (any form)."""
    _check(data, source)
    full = "config" in data or "compiler" in data or "code" in data
    code = _code_entries(data["code"], source) if "code" in data else None
    env_hash = hash_factors(data["env"])
    hashes = {"env": env_hash}
    hashes.update({k.removesuffix("_hash"): data[k] for k in HASH_FIELDS if k in data})
    where = location(path) if path is not None else {}
    hashes["dir"] = where.get("dir_hash") or _dir_hash(data, env_hash, code)
    env = {str(k): _text(v) for k, v in sorted(data["env"].items())}
    redacted: list[str] = []
    if redact:
        env, redacted = redact_env(env)
    config = {"vllm": flatten(data["config"])} if isinstance(data.get("config"), dict) else {}
    system = {f"compiler.{k}": _text(v) for k, v in flatten(data.get("compiler", {})).items() if k}
    files = {str(f.get("path", "")): str(f.get("hash", "<no file>")) for f in code or []}
    extra: dict[str, Any] = {"form": "vllm-full" if full else "vllm-legacy", "source": source}
    extra.update(where)
    extra["dir_hash_recomputed"] = _dir_hash(data, env_hash, code)
    if isinstance(data.get("paths"), dict):
        extra["paths"] = data["paths"]
    return FactorDump(
        source=f"vllm {FACTORS_FILE}",
        env=env,
        config=config,
        code=files,
        system=system,
        hashes=hashes,
        redacted=redacted,
        env_affects={name: ["vllm.env_hash"] for name in env},
        extra=extra,
    )


def find_factor_files(root: Path) -> dict[str, Path]:
    """Every ``cache_key_factors.json`` under a vLLM cache dir, labelled ``rank_0_0/backbone``.

    Labels get the ``hash10`` in front (``3fbdd5227b/rank_0_0/backbone``) when one directory
    holds several cache hashes with the same rank and prefix.
    """
    found: list[Path] = []
    for current, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS)
        if FACTORS_FILE in files:
            found.append(Path(current) / FACTORS_FILE)
    labels: dict[Path, str] = {}
    for path in found:
        where = location(path.resolve())
        rel = path.parent.relative_to(root).as_posix()
        labels[path] = f"{where['rank']}/{where['prefix']}" if where else rel
    counts: dict[str, int] = {}
    for label in labels.values():
        counts[label] = counts.get(label, 0) + 1
    out: dict[str, Path] = {}
    for path in sorted(found):
        label = labels[path]
        if counts[label] > 1:
            label = path.parent.relative_to(root).as_posix()
        out[label] = path
    return out
