"""Instrument: which environment variables count for compile caches, and what they feed.

Stage 1 (instrument). torch reads most compile env vars once, at import, into config values
(``max_autotune = os.environ.get("TORCHINDUCTOR_MAX_AUTOTUNE") == "1"``); the config value, not the
variable, then enters the cache key. To say "this variable changed, therefore that config value",
we read the config modules' *source* (never executing it) and map each env-var name found in an
assignment, or in a helper function the assignment calls, to the config entry it sets. Feature
detection only: a config module that is missing or moved simply contributes nothing. This runs
after every traced compile, so ``counting_env`` parses only the config modules whose text may
hold one of the variables actually set (``may_hold``), and walks each subtree once (``_reads``).
"""

from __future__ import annotations

import ast
import importlib.util
import re
import sys
from collections.abc import Collection, Iterable, Mapping
from functools import cache, lru_cache
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


def _reads(node: ast.AST) -> tuple[set[str], set[str]]:
    """``(_env_names(node), _called_names(node))`` in one walk, about 5x faster than the two.

    The same nodes as ``ast.walk`` minus two kinds that cannot hold either: the children of a
    ``Constant`` (none) and of a ``Name`` (its load/store context). List fields may hold
    ``None`` (``{**d}`` keys) or plain strings (``global`` names); those are skipped.
    """
    env: set[str] = set()
    called: set[str] = set()
    stack: list[object] = [node]
    pop, push, extend = stack.pop, stack.append, stack.extend
    constant, name, call, node_type, match = ast.Constant, ast.Name, ast.Call, ast.AST, _ENV_NAME.match
    while stack:
        n = pop()
        if isinstance(n, constant):
            if isinstance(n.value, str) and match(n.value):
                env.add(n.value)
            continue
        if isinstance(n, name) or not isinstance(n, node_type):
            continue
        if isinstance(n, call) and isinstance(n.func, name):
            called.add(n.func.id)
        for field in n._fields:
            value = getattr(n, field, None)
            if isinstance(value, list):
                extend(value)
            elif isinstance(value, node_type):
                push(value)
    return env, called


def _scan(body: list[ast.stmt], prefix: str, helpers: dict[str, set[str]], *,
          reference: bool = False) -> dict[str, set[str]]:
    """Map config key (``prefix`` + name) → env names read by its assignment (or its helpers).

    ``reference``: walk with ``_env_names`` and ``_called_names`` (``ast.walk``, twice per
    assignment), the plain form that ``_reads`` must agree with; tests compare the two.
    """
    out: dict[str, set[str]] = {}
    for stmt in body:
        if isinstance(stmt, ast.FunctionDef):
            helpers[stmt.name] = _env_names(stmt) if reference else _reads(stmt)[0]
        elif isinstance(stmt, ast.ClassDef):
            out.update(_scan(stmt.body, f"{prefix}{stmt.name}.", helpers, reference=reference))
        else:
            names = _targets(stmt)
            value = getattr(stmt, "value", None)
            if not names or value is None:
                continue
            if reference:
                found, called = _env_names(value), _called_names(value)
            else:
                found, called = _reads(value)
            for fn in called:
                found |= helpers.get(fn, set())
            for name in names:
                if found:
                    out[f"{prefix}{name}"] = found
    return out


def scan_config_source(source: str, *, reference: bool = False) -> dict[str, set[str]] | None:
    """Config key → env names its assignment reads, for one config module's source.

    Args:
        source: the module's text (parsed, never executed).
        reference: use the plain two-walk scan (same result, slower; for tests).

    Returns:
        the mapping, or ``None`` if the source does not parse.
    """
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):  # ValueError: a null byte (Python 3.11)
        return None
    return _scan(tree.body, "", {}, reference=reference)


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
def _config_source(module: str) -> str | None:
    return _module_source(module)


