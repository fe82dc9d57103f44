"""Model: the factors that go into the cache keys of a run, grouped by layer.

Stage 2 (model): stdlib only. Values are strings (or JSON-able scalars) so two dumps diff cleanly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

FACTORS_FORMAT = "compile_lens.factors"
"""The ``"format"`` field of a factor dump written by ``save_factors``."""
FACTORS_SCHEMA_VERSION = 1


@dataclass(frozen=True, kw_only=True)
class PieceKeys:
    """The cache keys of one compiled piece (one graph, submodule and size) in one run.

    ``keys`` maps a key kind to the key: ``aot`` (the AOTAutograd key the real compile looked up),
    ``standalone`` (the key predicted up front), ``fx`` / ``fx1``… (Inductor FX-graph keys, forward
    then backward). The factor lines of every key are in ``FactorDump.key_lines``. ``structure`` is
    a short signature (split op, node count) used to match pieces across two runs; ``index`` is the
    piece's position in its graph.
    """

    graph: str
    submod: str
    size: str = "general"
    index: int = 0
    keys: dict[str, str] = field(default_factory=dict)
    structure: str = ""
    outcome: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class FactorDump:
    """What a run's cache keys were made from.

    Layers: ``env`` (the environment variables that count, secrets redacted), ``config`` (one dict
    per config module: ``inductor``, ``functorch``, ``vllm``…), ``code`` (traced file → sha256),
    ``system`` (torch key, versions, device). ``hashes`` holds the top-level hashes a cache
    directory is named after (vLLM's ``env``/``config``/``code``/``compiler``) when known.
    ``source`` says where the dump came from (``compile_lens``, ``vllm cache_key_factors.json``…).

    ``env_affects`` maps an env var to the config entries it feeds (``inductor.max_autotune``), so a
    diff can say "this variable changed, therefore that config value". ``pieces`` and ``key_lines``
    hold per-piece cache keys and their factor lines (``[hash] name: value``), stored once per key.
    """

    source: str = "compile_lens"
    env: dict[str, str] = field(default_factory=dict)
    config: dict[str, dict[str, Any]] = field(default_factory=dict)
    code: dict[str, str] = field(default_factory=dict)
    system: dict[str, str] = field(default_factory=dict)
    hashes: dict[str, str] = field(default_factory=dict)
    redacted: list[str] = field(default_factory=list)
    env_affects: dict[str, list[str]] = field(default_factory=dict)
    pieces: list[PieceKeys] = field(default_factory=list)
    key_lines: dict[str, list[str]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
