"""Instrument: collect this process's cache-key factors into a ``FactorDump`` (no compiling).

Stage 1 (instrument). Reads, never changes: the env vars that count (secrets redacted), the
Inductor and functorch configs through ``save_config_portable()`` (the form the FX key hashes,
minus private and cache-location entries), the torch key and versions, and the sha256 of every
traced source file. Each part is best-effort: a part torch does not offer is listed in
``extra["unavailable"]`` instead of failing the trace (``strict=True`` raises).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import sys
from collections.abc import Callable, Mapping, Sequence
from importlib import metadata
from typing import Any

from compile_lens.errors import InstrumentationError
from compile_lens.instrument.env_factors import counting_env
from compile_lens.model.factors import FactorDump
from compile_lens.model.redaction import redact_dump

_PLAIN = (str, int, float, bool, type(None))
NO_FILE = "<no file>"
UNREADABLE = "<unreadable>"


def jsonable(value: Any) -> Any:
    """A JSON-safe copy of a config value (tuples → lists, unknown objects → ``repr``).

    A plain string, number, bool or ``None`` (most of the ~600 config entries) is its own copy:
    the JSON round trip gives it back equal, at a few microseconds each (issue 12).
    """
    if type(value) in _PLAIN:
        return value
    try:
        return json.loads(json.dumps(value, sort_keys=True, default=repr))
    except (TypeError, ValueError):
        return repr(value)


def _portable(module: Any) -> dict[str, Any]:
    if hasattr(module, "save_config_portable"):
        raw = module.save_config_portable()
    elif hasattr(module, "get_config_copy"):
        raw = module.get_config_copy()
    else:
        msg = f"{module.__name__} has neither save_config_portable nor get_config_copy"
        raise AttributeError(msg)
    return {str(k): jsonable(v) for k, v in sorted(raw.items())}


def _inductor_config() -> dict[str, Any]:
    import torch._inductor.config as inductor_config

    return _portable(inductor_config)


def _functorch_config() -> dict[str, Any]:
    import torch._functorch.config as functorch_config

    return _portable(functorch_config)


def _torch_system() -> dict[str, str]:
    import torch

    out = {
        "torch_version": str(torch.__version__),
        "torch_git": str(getattr(torch.version, "git_version", "") or ""),
        "python": platform.python_version(),
        "platform": sys.platform,
        "machine": platform.machine(),
        "num_threads": str(torch.get_num_threads()),
    }
    with contextlib.suppress(metadata.PackageNotFoundError):
        out["triton_version"] = metadata.version("triton")
    out.update(_device_info(torch))
    return out


def _device_info(torch: Any) -> dict[str, str]:
    """Device facts for the key-factor dump; never initializes CUDA (see ``device``)."""
    from compile_lens.instrument import device

    out = {"device": "cpu"}
    cuda = getattr(torch.version, "cuda", None)
    hip = getattr(torch.version, "hip", None)
    if cuda:
        out["cuda_version"] = str(cuda)
    if hip:
        out["hip_version"] = str(hip)
    if cuda:
        facts = device.facts()
        out.update({k: v for k, v in facts.items()
                    if k in ("device", "gpu", "gpu_capability", "cuda_driver")})
    return out


def _torch_key() -> dict[str, str]:
    from torch._inductor import codecache

    out: dict[str, str] = {}
    key = codecache.torch_key()
    out["torch_key"] = key.hex() if isinstance(key, bytes) else str(key)
    base = getattr(codecache, "CacheBase", None)
    if base is not None and hasattr(base, "get_system") and _system_readable(base.get_system):
        out["inductor_system_hash"] = str(base.get_system().get("hash", ""))
    return out


def _system_readable(get_system: Any) -> bool:
    """Whether Inductor's system factors can be read without initializing CUDA.

    ``CacheBase.get_system()`` calls ``torch.cuda.current_device()``; it is safe once it has run
    (it caches itself: Inductor computed it during a compile), once CUDA is initialized, or on a
    build without CUDA (the call fails there and nothing is initialized). Otherwise the factor is
    left out rather than initializing CUDA in the user's process (see ``device``).
    """
    import torch

    from compile_lens.instrument import device

    info = getattr(get_system, "cache_info", None)
    if callable(info) and getattr(info(), "currsize", 0):
        return True
    return not getattr(torch.version, "cuda", None) or device.cuda_initialized()


def _vllm_env() -> dict[str, Any] | None:
    """vLLM's own env factors (``vllm.envs.compile_factors()``) when vLLM is already imported."""
    envs = sys.modules.get("vllm.envs")
    factors = getattr(envs, "compile_factors", None)
    if not callable(factors):
        return None
    found: Any = factors()
    return {str(k): v for k, v in found.items()}


