"""Turn the vLLM-specific compile events into trace-model records.

Stage 1 → 2 (parsing, no torch or vLLM import). The shared events (``graph``, ``split``,
``piece_start``/``piece_end``, ``key_lines``, ``capture``, ``replays``, ``note``) are parsed by
``record.recorder`` like the embedded backend's. The ones only the vLLM observers emit are
parsed here:

* ``vllm_pass`` → ``PassTiming`` (phase ``vllm``, summed per piece × size × pass);
* ``vllm_lowering`` → ``Lowering`` (kind ``vllm_ir``, one per op × provider, with its nodes);
* ``vllm_artifact`` → ``Artifact`` (vLLM's cache dir and files, AOT model file, mega hashes);
* ``vllm_counters`` → ``compilation_counter`` deltas: the last report of each process, summed
  over processes, named ``vllm.<field>``;
* ``issue`` → ``InstrumentationIssue`` (hooks that failed in any process);
* ``vllm_hooks`` → which hooks were installed where, and the vLLM version;
* ``vllm_cudagraphs`` → vLLM's CUDA-graph settings (``cudagraph_mode``, capture sizes) and its own
  account of the capture phase (seconds, GiB, as it logs them), per process.

``graph_id(event, graph_key)`` maps a graph key to the trace's graph id (the recorder's).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from compile_lens._events import PREFIX, VLLM_EVENTS
from compile_lens.model import Artifact, InstrumentationIssue, Lowering, PassTiming
from compile_lens.record.raw import RawEvent

GraphIdFn = Callable[[RawEvent, str], str]
EVENTS = VLLM_EVENTS


@dataclass
class VllmRecords:
    """What ``collect`` found; the session adds these to the ``TraceRecord``."""

    passes: list[PassTiming] = field(default_factory=list)
    lowerings: list[Lowering] = field(default_factory=list)
    artifacts: list[Artifact] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)
    issues: list[InstrumentationIssue] = field(default_factory=list)
    hooks: dict[str, Any] = field(default_factory=dict)
    cudagraphs: dict[str, dict[str, Any]] = field(default_factory=dict)


def _bodies(events: Iterable[RawEvent]) -> Iterable[tuple[str, RawEvent, dict[str, Any]]]:
    names = {f"artifact:{PREFIX}{name}": name for name in EVENTS}
    for event in sorted(events, key=lambda e: e.t):
        kind = names.get(event.name)
        body = event.json_payload() if kind else None
        if kind and isinstance(body, dict):
            yield kind, event, body


def _where(event: RawEvent, body: dict[str, Any], graph_id: GraphIdFn) -> tuple[str, str, str]:
    key = str(body.get("graph_key") or "")
    gid = graph_id(event, key) if key else ""
    return gid, str(body.get("submod") or ""), str(body.get("size") or "")


class _Collector:
    def __init__(self, graph_id: GraphIdFn) -> None:
        self.graph_id = graph_id
        self.out = VllmRecords()
        self.pass_times: dict[tuple[str, str, str, str], list[float]] = {}
        self.counters_by_process: dict[str, dict[str, int]] = {}
        self.issue_counts: dict[tuple[str, str], tuple[int, str]] = {}
        self.artifact_ids: set[tuple[str, str, str, str]] = set()

    def vllm_pass(self, event: RawEvent, body: dict[str, Any]) -> None:
        where = _where(event, body, self.graph_id)
        name = str(body.get("name") or "")
        self.pass_times.setdefault((*where, name), []).append(float(body.get("seconds") or 0.0))

    def vllm_lowering(self, event: RawEvent, body: dict[str, Any]) -> None:
        gid, submod, size = _where(event, body, self.graph_id)
        for op, nodes in sorted((body.get("impls") or {}).items()):
            by_provider: dict[str, list[str]] = {}
            for node, provider in sorted(dict(nodes).items()):
                by_provider.setdefault(str(provider), []).append(str(node))
            for provider, names in sorted(by_provider.items()):
                self.out.lowerings.append(Lowering(
                    graph_id=gid, submod=submod, size=size, kind="vllm_ir",
                    name=f"{op}={provider}", ops=[str(op)], nodes=names,
                    compile_id=event.compile_id, extra={"provider": provider}))

    def vllm_artifact(self, event: RawEvent, body: dict[str, Any]) -> None:
        name, path = str(body.get("name") or ""), str(body.get("path") or "")
        ident = (event.process, name, path, str(body.get("sha256") or body.get("content") or ""))
        if ident in self.artifact_ids:
            return
        self.artifact_ids.add(ident)
        gid = _where(event, body, self.graph_id)[0]
        skip = {"name", "path", "content", "graph_key"}
        extra = {k: v for k, v in sorted(body.items()) if k not in skip}
        if gid:
            extra["graph_id"] = gid
        content = body.get("content")
        self.out.artifacts.append(Artifact(
            name=name, path=path, content=content if isinstance(content, str) else None,
            process=event.process, extra=extra))

    def vllm_counters(self, event: RawEvent, body: dict[str, Any]) -> None:
        counts = body.get("counters") or {}
        self.counters_by_process[event.process] = {str(k): int(v) for k, v in counts.items()}

    def issue(self, event: RawEvent, body: dict[str, Any]) -> None:
        key = (str(body.get("hook") or "vllm"), str(body.get("error_type") or ""))
        n, message = self.issue_counts.get(key, (0, str(body.get("message") or "")))
        self.issue_counts[key] = (n + 1, message)

    def vllm_hooks(self, event: RawEvent, body: dict[str, Any]) -> None:
        self.out.hooks[event.process or "main"] = body

    def vllm_cudagraphs(self, event: RawEvent, body: dict[str, Any]) -> None:
        self.out.cudagraphs.setdefault(event.process or "main", {}).update(body)

    def finish(self) -> VllmRecords:
        for (gid, submod, size, name), secs in sorted(self.pass_times.items()):
            self.out.passes.append(PassTiming(
                graph_id=gid, submod=submod, size=size, name=name, phase="vllm",
                seconds=round(sum(secs), 9), count=len(secs)))
        for counts in self.counters_by_process.values():
            for name, n in counts.items():
                key = f"vllm.{name}"
                self.out.counters[key] = self.out.counters.get(key, 0) + n
        self.out.counters = dict(sorted(self.out.counters.items()))
        for (hook, error_type), (n, message) in sorted(self.issue_counts.items()):
            self.out.issues.append(InstrumentationIssue(
                hook=hook, message=message, error_type=error_type, count=n))
        return self.out


def collect(events: Iterable[RawEvent], graph_id: GraphIdFn) -> VllmRecords:
    """Parse the vLLM-specific events (any processes, any order) into model records."""
    collector = _Collector(graph_id)
    for kind, event, body in _bodies(events):
        getattr(collector, kind)(event, body)
    return collector.finish()
