"""The compile events compilers report for compile_lens to observe.

This module is the contract between *compilers* (the embedded piecewise backend in ``backend/``,
and compile_lens' wrappers around vLLM's backend) and the *observer* (``instrument/``). Events go
out through torch's structured trace stream (``torch._logging.trace_structured``) as artifacts
named ``compile_lens_<event>``, the same stream vLLM's own ``vllm_piecewise_compile_start`` uses:

* with no handler on ``torch.__trace`` nothing is built, so an untraced compile pays nothing;
* ``TORCH_TRACE``/tlparse users see the events too;
* a recorder in another process (vLLM workers) captures them with the same handler.

Every payload carries ``graph_key``: a string unique in its process for one backend invocation,
so runtime events (CUDA-graph captures) attach to the right graph without a compile context.

Events and their payload fields (JSON objects; all optional unless marked):

``graph``       graph_key*, backend, name, code, nodes (list of GraphNode dicts), split_ops, prefix
``split``       graph_key*, pieces (list of Piece dicts without graph_id)
``piece_start`` graph_key*, submod*, size*
``piece_end``   graph_key*, submod*, size*, outcome*, legacy_key, standalone_key, dedup_of,
                seconds, artifact_path, note
``key_lines``   key*, lines* (the factor lines of a cache key, sent once per key)
``capture``     graph_key*, submod*, size* (int), seconds, memory_bytes; GPU detail: capture_seconds,
                warmup_seconds, allocated_bytes, reserved_bytes, static_input_bytes, copied/adopted/
                shared/in_place (how each input reached the static buffers), first_tokens, artifact
``replays``     graph_key*, counts* ({"submod|size": n})
``note``        message* (a degraded capability, said in plain words)
``plain_key``   key*, lines, seconds (predicted key of a plain torch.compile graph; cross_check)
``autotune``    op*, picked, picked_ms, choices ([[name, ms or None]], fastest first), input_shapes,
                num_choices, failed, precompile_s
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

PREFIX = "compile_lens_"
EVENT_NAMES = (
    "graph",
    "split",
    "piece_start",
    "piece_end",
    "key_lines",
    "capture",
    "replays",
    "note",
    "plain_key",
    "autotune",
)


def emit(event: str, payload: dict[str, Any] | Callable[[], dict[str, Any]]) -> None:
    """Report ``event`` on the structured trace stream; free when nobody listens.

    ``payload`` may be a callable so that expensive payloads (graph code, factor lines) are built
    only when a handler is attached.
    """
    from torch._logging import trace_structured

    def payload_fn() -> str:
        body = payload() if callable(payload) else payload
        return json.dumps(body, sort_keys=True, default=str)

    trace_structured(
        "artifact",
        metadata_fn=lambda: {"name": PREFIX + event, "encoding": "json"},
        payload_fn=payload_fn,
        expect_trace_id=False,
    )


def is_observed() -> bool:
    """True while a ``compile_lens.trace()`` session is active in this process."""
    from compile_lens import _session

    return _session.current() is not None
