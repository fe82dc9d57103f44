"""An embedded-backend FULL_AND_PIECEWISE trace built through the real parser from the events the
backend sends (``compile_lens.piecewise(cudagraph_mode="full_and_piecewise")``: FULL graphs at the
decode sizes 1 and 2, PIECEWISE at 4 and 8, calls above 8 and one whose weight moved ran without a
graph). The GPU tier records the same shape on the H100; this is its CPU-side stand-in for the
views, with numbers chosen so every sum in the view can be checked by hand.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from compile_lens import _events
from compile_lens.model import WHOLE_MODEL, TraceRecord
from compile_lens.record.raw import RawEvent
from compile_lens.record.recorder import TraceBuilder

G = "pw0"
PIECES = ("submod_0", "submod_2")
MIB = 2**20


def _event(t: float, name: str, body: dict[str, Any]) -> RawEvent:
    assert _events.validate(name, body) == [], body
    return RawEvent(t=t, name=_events.artifact_name(name), metadata={}, payload=json.dumps(body))


def _capture(t: float, submod: str, size: int, mode: str, warm: float, cap: float, pool: int,
             held: int) -> RawEvent:
    return _event(t, _events.CAPTURE, {
        "graph_key": G, "submod": submod, "size": size, "mode": mode, "seconds": warm + cap,
        "warmup_seconds": warm, "capture_seconds": cap, "memory_bytes": pool,
        "reserved_bytes": pool + 4096, "static_input_bytes": 4096, "held_bytes": held})


# (submod, size, mode, replays, tokens, padded_tokens)
REPLAYS = [
    (WHOLE_MODEL, 1, "FULL", 10, 10, 0),
    (WHOLE_MODEL, 2, "FULL", 4, 6, 2),
    *((p, 4, "PIECEWISE", 3, 9, 3) for p in PIECES),
    *((p, 8, "PIECEWISE", 2, 11, 5) for p in PIECES),
]
FALLBACKS = [
    {"submod": WHOLE_MODEL, "mode": "PIECEWISE", "reason": "above_largest_size", "calls": 2,
     "tokens": 40},
    {"submod": "submod_0", "mode": "PIECEWISE",
     "reason": "static_input_moved: parameter layers.0.w has a new address", "calls": 1,
     "tokens": 3},
]


def events(extra_text: str = "") -> list[RawEvent]:
    """The event stream; ``extra_text`` is appended to every string the user's code controls."""
    def s(text: str) -> str:
        return text + extra_text

    out = [
        _event(1.0, _events.GRAPH, {"graph_key": G, "backend": "compile_lens.piecewise"}),
        _event(1.1, _events.CUDAGRAPHS, {"cudagraph_mode": s("FULL_AND_PIECEWISE"),
                                         "capture_sizes": [1, 2, 4, 8], "full_sizes": [1, 2]}),
    ]
    t = 2.0
    for size in (8, 4):  # the largest first, as vLLM captures
        for i, piece in enumerate(PIECES):
            t += 0.1
            out.append(_capture(t, s(piece), size, s("PIECEWISE"), 0.02, 0.01,
                                2 * MIB if size == 8 and i == 0 else 0, (100 + size + i) * MIB))
    for size in (2, 1):
        t += 0.1
        out.append(_capture(t, WHOLE_MODEL, size, s("FULL"), 0.05, 0.03,
                            8 * MIB if size == 2 else 0, (120 + size) * MIB))
    rows = [{"submod": s(p) if p != WHOLE_MODEL else p, "size": z, "mode": s(m),
             "uniform": False, "replays": r, "tokens": tok, "padded_tokens": pad}
            for p, z, m, r, tok, pad in REPLAYS]
    falls = [{**f, "reason": s(f["reason"]), "mode": s(f["mode"])} for f in FALLBACKS]
    out.append(_event(t + 1, _events.REPLAYS, {"graph_key": G, "rows": rows, "fallbacks": falls}))
    return out


def embedded_trace(extra_text: str = "") -> TraceRecord:
    """The record the parser builds from ``events()``, with the backend's settings in
    ``run.extra["cudagraphs"]``."""
    builder = TraceBuilder(0.0)
    parts = builder.feed_all(events(extra_text))
    names = {f.name for f in dataclasses.fields(TraceRecord)}
    record = TraceRecord(**{f.name: getattr(parts, f.name) for f in dataclasses.fields(parts)
                            if f.name in names})
    run = dataclasses.replace(record.run, extra={**record.run.extra, **builder.run_extra()})
    return dataclasses.replace(record, run=run)