def _merge_vllm_env(
    env: dict[str, str], affects: dict[str, list[str]], hashes: dict[str, str], factors: Any
) -> None:
    if not factors:
        return
    text = json.dumps(factors, sort_keys=True, default=repr)
    hashes["env"] = hashlib.sha256(text.encode()).hexdigest()
    for name, value in factors.items():
        env.setdefault(name, value if isinstance(value, str) else json.dumps(value, default=repr))
        affects.setdefault(name, [])
        if "vllm.env_hash" not in affects[name]:
            affects[name].append("vllm.env_hash")


def file_sha256(path: str) -> str:
    """sha256 of a traced file's bytes; ``<no file>`` for ``<string>``-style names."""
    if not path or path.startswith("<") or not os.path.isfile(path):
        return NO_FILE
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 16), b""):
                digest.update(chunk)
    except OSError:
        return UNREADABLE
    return digest.hexdigest()


def _part(name: str, fn: Callable[[], Any], unavailable: dict[str, str], strict: bool) -> Any:
    try:
        return fn()
    except Exception as exc:  # best-effort: record what could not be read
        if strict:
            msg = f"compile_lens: could not collect the {name} factors: {exc}"
            raise InstrumentationError(msg) from exc
        unavailable[name] = f"{type(exc).__name__}: {exc}"
        return None


def collect_factors(
    *,
    traced_files: Sequence[str] = (),
    redact: bool = True,
    environ: Mapping[str, str] | None = None,
    strict: bool = False,
) -> FactorDump:
    """Dump this process's cache-key factors, grouped by layer, without compiling anything.

    Args:
        traced_files: source files Dynamo traced; each is recorded with its sha256.
        redact: replace secrets in every layer (env values, their config copies, secret-named
            config entries, token-shaped values anywhere) by a keyed fingerprint. Pass ``False``
            only for a dump you keep to yourself.
        environ: the environment to read (default ``os.environ``).
        strict: raise ``InstrumentationError`` when a part cannot be read (default: skip it and
            name it in ``extra["unavailable"]``).

    Returns:
        A ``FactorDump`` with ``env``, ``config`` (``inductor``, ``functorch``), ``code`` and
        ``system`` filled.
    """
    unavailable: dict[str, str] = {}
    env, affects = counting_env(os.environ if environ is None else environ)
    hashes: dict[str, str] = {}
    _merge_vllm_env(env, affects, hashes, _part("vllm env", _vllm_env, unavailable, strict))
    config: dict[str, dict[str, Any]] = {}
    for section, fn in (("inductor", _inductor_config), ("functorch", _functorch_config)):
        values = _part(f"{section} config", fn, unavailable, strict)
        if values is not None:
            config[section] = values
    system = _part("system", _torch_system, unavailable, strict) or {}
    system.update(_part("torch key", _torch_key, unavailable, strict) or {})
    code = {path: file_sha256(path) for path in sorted(set(traced_files))}
    extra: dict[str, Any] = {"unavailable": unavailable} if unavailable else {}
    dump = FactorDump(
        source="compile_lens",
        env=env,
        config=config,
        code=code,
        system=system,
        hashes=hashes,
        env_affects=affects,
        extra=extra,
    )
    # Every layer, not only env: a secret env var's config copy, secret-named config entries and
    # token-shaped values set in code are hidden too (docs/security.md).
    return redact_dump(dump) if redact else dump