@cache
def _config_scan(module: str, reference: bool = False) -> dict[str, set[str]]:
    source = _config_source(module)
    return (None if source is None else scan_config_source(source, reference=reference)) or {}


@cache
def env_config_map(*, reference: bool = False) -> dict[str, tuple[str, ...]]:
    """Env var → config entries it sets (``"inductor.max_autotune"``), from the config sources.

    Args:
        reference: scan with the plain two-walk form (``scan_config_source``); for tests.
    """
    return _merged(CONFIG_MODULES, reference=reference)


def _merged(sections: Iterable[str], *, reference: bool = False,
            wanted: frozenset[str] | None = None) -> dict[str, tuple[str, ...]]:
    """Env var → config entries over the scans of ``sections`` (only ``wanted`` names, if given)."""
    result: dict[str, set[str]] = {}
    for section in sections:
        for key, names in _config_scan(CONFIG_MODULES[section], reference).items():
            for name in names if wanted is None else names & wanted:
                result.setdefault(name, set()).add(f"{section}.{key}")
    return {name: tuple(sorted(keys)) for name, keys in sorted(result.items())}


_PIECES = re.compile(r"[A-Z0-9_][\"']\s*(?:#[^\n]*\n\s*)*[A-Za-z]*[\"']")
"""A string literal ending in ``[A-Z0-9_]`` next to another literal (``"TORCH" "_X"``)."""


def may_hold(source: str, names: Collection[str]) -> bool:
    """Whether a str constant in ``source`` may equal one of ``names`` (env names, ``_ENV_NAME``).

    ``False`` is a proof that none does: such a value (``[A-Z0-9_]``, perhaps a final newline)
    is either written out whole, so it is a substring of the source; or written with a backslash
    escape; or spread over implicitly concatenated literals, where a literal ending in
    ``[A-Z0-9_]`` is followed, across blanks and comments, by the next one: ``_PIECES``.
    """
    if any(name in source for name in names) or "\\" in source:
        return True
    return _PIECES.search(source) is not None


def env_config_entries(names: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """``env_config_map()`` for ``names`` only (those it has); same values.

    A config module whose text cannot hold any of the names (``may_hold``) is not parsed: in
    the common run only variables no config module reads are set (``TORCHINDUCTOR_CACHE_DIR``,
    ``CUDA_VISIBLE_DEVICES``), and this costs a few substring searches instead of parsing and
    walking about 4,000 lines of torch config (issue 12: it runs after every traced compile).
    The answer is kept for the last few sets of names, so a process that traces again with the
    same environment pays nothing.
    """
    return _entries(frozenset(name for name in names if _ENV_NAME.match(name)))


@lru_cache(maxsize=16)
def _entries(wanted: frozenset[str]) -> dict[str, tuple[str, ...]]:
    sections = [section for section, module in CONFIG_MODULES.items()
                if wanted and (source := _config_source(module)) is not None
                and may_hold(source, wanted)]
    return _merged(sections, wanted=wanted)


def counting_env(environ: Mapping[str, str], *, reference: bool = False
                 ) -> tuple[dict[str, str], dict[str, list[str]]]:
    """The env vars that may reach a cache key, and what each one feeds.

    Args:
        environ: the environment to read (``os.environ``).
        reference: look names up in the whole ``env_config_map(reference=True)`` instead of
            ``env_config_entries``; same result, slower (for tests).

    Returns:
        ``(env, affects)``: the selected variables with their values, and for each the config
        entries it sets (empty when none is known).
    """
    mapping = env_config_map(reference=True) if reference else env_config_entries(environ)
    env: dict[str, str] = {}
    affects: dict[str, list[str]] = {}
    for name in sorted(environ):
        known = name in mapping or name in EXTRA_COUNTING
        if not known and not name.startswith(COUNTING_PREFIXES):
            continue
        env[name] = environ[name]
        affects[name] = list(mapping.get(name, ())) + EXTRA_COUNTING.get(name, [])
    return env, affects
