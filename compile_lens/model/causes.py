"""Model: why things compiled, as torch logged it: Dynamo frame compiles and cache-layer answers.

Stage 2 (model): stdlib only. These records keep torch's own words (guard-failure reasons, graph
break reasons, bypass reasons, cache keys) verbatim; ``analysis.ledger`` interprets them. They are
read from the structured-trace stream, so a live ``trace()`` and an imported TORCH_TRACE log give
the same records.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

AOTAUTOGRAD = "aotautograd"
FX_GRAPH = "fx_graph"


@dataclass(frozen=True, kw_only=True)
class FrameCompile:
    """One Dynamo frame compile (all its restart attempts), from torch's ``compilation_metrics``.

    ``recompile_reasons`` are torch's guard-failure reasons (``recompile_reasons`` artifact), one
    per cache entry whose guards failed, newest entry first, each ``"<compile id>: <guard>"``
    optionally followed by ``"User stack trace:"`` lines. ``cache_size`` is the number of cache
    entries the frame already had (0 for a first compile). ``graph_breaks`` are the payloads of
    ``dynamo_graph_break_reason``; ``restart_reasons`` what Dynamo restarted the analysis for.
    ``fail_type``/``fail_reason`` are set when the compile failed (a recompile-limit hit is an
    ``Unsupported`` failure). ``seconds`` is ``entire_frame_compile_time_s``.
    """

    compile_id: str
    process: str = ""
    graph_id: str = ""
    name: str = ""
    filename: str = ""
    lineno: int | None = None
    start_s: float | None = None
    seconds: float = 0.0
    recompile_reasons: list[str] = field(default_factory=list)
    cache_size: int | None = None
    accumulated_cache_size: int | None = None
    graph_breaks: list[str] = field(default_factory=list)
    restart_reasons: list[str] = field(default_factory=list)
    fail_type: str = ""
    fail_reason: str = ""
    has_guarded_code: bool | None = None
    attempts: int = 1
    complete: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class CacheDecision:
    """One cache layer's answer (``hit``, ``miss`` or ``bypass``) as torch logged it.

    ``layer`` is ``aotautograd`` or ``fx_graph`` (torch's ``aotautograd_cache_*`` and
    ``fx_graph_cache_*`` artifacts). ``reason`` is torch's ``cache_bypass_reason``. The decision
    belongs to the piece compile open when it was logged (``graph_id``/``submod``/``size``), or to
    the plain graph of its compile id. ``t_s`` is when it was logged, seconds since trace start.
    """

    layer: str
    state: str
    key: str | None = None
    reason: str = ""
    graph_id: str = ""
    submod: str = ""
    size: str = ""
    compile_id: str = ""
    process: str = ""
    t_s: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
