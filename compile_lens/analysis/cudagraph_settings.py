"""Analysis: the CUDA-graph settings a run captured with (``run.extra``), next to what the
trace measured in the same process; and the small readers the CUDA-graphs view shares.

Stage 3, pure. vLLM's settings are ``run.extra["vllm_cudagraphs"][<process>]`` (``cudagraph_mode``,
``capture_sizes``, and vLLM's own account of the capture phase: ``vllm_seconds``, ``vllm_gib``,
``vllm_message``); the embedded backend's are ``run.extra["cudagraphs"]`` (``cudagraph_mode``,
``capture_sizes``, ``full_sizes``). A trace file is user input: a value of the wrong type reads as
absent, never as an error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from compile_lens.model import TraceRecord

SETTINGS_KEYS = ("vllm_cudagraphs", "cudagraphs")
"""``run.extra`` keys with capture settings: vLLM's (one dict per process) and the embedded
backend's (one dict)."""


def as_int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)


def as_float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


@dataclass(frozen=True)
class Settings:
    """How one process was configured to capture, next to what the trace measured there."""

    source: str
    """``vLLM`` or ``compile_lens.piecewise``."""
    process: str
    cudagraph_mode: str
    capture_sizes: list[int]
    full_sizes: list[int]
    seconds: float
    """Our capture seconds, summed over the captures of this process."""
    pool_bytes: int
    """Our pool growth, summed likewise."""
    reported_seconds: float | None = None
    """vLLM's own ``Graph capturing finished in … secs``."""
    reported_bytes: int | None = None
    """vLLM's own ``took … GiB``, in bytes."""
    message: str = ""

    @property
    def unaccounted_bytes(self) -> int | None:
        """Memory vLLM says the capture phase took that no capture we saw grew the pool by."""
        return None if self.reported_bytes is None else self.reported_bytes - self.pool_bytes


def _sizes(value: Any) -> list[int]:
    if not isinstance(value, list | tuple):
        return []
    return sorted({v for v in (as_int(x) for x in value) if v is not None})


def _settings_of(source: str, process: str, body: Mapping[str, Any], rows: Sequence[Any],
                 all_processes: bool) -> Settings:
    mine = [r for r in rows if all_processes or r.process == process]
    gib = as_float(body.get("vllm_gib"))
    return Settings(
        source=source, process=process, cudagraph_mode=str(body.get("cudagraph_mode") or ""),
        capture_sizes=_sizes(body.get("capture_sizes")), full_sizes=_sizes(body.get("full_sizes")),
        seconds=round(sum(r.seconds for r in mine), 9), pool_bytes=sum(r.pool_bytes for r in mine),
        reported_seconds=as_float(body.get("vllm_seconds")),
        reported_bytes=None if gib is None else round(gib * 2**30),
        message=str(body.get("vllm_message") or ""))


def settings(record: TraceRecord, rows: Sequence[Any]) -> list[Settings]:
    """The capture settings each process ran with (``run.extra``), next to our sums there
    (``rows``: ``cudagraphs.graph_rows(record)``, whose seconds and pool growth are summed)."""
    out: list[Settings] = []
    vllm = record.run.extra.get("vllm_cudagraphs")
    if isinstance(vllm, Mapping):
        for process, body in sorted(vllm.items(), key=lambda kv: str(kv[0])):
            if isinstance(body, Mapping):
                out.append(_settings_of("vLLM", str(process), body, rows, len(vllm) == 1))
    ours = record.run.extra.get("cudagraphs")
    if isinstance(ours, Mapping):
        nested = {k: v for k, v in ours.items() if isinstance(v, Mapping)}
        bodies = sorted(nested.items()) if nested else [("", ours)]
        for name, body in bodies:
            out.append(_settings_of("compile_lens.piecewise", str(name), body, rows,
                                    len(bodies) == 1 and not out))
    return out


def size_ranges(sizes: Iterable[int]) -> str:
    """``1, 2, 4, 8–248 step 8, 256–512 step 16``: a sorted size list, runs of three or more
    evenly spaced sizes folded."""
    values = sorted(set(sizes))
    parts: list[str] = []
    i = 0
    while i < len(values):
        j = i + 1
        if j < len(values):
            step = values[j] - values[i]
            while j + 1 < len(values) and values[j + 1] - values[j] == step:
                j += 1
            if j - i >= 2:
                tail = "" if step == 1 else f" step {step}"
                parts.append(f"{values[i]}–{values[j]}{tail}")
                i = j + 1
                continue
        parts.append(str(values[i]))
        i += 1
    return ", ".join(parts)
