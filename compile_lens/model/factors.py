"""Model: the factors that go into the cache keys of a run, grouped by layer.

Stage 2 (model): stdlib only. Values are strings (or JSON-able scalars) so two dumps diff cleanly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, kw_only=True)
class FactorDump:
    """What a run's cache keys were made from.

    Layers: ``env`` (the environment variables that count, secrets redacted), ``config`` (one dict
    per config module: ``inductor``, ``functorch``, ``vllm``…), ``code`` (traced file → sha256),
    ``system`` (torch key, versions, device). ``hashes`` holds the top-level hashes a cache
    directory is named after (vLLM's ``env``/``config``/``code``/``compiler``) when known.
    ``source`` says where the dump came from (``compile_lens``, ``vllm cache_key_factors.json``…).
    """

    source: str = "compile_lens"
    env: dict[str, str] = field(default_factory=dict)
    config: dict[str, dict[str, Any]] = field(default_factory=dict)
    code: dict[str, str] = field(default_factory=dict)
    system: dict[str, str] = field(default_factory=dict)
    hashes: dict[str, str] = field(default_factory=dict)
    redacted: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
