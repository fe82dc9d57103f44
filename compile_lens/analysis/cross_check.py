"""Cross-check the two cache keys of every piece compile, and the dedup they imply.

For each compile with both keys: do the legacy (captured) and standalone (up-front) keys agree?
On a mismatch, which factor lines differ. Across pieces: which pieces share a standalone key
(they dedup), and whether any such group has *different* legacy keys (a wrong dedup: the
standalone key would reuse an artifact the real compile would not have).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from compile_lens.analysis.factor_lines import FactorChange, KeyLineDiff, key_line_diff
from compile_lens.model import TraceRecord
from compile_lens.model.safe_text import visible


@dataclass(frozen=True, kw_only=True)
class KeyCheck:
    """The cross-check of one piece compile."""

    graph_id: str
    submod: str
    size: str
    legacy_key: str | None
    standalone_key: str | None
    status: str  # "match", "mismatch", "unchecked"
    reason: str = ""
    changes: list[FactorChange] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class CrossCheck:
    """All key checks of a trace plus the dedup groups they imply (``str()`` lists them; the
    notebook display is ``api.CrossCheck``'s)."""

    checks: list[KeyCheck]
    dedup_groups: dict[str, list[str]]
    wrong_dedups: dict[str, list[str]]

    @property
    def mismatches(self) -> list[KeyCheck]:
        """The compiles whose two keys differ."""
        return [c for c in self.checks if c.status == "mismatch"]

    def to_dataframe(self) -> Any:
        """One row per piece compile."""
        import pandas as pd

        return pd.DataFrame(
            [{"graph_id": c.graph_id, "submod": c.submod, "size": c.size, "status": c.status,
              "legacy_key": c.legacy_key, "standalone_key": c.standalone_key,
              "differing_factors": ", ".join(ch.name for ch in c.changes), "reason": c.reason}
             for c in self.checks],
            columns=["graph_id", "submod", "size", "status", "legacy_key", "standalone_key",
                     "differing_factors", "reason"])

    def __str__(self) -> str:
        counts = defaultdict(int)
        for c in self.checks:
            counts[c.status] += 1
        lines = [f"key cross-check: {counts['match']} match, {counts['mismatch']} mismatch, "
                 f"{counts['unchecked']} unchecked"]
        for c in self.mismatches:
            lines.append(f"  MISMATCH {c.graph_id}/{c.submod} [{c.size}]: "
                         f"legacy {c.legacy_key} != standalone {c.standalone_key}")
            lines.extend(f"    {ch.name}: {ch.old!s:.80} -> {ch.new!s:.80}" for ch in c.changes)
        for key, pieces in sorted(self.wrong_dedups.items()):
            lines.append(f"  WRONG DEDUP standalone {key}: legacy keys differ for {', '.join(pieces)}")
        groups = [g for g in self.dedup_groups.values() if len(g) > 1]
        if groups:
            lines.append("dedup groups (same standalone key): "
                         + "; ".join(", ".join(g) for g in groups))
        return visible("\n".join(lines))


def _check(record: TraceRecord, compile_: Any) -> KeyCheck:
    legacy, standalone = compile_.legacy_key, compile_.standalone_key
    base = {"graph_id": compile_.graph_id, "submod": compile_.submod, "size": compile_.size,
            "legacy_key": legacy, "standalone_key": standalone}
    if not legacy or not standalone:
        missing = "legacy" if not legacy else "standalone"
        reason = f"no {missing} key ({compile_.outcome}{': ' + compile_.note if compile_.note else ''})"
        return KeyCheck(**base, status="unchecked", reason=reason)
    if legacy == standalone:
        return KeyCheck(**base, status="match")
    changes = key_lines_of(record, compile_).changes
    reason = "" if changes else "factor lines unavailable for one of the keys"
    return KeyCheck(**base, status="mismatch", reason=reason, changes=changes)


def key_lines_of(record: TraceRecord, compile_: Any) -> KeyLineDiff:
    """The factor-line diff of one compile's legacy and standalone keys (what ``cross_check``
    lists and the report's key-mismatch block shows)."""
    return key_line_diff(record.key_lines.get(compile_.legacy_key or "", []),
                         record.key_lines.get(compile_.standalone_key or "", []))


def cross_check(record: TraceRecord) -> CrossCheck:
    """Check every piece compile of ``record`` and find dedup groups and wrong dedups."""
    checks = [_check(record, c) for c in record.compiles]
    groups: dict[str, list[str]] = defaultdict(list)
    legacy_by_group: dict[str, set[str]] = defaultdict(set)
    for c in record.compiles:
        if c.standalone_key:
            label = f"{c.graph_id}/{c.submod}[{c.size}]"
            groups[c.standalone_key].append(label)
            if c.legacy_key:
                legacy_by_group[c.standalone_key].add(c.legacy_key)
    wrong = {k: groups[k] for k, legacy in legacy_by_group.items() if len(legacy) > 1}
    return CrossCheck(checks=checks, dedup_groups=dict(groups), wrong_dedups=wrong)
