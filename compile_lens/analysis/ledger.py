"""Analysis: the compile ledger: every compile of a trace, in time order, with its cause.

Stage 3, pure. One row per Dynamo frame compile (``record.frame_compiles``) and per piece compile
(``record.compiles``). A frame's cause comes from torch's guard-failure reasons, its
``compilation_metrics`` and its graph-break artifacts; a piece's from the answers of each cache
layer in the order they were asked: vLLM's compile cache or the embedded backend's artifact
cache and dedup (the piece's outcome), then torch's AOTAutograd and FX graph caches
(``record.cache_decisions``, hit / miss / bypass with key and reason). Cache decisions that no
piece compile claims (a plain ``torch.compile`` with no Inductor output recorded) go to their frame.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from compile_lens.analysis import torch_text
from compile_lens.model.causes import AOTAUTOGRAD, FX_GRAPH, CacheDecision, FrameCompile
from compile_lens.model.events import CACHE_HIT, DEDUPLICATED, LOADED, PieceCompile
from compile_lens.model.trace import TraceRecord

FIRST = "first_compile"
RECOMPILE = "recompile"
LIMIT = "recompile_limit"
RESUME = "graph_break_resume"
FAILED = "failed"
BYPASS = "cache_bypass"
MISS = "cache_miss"
LAYER_NAMES = {AOTAUTOGRAD: "AOTAutograd cache", FX_GRAPH: "FX graph cache",
               "vllm_cache": "vLLM compile cache", "artifact_cache": "artifact cache",
               "dedup": "dedup"}
RESUME_PREFIX = "torch_dynamo_resume_in_"


@dataclass(frozen=True, kw_only=True)
class Decision:
    """One cache layer's answer for one compile (``answer``: hit, miss, bypass, loaded, reused)."""

    layer: str
    answer: str
    key: str | None = None
    reason: str = ""

    def text(self) -> str:
        """``AOTAutograd cache bypass: <torch's reason>``."""
        name = LAYER_NAMES.get(self.layer, self.layer)
        reason = torch_text.one_line(self.reason)
        return f"{name} {self.answer}" + (f": {reason}" if reason else "")


@dataclass(frozen=True, kw_only=True)
class LedgerRow:
    """One compile and why it happened.

    ``kind`` is ``frame`` (a Dynamo frame compile) or ``piece`` (a piece × size compile).
    ``cause`` is one of ``first_compile``, ``recompile``, ``recompile_limit``,
    ``graph_break_resume``, ``failed`` (frames) or the piece's outcome refined by its caches:
    ``cache_miss``, ``cache_bypass``, ``cache_hit``, ``loaded``, ``deduplicated`` (``compiled``
    when no cache answer was recorded).
    ``why`` is one line in torch's words; ``reasons`` the full texts it came from. ``guard``,
    ``changed`` and ``user_line`` are filled for recompiles; ``graph_breaks`` for frames that broke.
    """

    index: int
    kind: str
    compile_id: str
    name: str
    cause: str
    why: str
    seconds: float = 0.0
    start_s: float | None = None
    graph_id: str = ""
    submod: str = ""
    size: str = ""
    process: str = ""
    guard: str = ""
    changed: str = ""
    user_line: str = ""
    cache_size: int | None = None
    graph_breaks: list[str] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)


def _frame_cause(f: FrameCompile, failure: torch_text.GuardFailure | None,
                 breaks: list[str]) -> tuple[str, str]:
    """``(cause, why)`` of a frame compile, from torch's metrics and reasons."""
    limit, value = torch_text.recompile_limit(f.fail_reason)
    if limit:
        return LIMIT, (f"{limit} ({value}) reached: Dynamo stopped compiling this frame and "
                       "runs it eagerly")
    if f.fail_type:
        return FAILED, f"compile failed: {f.fail_type}: {torch_text.first_line(f.fail_reason)}"
    if failure is not None or (f.cache_size or 0) > 0:
        what = f"guard {failure.guard!r} failed" if failure else "guards failed"
        changed = f" ({failure.changed})" if failure and failure.changed else ""
        return RECOMPILE, f"recompile #{f.cache_size or 1}: {what}{changed}"
    if f.name.startswith(RESUME_PREFIX):
        return RESUME, f"resume after a graph break in {f.name.removeprefix(RESUME_PREFIX)}"
    why = "first compile of this frame" + (
        f"; {len(breaks)} graph break(s): {breaks[0]}" if breaks else "")
    if f.restart_reasons and not breaks:
        why += (f"; restarted {len(f.restart_reasons)} time(s): "
                f"{torch_text.first_line(f.restart_reasons[0])}")
    return FIRST, why


def frame_row(f: FrameCompile) -> LedgerRow:
    """The ledger row of one Dynamo frame compile."""
    where = f"{f.filename}:{f.lineno} in {f.name}" if f.filename else f.name
    breaks = [f"{at}: {torch_text.break_type(r)}" if at else torch_text.break_type(r)
              for at, r in (torch_text.graph_break(b) for b in f.graph_breaks)]
    failure = torch_text.guard_failure(f.recompile_reasons[0]) if f.recompile_reasons else None
    cause, why = _frame_cause(f, failure, breaks)
    return LedgerRow(
        index=0, kind="frame", compile_id=f.compile_id, name=f.name, cause=cause, why=why,
        seconds=f.seconds, start_s=f.start_s, graph_id=f.graph_id, process=f.process,
        guard=failure.guard if failure else "", changed=failure.changed if failure else "",
        user_line=(failure.location if failure else "") or where, cache_size=f.cache_size,
        graph_breaks=breaks, reasons=list(f.recompile_reasons))


