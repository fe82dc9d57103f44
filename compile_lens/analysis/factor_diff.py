"""Analysis: ``diff(a, b)`` explains why two runs' cache keys differ, in order of consequence.

Stage 3 (analysis), pure apart from reading the inputs. Steps: read both sides (traces, factor
dumps, vLLM ``cache_key_factors.json`` files or cache dirs), pair their entries (rank/prefix for
vLLM dirs), then per pair: top-level hashes that differ and the cache directory they name; the
factors behind them (env → config → code, each with its effect); and for runs with per-piece keys,
the matched pieces, which keys changed and the differing factor lines. When every piece key
agrees, remaining differences are shown as noise: the keys are the ground truth. Rendering
(text, DataFrame, HTML) is ``views.diff``'s; ``api.Diff`` joins the two.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compile_lens.analysis.cache_diff import FromCache, from_cache
from compile_lens.analysis.code_changes import code_changes
from compile_lens.analysis.cudagraph_diff import CudaGraphDiff, cudagraph_diff
from compile_lens.analysis.factor_changes import (
    Change,
    changed_targets,
    config_changes,
    env_changes,
    system_changes,
)
from compile_lens.analysis.factor_links import hash_changes, link_pieces, order_causes
from compile_lens.analysis.piece_diff import PieceDiff, compare_pieces, piece_counts
from compile_lens.errors import TraceFormatError
from compile_lens.model.factor_readers import FactorSet, load_factors
from compile_lens.model.factors import FactorDump
from compile_lens.model.safe_text import visible
from compile_lens.model.serialize import read_trace
from compile_lens.model.trace import TraceRecord


@dataclass(frozen=True)
class HashChange:
    """A top-level hash (vLLM's env/config/code/compiler, or the cache dir) that differs."""

    name: str
    old: str
    new: str
    effect: str


@dataclass(frozen=True)
class EntryDiff:
    """The comparison of one pair of entries (a trace pair, or one vLLM rank/prefix)."""

    label: str
    a_source: str = ""
    b_source: str = ""
    hashes: list[HashChange] = field(default_factory=list)
    causes: list[Change] = field(default_factory=list)
    noise: list[Change] = field(default_factory=list)
    pieces: list[PieceDiff] = field(default_factory=list)
    counts: dict[str, tuple[int, int]] = field(default_factory=dict)
    only_in: str = ""

    @property
    def equal(self) -> bool:
        """True when every cache key agrees (nothing in ``hashes``/``causes``, pieces all equal)."""
        if self.only_in or self.hashes or self.causes:
            return False
        return all(p.same or (p.a and p.b and not p.kind) for p in self.pieces)


@dataclass(frozen=True, repr=False)
class DiffResult:
    """Why two runs' cache keys differ: plain data, no rendering.

    ``compile_lens.diff`` returns it as an ``api.Diff``, which adds ``str()``,
    ``.to_dataframe()``, ``.to_html()`` and the notebook display through ``views/`` (an analysis
    result never imports a view).
    """

    a_name: str
    b_name: str
    entries: list[EntryDiff] = field(default_factory=list)
    from_cache: list[FromCache] = field(default_factory=list)
    """Two traces: pieces B compiled that A took from a cache, each with B's cause."""
    cudagraphs: CudaGraphDiff | None = None
    """Two traces with CUDA graphs: their capture differences (not part of any cache key)."""

    @property
    def equal(self) -> bool:
        """True when the keys agree in every entry."""
        return all(e.equal for e in self.entries)

    @property
    def causes(self) -> list[Change]:
        """All causes, entry by entry, most consequential first."""
        return [c for e in self.entries for c in e.causes]

    def __repr__(self) -> str:
        primary = [c for c in self.causes if not c.explained_by]
        if self.equal:
            return visible(f"<compile_lens.Diff: keys agree ({self.a_name} vs {self.b_name})>")
        first = f"; first: {primary[0].layer} {primary[0].name}" if primary else ""
        return visible(f"<compile_lens.Diff: keys differ, {len(primary)} cause(s){first}>")


def _explained(
    env: list[Change], da: FactorDump, db: FactorDump, changed: set[str]
) -> dict[str, str]:
    """Config/system entry → the env var whose change explains it."""
    out: dict[str, str] = {}
    for change in env:
        if change.in_key:
            affects = set(da.env_affects.get(change.name, [])) | set(
                db.env_affects.get(change.name, [])
            )
            out.update(dict.fromkeys(sorted(affects & changed), change.name))
    return out


def _layer_changes(da: FactorDump, db: FactorDump) -> list[Change]:
    targets = {t for d in (da, db) for ts in d.env_affects.values() for t in ts}
    changed = changed_targets(da, db, targets)
    env = env_changes(da, db, changed)
    explained = _explained(env, da, db, changed)
    out = list(env)
    for change in system_changes(da.system, db.system) + config_changes(da.config, db.config):
        key = change.name if change.layer == "config" else f"system.{change.name}"
        out.append(dataclasses.replace(change, explained_by=explained.get(key, "")))
    vllm = "code" in da.hashes or "code" in db.hashes
    return out + code_changes(da.code, db.code, vllm=vllm)


def compare(
    da: FactorDump, db: FactorDump, label: str = "", sources: tuple[str, str] = ("", "")
) -> EntryDiff:
    """Explain the differences between two ``FactorDump``s (one entry of a ``Diff``)."""
    hashes = [HashChange(*h) for h in hash_changes(da.hashes, db.hashes)]
    changes = _layer_changes(da, db)
    pieces = compare_pieces(da, db) if da.pieces and db.pieces else []
    changes = link_pieces(changes, pieces, hashes)
    causes, noise = order_causes(changes, pieces, bool(hashes))
    counts = piece_counts(da, db) if da.pieces or db.pieces else {}
    return EntryDiff(label, sources[0], sources[1], hashes, causes, noise, pieces, counts)


def _suffix(label: str) -> str:
    return "/".join(label.split("/")[-2:])


def _pairs(sa: FactorSet, sb: FactorSet) -> list[tuple[str, FactorDump | None, FactorDump | None]]:
    """Pair entries: the only ones, else by label, else by ``rank/prefix`` when that is unique."""
    if len(sa.entries) == 1 and len(sb.entries) == 1:
        (la, a), (lb, b) = next(iter(sa.entries.items())), next(iter(sb.entries.items()))
        return [(la if la == lb else f"{la} ↔ {lb}".strip(" ↔"), a, b)]
    pairs: list[tuple[str, FactorDump | None, FactorDump | None]] = [
        (lab, sa.entries[lab], sb.entries[lab])
        for lab in sorted(sa.entries.keys() & sb.entries.keys())
    ]
    rest_a = sorted(sa.entries.keys() - sb.entries.keys())
    rest_b = sorted(sb.entries.keys() - sa.entries.keys())
    for la in list(rest_a):
        same = [lb for lb in rest_b if _suffix(lb) == _suffix(la)]
        if len(same) == 1 and sum(_suffix(x) == _suffix(la) for x in rest_a) == 1:
            pairs.append((f"{la} ↔ {same[0]}", sa.entries[la], sb.entries[same[0]]))
            rest_a.remove(la)
            rest_b.remove(same[0])
    pairs += [(lab, sa.entries[lab], None) for lab in rest_a]
    pairs += [(lab, None, sb.entries[lab]) for lab in rest_b]
    return pairs


def diff(a: Any, b: Any, *, redact: bool = True) -> DiffResult:
    """Explain why two runs' cache keys differ (or say plainly that they agree).

    Args:
        a: run A: a ``compile_lens.Trace``/``TraceRecord``, a ``FactorDump``, or a path to a
            trace ``.json``, a factor dump ``.json``, a vLLM ``cache_key_factors.json`` or a vLLM
            cache directory (every rank/prefix inside is paired with B's).
        b: run B, any of the same.
        redact: hide secret-looking env values (the default); ``False`` shows them.

    Returns:
        A ``DiffResult``: ``.equal``, ``.causes`` (most consequential first), ``.entries``.

    Raises:
        TraceFormatError: an input is missing, corrupt, or of an unknown kind.
    """
    sa = load_factors(a, redact=redact, name="A")
    sb = load_factors(b, redact=redact, name="B")
    entries = []
    for label, da, db in _pairs(sa, sb):
        if da is None or db is None:
            entries.append(EntryDiff(label, only_in="a" if db is None else "b"))
            continue
        sources = (str(da.extra.get("source", sa.name)), str(db.extra.get("source", sb.name)))
        entries.append(compare(da, db, label, sources))
    ra, rb = _trace_record(a), _trace_record(b)
    if ra is None or rb is None:
        return DiffResult(sa.name, sb.name, entries)
    return DiffResult(sa.name, sb.name, entries, from_cache(ra, rb), cudagraph_diff(ra, rb))


def _trace_record(source: Any) -> TraceRecord | None:
    """The ``TraceRecord`` behind a ``Trace``, a record or a trace file; ``None`` for others."""
    record = getattr(source, "record", source)
    if isinstance(record, TraceRecord):
        return record
    if isinstance(source, str | os.PathLike) and Path(source).is_file():
        try:
            return read_trace(Path(source))
        except TraceFormatError:
            return None
    return None
