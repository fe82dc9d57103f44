"""Analysis: the headline numbers of a trace.

Stage 3: pure functions of a ``TraceRecord``; no I/O, no display dependencies.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from compile_lens.analysis.why import why, why_text
from compile_lens.model import OUTCOMES, TraceRecord
from compile_lens.model.safe_text import visible


@dataclass(frozen=True, kw_only=True)
class Summary:
    """Headline numbers; ``str()`` gives the text the CLI prints."""

    graphs: int
    pieces_total: int
    pieces_unique: int
    split_ops: int
    compiles: int
    outcomes: dict[str, int]
    keys_matched: int
    keys_mismatched: int
    keys_unchecked: int
    compile_seconds: float
    wall_seconds: float
    tracer_overhead_seconds: float
    captures: int
    issues: int
    notes: list[str] = field(default_factory=list)
    why: list[str] = field(default_factory=list)
    """The "why it compiled" block (``analysis.why``), printed first; empty when nothing
    recompiled, broke, bypassed or missed a cache."""
    ranks: list[str] = field(default_factory=list)
    """The rank divergence (``analysis.ranks``) of a multi-rank trace, printed before all else."""
    unread: str = ""
    """Records the parser did not know or could not read (``run.extra["parser"]``), if any."""

    def as_dict(self) -> dict[str, object]:
        """Plain dict (for DataFrames, JSON and templates)."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    def __str__(self) -> str:
        outcome_text = ", ".join(f"{n} {k}" for k, n in self.outcomes.items() if n) or "none"
        overhead_pct = (
            100.0 * self.tracer_overhead_seconds / self.wall_seconds if self.wall_seconds else 0.0
        )
        lines = list(self.ranks)
        lines += ["why:", *self.why] if self.why else []
        lines += [
            f"graphs:            {self.graphs}",
            f"pieces:            {self.pieces_total} compiled pieces, {self.pieces_unique} unique"
            f" (+{self.split_ops} split ops run eagerly)",
            f"piece compiles:    {self.compiles} ({outcome_text})",
            f"keys cross-check:  {self.keys_matched} matched, {self.keys_mismatched} mismatched,"
            f" {self.keys_unchecked} unchecked",
            f"compile seconds:   {self.compile_seconds:.2f} s (wall {self.wall_seconds:.2f} s)",
            f"tracer overhead:   {self.tracer_overhead_seconds:.3f} s ({overhead_pct:.1f} % of wall)",
        ]
        if self.captures:
            lines.append(f"CUDA-graph captures: {self.captures}")
        if self.issues:
            lines.append(f"instrumentation issues: {self.issues} (see trace.record.issues)")
        if self.unread:
            lines.append(f"records not read: {self.unread} (see trace.record.run.extra['parser'])")
        lines.extend(f"note: {n}" for n in self.notes)
        return visible("\n".join(lines))  # a trace cannot drive the terminal


def piece_key(compile_key: tuple[str | None, str | None]) -> str | None:
    """The key that identifies a piece's artifact: standalone if known, else legacy."""
    standalone, legacy = compile_key
    return standalone or legacy


def summarize(record: TraceRecord) -> Summary:
    """Compute the headline numbers of ``record``."""
    compiled_pieces = [p for p in record.pieces if not p.is_split_op]
    split_ops = [p for p in record.pieces if p.is_split_op]
    first_key: dict[tuple[str, str], str | None] = {}
    for c in record.compiles:
        first_key.setdefault((c.graph_id, c.submod), piece_key((c.standalone_key, c.legacy_key)))
    unique: set[object] = set()
    for p in compiled_pieces:
        key = first_key.get((p.graph_id, p.submod))
        unique.add(key if key is not None else (p.graph_id, p.submod))
    outcomes = Counter(c.outcome for c in record.compiles)
    matched = sum(1 for c in record.compiles if c.key_match is True)
    mismatched = sum(1 for c in record.compiles if c.key_match is False)
    return Summary(
        graphs=len(record.graphs),
        pieces_total=len(compiled_pieces),
        pieces_unique=len(unique),
        split_ops=len(split_ops),
        compiles=len(record.compiles),
        # Every outcome is counted: the known ones in their order (``failed`` included),
        # then any other a newer producer wrote, so a compile never vanishes from the text.
        outcomes={**{k: outcomes.get(k, 0) for k in OUTCOMES},
                  **{k: n for k, n in sorted(outcomes.items()) if k not in OUTCOMES}},
        keys_matched=matched,
        keys_mismatched=mismatched,
        keys_unchecked=len(record.compiles) - matched - mismatched,
        compile_seconds=round(sum(c.seconds for c in record.compiles), 6),
        wall_seconds=record.run.wall_s,
        tracer_overhead_seconds=record.run.tracer_overhead_s,
        captures=len(record.captures),
        issues=len(record.issues),
        notes=list(record.run.notes),
        why=why_text(why(record)),
        ranks=_rank_lines(record),
        unread=_unread(record),
    )


def _rank_lines(record: TraceRecord) -> list[str]:
    """The divergence block when ranks differ; one line when several ranks agree; else nothing."""
    from compile_lens.analysis.ranks import divergence

    found = divergence(record)
    if len(found.ranks) < 2:
        return []
    return str(found).splitlines()


def _unread(record: TraceRecord) -> str:
    parser = record.run.extra.get("parser")
    if not isinstance(parser, dict):
        return ""
    unknown = sum(int(n) for n in (parser.get("unknown") or {}).values())
    malformed = int(parser.get("malformed_count") or 0)
    if not unknown and not malformed:
        return ""
    return f"{unknown} of unknown kinds, {malformed} malformed"