def _backend_decisions(c: PieceCompile, backend: str) -> list[Decision]:
    """What the piece's own backend decided before torch's caches were asked."""
    vllm = backend.startswith("vllm")
    if c.outcome == LOADED:
        return [Decision(layer="vllm_cache" if vllm else "artifact_cache", answer="hit",
                         key=c.legacy_key if vllm else c.standalone_key)]
    out = [Decision(layer="vllm_cache", answer="miss", key=c.legacy_key)] if vllm else []
    if c.outcome == DEDUPLICATED:
        out.append(Decision(layer="dedup", answer="reused", key=c.standalone_key or c.legacy_key,
                            reason=f"same key as {c.dedup_of}" if c.dedup_of else ""))
    elif not vllm and c.artifact_path and c.standalone_key:
        out.append(Decision(layer="artifact_cache", answer="miss", key=c.standalone_key))
    return out


def _torch_decision(d: CacheDecision) -> Decision:
    return Decision(layer=d.layer, answer=d.state, key=d.key, reason=d.reason)


def piece_row(c: PieceCompile, backend: str, torch_decisions: list[CacheDecision],
              process: str = "") -> LedgerRow:
    """The ledger row of one piece compile, with its cache decisions in the order asked."""
    decisions = _backend_decisions(c, backend) + [_torch_decision(d) for d in torch_decisions]
    bypass = next((d for d in decisions if d.answer == "bypass"), None)
    if c.outcome in (LOADED, DEDUPLICATED, CACHE_HIT):
        cause = c.outcome
    elif c.outcome == FAILED:
        cause = FAILED
    else:
        missed = any(d.answer == "miss" for d in decisions)
        # Without a cache answer on record (an old trace) the piece simply compiled.
        cause = BYPASS if bypass else MISS if missed else c.outcome
    # Every answer is said, hits too: an FX graph cache hit under an AOTAutograd miss is news.
    why = "; ".join(d.text() for d in decisions) or c.outcome
    if cause == FAILED:
        why = f"compile failed: {torch_text.first_line(c.note)}" if c.note else "compile failed"
    return LedgerRow(index=0, kind="piece", compile_id=c.compile_id, name=c.submod, cause=cause,
                     why=why, seconds=c.seconds, start_s=c.start_s, graph_id=c.graph_id,
                     submod=c.submod, size=c.size, process=process, decisions=decisions,
                     reasons=[d.reason for d in torch_decisions if d.reason])


def _claim(record: TraceRecord) -> tuple[dict[int, list[CacheDecision]], list[CacheDecision]]:
    """Give each cache decision to the latest compile of its piece that started before it.

    A compile takes one answer per layer; a second one for the same piece (the same compile id
    again after ``torch._dynamo.reset()``) is left for the frame compile it belongs to.
    """
    by_where: dict[tuple[str, str, str], list[tuple[float, int]]] = defaultdict(list)
    for i, c in enumerate(record.compiles):
        by_where[(c.graph_id, c.submod, c.size)].append((c.start_s or 0.0, i))
    claimed: dict[int, list[CacheDecision]] = defaultdict(list)
    rest = []
    for d in sorted(record.cache_decisions, key=lambda d: d.t_s or 0.0):
        owners = sorted(by_where.get((d.graph_id, d.submod, d.size), []))
        before = [i for start, i in owners if start <= (d.t_s or 0.0)] or [i for _, i in owners]
        if before and all(x.layer != d.layer for x in claimed[before[-1]]):
            claimed[before[-1]].append(d)
        else:
            rest.append(d)
    return claimed, rest


def _frame_decisions(frames: list[FrameCompile], rest: list[CacheDecision]
                      ) -> dict[int, list[CacheDecision]]:
    """Unclaimed decisions → the latest frame compile of their compile id started before them."""
    out: dict[int, list[CacheDecision]] = defaultdict(list)
    for d in rest:
        same = [(f.start_s or 0.0, i) for i, f in enumerate(frames)
                if f.process == d.process and f.compile_id == d.compile_id.split("_")[0]]
        before = [i for start, i in sorted(same) if start <= (d.t_s or 0.0)]
        if before or same:
            out[(before or [i for _, i in sorted(same)])[-1]].append(d)
    return out


def ledger(record: TraceRecord) -> list[LedgerRow]:
    """Every compile of ``record`` in time order, each with its cause (``index`` from 0)."""
    graphs = {g.id: g for g in record.graphs}
    claimed, rest = _claim(record)
    rows = []
    for i, c in enumerate(record.compiles):
        g = graphs.get(c.graph_id)
        rows.append(piece_row(c, g.backend if g else "", claimed.get(i, []),
                              g.process if g else ""))
    by_frame = _frame_decisions(record.frame_compiles, rest)
    for i, f in enumerate(record.frame_compiles):
        row = frame_row(f)
        if by_frame.get(i):
            row = LedgerRow(**{**row.__dict__,
                               "decisions": [_torch_decision(d) for d in by_frame[i]]})
        rows.append(row)
    rows.sort(key=lambda r: (r.start_s is None, r.start_s or 0.0, r.kind != "frame"))
    return [LedgerRow(**{**r.__dict__, "index": i}) for i, r in enumerate(rows)]


__all__ = ["BYPASS", "FIRST", "LIMIT", "MISS", "RECOMPILE", "RESUME", "Decision", "LedgerRow",
           "ledger"]
