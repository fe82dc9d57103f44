"""Instrument: which environment variables count for compile caches, and what they feed.

Stage 1 (instrument). torch reads most compile env vars once, at import, into config values
(``max_autotune = os.environ.get("TORCHINDUCTOR_MAX_AUTOTUNE") == "1"``); the config value, not the
variable, then enters the cache key. To say "this variable changed, therefore that config value",
we read the config modules' *source* (never executing it) and map each env-var name found in an
assignment, or in a helper function the assignment calls, to the config entry it sets. Feature
detection only: a config module that is missing or moved simply contributes nothing.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import sys
from collections.abc import Mapping
from functools import cache
from pathlib import Path

CONFIG_MODULES = {
    "inductor": "torch._inductor.config",
    "functorch": "torch._functorch.config",
    "dynamo": "torch._dynamo.config",
}
"""Config section name → module whose source is scanned for env-var reads."""

COUNTING_PREFIXES = ("TORCHINDUCTOR_", "TORCHDYNAMO_", "TORCH_COMPILE_", "TORCH_DYNAMO_", "VLLM_")
"""Variables with these prefixes are always listed in a dump (they may reach a key)."""

EXTRA_COUNTING = {"OMP_NUM_THREADS": ["system.num_threads"], "CXX": [], "CC": []}
"""Other variables that reach a key indirectly (thread count → ``cpp_runtime_thread_count``)."""

_ENV_NAME = re.compile(r"^[A-Z][A-Z0-9]*_[A-Z0-9_]+$")


def _env_names(node: ast.AST) -> set[str]:
    return {
        n.value
        for n in ast.walk(node)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and _ENV_NAME.match(n.value)
    }


def _called_names(node: ast.AST) -> set[str]:
    return {
        n.func.id
        for n in ast.walk(node)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
    }


def _targets(stmt: ast.stmt) -> list[str]:
    if isinstance(stmt, ast.Assign):
        return [t.id for t in stmt.targets if isinstance(t, ast.Name)]
    if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value:
        return [stmt.target.id]
    return []


def _scan(body: list[ast.stmt], prefix: str, helpers: dict[str, set[str]]) -> dict[str, set[str]]:
    """Map config key (``prefix`` + name) → env names read by its assignment (or its helpers)."""
    out: dict[str, set[str]] = {}
    for stmt in body:
        if isinstance(stmt, ast.FunctionDef):
            helpers[stmt.name] = _env_names(stmt)
        elif isinstance(stmt, ast.ClassDef):
            out.update(_scan(stmt.body, f"{prefix}{stmt.name}.", helpers))
        else:
            names = _targets(stmt)
            value = getattr(stmt, "value", None)
            if not names or value is None:
                continue
            found = _env_names(value)
            for fn in _called_names(value):
                found |= helpers.get(fn, set())
            for name in names:
                if found:
                    out[f"{prefix}{name}"] = found
    return out


def _module_source(module: str) -> str | None:
    """Source of ``module`` without importing it (importing ``torch._inductor`` costs seconds)."""
    loaded = sys.modules.get(module)
    origin = getattr(loaded, "__file__", None)
    if origin is None:
        top, _, rest = module.partition(".")
        try:
            spec = importlib.util.find_spec(top)
        except (ImportError, ValueError):
            return None
        if spec is None or not spec.origin:
            return None
        origin = str(Path(spec.origin).parent.joinpath(*rest.split(".")).with_suffix(".py"))
    try:
        return Path(origin).read_text(encoding="utf-8")
    except OSError:
        return None


@cache
def env_config_map() -> dict[str, tuple[str, ...]]:
    """Env var → config entries it sets (``"inductor.max_autotune"``), from the config sources."""
    result: dict[str, set[str]] = {}
    for section, module in CONFIG_MODULES.items():
        source = _module_source(module)
        if source is None:
            continue
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for key, names in _scan(tree.body, "", {}).items():
            for name in names:
                result.setdefault(name, set()).add(f"{section}.{key}")
    return {name: tuple(sorted(keys)) for name, keys in sorted(result.items())}


def counting_env(environ: Mapping[str, str]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """The env vars that may reach a cache key, and what each one feeds.

    Args:
        environ: the environment to read (``os.environ``).

    Returns:
        ``(env, affects)``: the selected variables with their values, and for each the config
        entries it sets (empty when none is known).
    """
    mapping = env_config_map()
    env: dict[str, str] = {}
    affects: dict[str, list[str]] = {}
    for name in sorted(environ):
        known = name in mapping or name in EXTRA_COUNTING
        if not known and not name.startswith(COUNTING_PREFIXES):
            continue
        env[name] = environ[name]
        affects[name] = list(mapping.get(name, ())) + EXTRA_COUNTING.get(name, [])
    return env, affects
