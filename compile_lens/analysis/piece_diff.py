"""Analysis: match the pieces of two runs and compare their cache keys factor by factor.

Stage 3 (analysis), pure. Graphs pair by position; inside a graph, pieces pair by structure (split
op, node count, input count) with ``difflib.SequenceMatcher``, falling back to position where the
structure changed (an edited layer keeps its slot). Each pair compares every key kind both runs
recorded (``aot``, ``standalone``, ``fx``…); differing keys get their differing factor lines.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field

from compile_lens.analysis.factor_lines import FactorChange, diff_factor_lines
from compile_lens.model.factors import FactorDump, PieceKeys

KIND_ORDER = ("aot", "standalone", "fx")


def label(piece: PieceKeys | None) -> str:
    """``g0/submod_2 (general)``; empty for a missing side."""
    return "" if piece is None else f"{piece.graph}/{piece.submod} ({piece.size})"


@dataclass(frozen=True)
class PieceDiff:
    """One matched (or unmatched) piece: its keys per kind and the factor lines that differ."""

    a: str
    b: str
    kind: str = ""
    old_key: str | None = None
    new_key: str | None = None
    lines: list[FactorChange] = field(default_factory=list)
    note: str = ""

    @property
    def same(self) -> bool:
        """True when both runs have this key and it is the same."""
        return bool(self.a and self.b) and self.old_key == self.new_key


def _kind_rank(kind: str) -> tuple[int, str]:
    base = kind.rstrip("0123456789")
    return (KIND_ORDER.index(base) if base in KIND_ORDER else len(KIND_ORDER), kind)


def _graphs(pieces: Sequence[PieceKeys]) -> list[list[PieceKeys]]:
    groups: dict[str, list[PieceKeys]] = {}
    for piece in pieces:
        groups.setdefault(piece.graph, []).append(piece)
    return list(groups.values())


def _pair_graph(
    a: list[PieceKeys], b: list[PieceKeys]
) -> list[tuple[PieceKeys | None, PieceKeys | None]]:
    sig_a = [(p.structure, p.size) for p in a]
    sig_b = [(p.structure, p.size) for p in b]
    pairs: list[tuple[PieceKeys | None, PieceKeys | None]] = []
    matcher = difflib.SequenceMatcher(None, sig_a, sig_b, autojunk=False)
    for _tag, i1, i2, j1, j2 in matcher.get_opcodes():
        n = min(i2 - i1, j2 - j1)
        pairs.extend(zip(a[i1 : i1 + n], b[j1 : j1 + n], strict=True))
        pairs.extend((p, None) for p in a[i1 + n : i2])
        pairs.extend((None, p) for p in b[j1 + n : j2])
    return pairs


def match_pieces(
    a: Sequence[PieceKeys], b: Sequence[PieceKeys]
) -> list[tuple[PieceKeys | None, PieceKeys | None]]:
    """Pair the pieces of two runs (graphs by position, pieces by structure then position)."""
    ga, gb = _graphs(a), _graphs(b)
    pairs: list[tuple[PieceKeys | None, PieceKeys | None]] = []
    for i in range(max(len(ga), len(gb))):
        pa = ga[i] if i < len(ga) else []
        pb = gb[i] if i < len(gb) else []
        pairs.extend(_pair_graph(pa, pb))
    return pairs


def _compare(pa: PieceKeys, pb: PieceKeys, da: FactorDump, db: FactorDump) -> list[PieceDiff]:
    out = []
    for kind in sorted(pa.keys.keys() & pb.keys.keys(), key=_kind_rank):
        ka, kb = pa.keys[kind], pb.keys[kind]
        base = PieceDiff(a=label(pa), b=label(pb), kind=kind, old_key=ka, new_key=kb)
        if ka == kb:
            out.append(base)
            continue
        la, lb = da.key_lines.get(ka), db.key_lines.get(kb)
        if la is None or lb is None:
            note = "no factor lines recorded for this key"
            out.append(PieceDiff(**{**base.__dict__, "note": note}))
            continue
        out.append(PieceDiff(**{**base.__dict__, "lines": diff_factor_lines(la, lb)}))
    if not out:
        out.append(PieceDiff(a=label(pa), b=label(pb), note="no key kind recorded by both runs"))
    return out


def compare_pieces(da: FactorDump, db: FactorDump) -> list[PieceDiff]:
    """Per matched piece and key kind: same or different, and which factor lines differ."""
    out: list[PieceDiff] = []
    for pa, pb in match_pieces(da.pieces, db.pieces):
        if pa is None or pb is None:
            note = "only in run B (new piece)" if pa is None else "only in run A (piece gone)"
            out.append(PieceDiff(a=label(pa), b=label(pb), note=note))
        else:
            out.extend(_compare(pa, pb, da, db))
    return out


def _count_kind(pieces: Sequence[PieceKeys]) -> str | None:
    """The key kind most pieces have (``standalone`` for the piecewise backend, ``aot`` plain)."""
    kinds = {k for p in pieces for k in p.keys}
    if not kinds:
        return None
    return max(sorted(kinds, key=_kind_rank), key=lambda k: sum(k in p.keys for p in pieces))


def piece_counts(da: FactorDump, db: FactorDump) -> dict[str, tuple[int, int]]:
    """Pieces and unique keys side by side: ``{"pieces": (7, 7), "unique standalone keys": (3, 4)}``.

    Unique keys are counted for one key kind (the one most pieces have), so a deduplicated piece
    (no legacy key of its own) and its original count once.
    """
    out = {"pieces": (len(da.pieces), len(db.pieces))}
    kind = _count_kind([*da.pieces, *db.pieces])
    if kind:
        ua = {p.keys[kind] for p in da.pieces if kind in p.keys}
        ub = {p.keys[kind] for p in db.pieces if kind in p.keys}
        out[f"unique {kind} keys"] = (len(ua), len(ub))
    return out
