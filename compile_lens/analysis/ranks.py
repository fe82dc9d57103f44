"""Ranks of a multi-rank trace: which rank compiled what, and where ranks diverge.

A tensor-parallel or data-parallel job runs the same model on every rank; a rank that compiles
differently (another graph, a recompile, a cache miss where the others hit) can make a collective
wait forever. This module groups the ranks by what they did, per aspect, as tlparse's desync
warnings do: compile ids, graphs, the cache hit/miss/bypass sequence and the piece keys. An
aspect with more than one group is a divergence. Pure functions of the ``TraceRecord``.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field

from compile_lens.analysis.device_index import neutral_line
from compile_lens.model import TraceRecord

ASPECTS = ("compile ids", "graphs", "cache hit/miss", "piece keys", "collectives",
           "tensor metadata")


@dataclass(frozen=True)
class RankGroup:
    """Ranks that agree on one aspect, and what they did (short, human-readable)."""

    ranks: tuple[int, ...]
    what: str


@dataclass(frozen=True)
class Divergence:
    """Per aspect, the groups of ranks (only aspects where ranks differ are listed)."""

    ranks: tuple[int, ...]
    groups: dict[str, list[RankGroup]] = field(default_factory=dict)

    @property
    def diverged(self) -> bool:
        """Whether any aspect splits the ranks into more than one group."""
        return bool(self.groups)

    def __str__(self) -> str:
        if len(self.ranks) < 2:
            return "ranks: one rank or none; nothing to compare"
        if not self.groups:
            return f"ranks: {len(self.ranks)} ranks compiled alike ({', '.join(ASPECTS)})"
        lines = [f"ranks DIVERGE ({len(self.ranks)} ranks): a rank that compiles differently "
                 "can hang a collective"]
        for aspect, groups in self.groups.items():
            lines.append(f"  {aspect}:")
            lines += [f"    ranks {_span(g.ranks)}: {g.what}" for g in groups]
        return "\n".join(lines)


def rank_of_process(record: TraceRecord) -> dict[str, int]:
    """Process name → rank, for processes whose rank is known."""
    return {p.name: p.rank for p in record.processes if p.rank is not None}


def ranks(record: TraceRecord) -> list[int]:
    """The ranks present in the trace, sorted (empty for a single-process trace)."""
    return sorted(set(rank_of_process(record).values()))


def divergence(record: TraceRecord) -> Divergence:
    """Group the ranks by compile ids, graphs, cache sequence and piece keys."""
    by_process = rank_of_process(record)
    all_ranks = tuple(sorted(set(by_process.values())))
    signatures: dict[str, dict[int, tuple[str, str]]] = {aspect: {} for aspect in ASPECTS}
    graph_process = {g.id: g.process for g in record.graphs}
    cache = record.run.extra.get("cache_sequence") or {}
    collectives = record.run.extra.get("collective_schedule") or {}
    tensor_meta = record.run.extra.get("tensor_meta") or {}
    for process, rank in by_process.items():
        graphs = [g for g in record.graphs if g.process == process]
        ids = sorted({g.compile_id for g in graphs if not g.compile_id.startswith("?")},
                     key=_natural)
        signatures["compile ids"][rank] = (", ".join(ids), _shorten(ids))
        shapes = [f"{g.compile_id}:{len(g.nodes)} nodes:{_digest(n.target for n in g.nodes)}"
                  for g in graphs]
        signatures["graphs"][rank] = (
            "\n".join(shapes), f"{len(graphs)} graphs, {sum(len(g.nodes) for g in graphs)} nodes "
            f"(#{_digest(shapes)})")
        seq = str(cache.get(process, ""))
        signatures["cache hit/miss"][rank] = (seq, _cache_text(seq))
        keys = [f"{c.compile_id}|{c.submod}|{c.size}|"
                f"{_rank_neutral(record, c.legacy_key or c.standalone_key)}"
                for c in record.compiles if graph_process.get(c.graph_id) == process]
        signatures["piece keys"][rank] = ("\n".join(keys),
                                          f"{len(keys)} piece compiles (#{_digest(keys)})")
        if collectives:
            schedules = [[str(op) for op in ops] for ops in collectives.get(process) or []]
            signatures["collectives"][rank] = _collective_signature(schedules)
        if tensor_meta:
            digests = tensor_meta.get(process) or {}
            ordered = [f"{cid}:{digests[cid]}" for cid in sorted(digests, key=_natural)]
            signatures["tensor metadata"][rank] = (
                ",".join(ordered), f"{len(ordered)} graphs' ops, shapes and estimated runtimes "
                f"(#{_digest(ordered)})")
    groups = {}
    for aspect, per_rank in signatures.items():
        found = _group(per_rank)
        if len(found) > 1:
            groups[aspect] = found
    return Divergence(ranks=all_ranks, groups=groups)


def rank_record(record: TraceRecord, rank: int) -> TraceRecord:
    """The part of ``record`` one rank recorded, with graph ids as in a single-rank trace."""
    names = {name for name, r in rank_of_process(record).items() if r == rank}
    if not names:
        msg = f"rank {rank} is not in this trace (ranks: {ranks(record)})"
        raise KeyError(msg)
    gids = {g.id for g in record.graphs if g.process in names}

    def local(gid: str) -> str:
        return gid.split(":", 1)[1] if ":" in gid else gid

    def rows(items: list, attr: str = "graph_id") -> list:
        return [dataclasses.replace(x, **{attr: local(getattr(x, attr))}) for x in items
                if getattr(x, attr) in gids]

    return dataclasses.replace(
        record,
        graphs=[dataclasses.replace(g, id=local(g.id)) for g in record.graphs if g.id in gids],
        pieces=rows(record.pieces), compiles=rows(record.compiles), passes=rows(record.passes),
        lowerings=rows(record.lowerings), captures=rows(record.captures),
        spans=[dataclasses.replace(s, graph_id=local(s.graph_id)) for s in record.spans
               if s.process in names],
        processes=[p for p in record.processes if p.name in names],
    )


def _rank_neutral(record: TraceRecord, key: str | None) -> str:
    """A key as ranks compare it: the digest of its factor lines without the device index.

    Every rank compiles for its own GPU, so raw keys differ on every rank of a multi-GPU job
    (``device(type='cuda', index=r)`` is in the input lines). Where the trace holds no factor
    lines for ``key`` the key itself is compared.
    """
    if not key:
        return "-"
    lines = record.key_lines.get(key)
    if not lines:
        return key
    return "lines:" + _digest(neutral_line(line) for line in lines)


def _group(per_rank: dict[int, tuple[str, str]]) -> list[RankGroup]:
    """Ranks with the same signature (first item) form a group, described by the second item."""
    found: dict[str, list[int]] = {}
    shown: dict[str, str] = {}
    for rank, (sig, text) in sorted(per_rank.items()):
        found.setdefault(sig, []).append(rank)
        shown[sig] = text
    return sorted((RankGroup(tuple(r), shown[sig]) for sig, r in found.items()),
                  key=lambda g: g.ranks)


def _collective_signature(schedules: list[list[str]]) -> tuple[str, str]:
    """All collective ops of a rank in order (as tlparse compares them), and a short summary."""
    ops = [op for graph in schedules for op in graph]
    names = [op.removeprefix("torch.ops._c10d_functional.").removesuffix(".default") for op in ops]
    counts: dict[str, int] = {}
    for name in names:
        counts[name] = counts.get(name, 0) + 1
    shown = ", ".join(f"{n} {name}" for name, n in counts.items()) or "none"
    return ",".join(ops), f"{len(ops)} collectives in {len(schedules)} graphs: {shown}"


def _natural(compile_id: str) -> list[object]:
    return [int(p) if p.isdigit() else p for p in compile_id.replace("_", "/").split("/")]


def _shorten(ids: list[str]) -> str:
    if not ids:
        return "none"
    if len(ids) <= 6:
        return ", ".join(ids)
    return f"{', '.join(ids[:3])} … {ids[-1]} ({len(ids)} compile ids)"


def _cache_text(seq: str) -> str:
    """``HHM`` as ``2 hit, 1 miss: HHM`` (the sequence cut at 40 answers)."""
    if not seq:
        return "no cache lookups"
    counts = ", ".join(f"{seq.count(c)} {w}" for c, w in (("H", "hit"), ("M", "miss"),
                                                           ("B", "bypass")) if c in seq)
    return f"{counts}: {seq[:40]}{'…' if len(seq) > 40 else ''}"


def _digest(items: object) -> str:
    text = "\n".join(str(x) for x in items)  # type: ignore[attr-defined]
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def _span(values: tuple[int, ...]) -> str:
    return ", ".join(str(v) for v in values)
