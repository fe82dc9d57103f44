"""Parse cache-key factor lines (``[<hash>] name[sub]: value``) and diff two sets of them.

torch writes one line per factor of an AOTAutograd / FX cache key (``debug_lines``); the hash in
brackets is a sha256 of that factor's value, stable across processes, so comparing hashes by
factor name says exactly which factors made two keys differ (docs/design/torch-hooks.md §3).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_LINE = re.compile(r"\[(?P<hash>[a-z0-9]{16,})\] (?P<name>[^:\[]+)(?P<sub>\[[^\]]*\])?: ?(?P<value>.*)",
                   re.S)
"""One factor line, matched with ``fullmatch`` (a greedy name: it stops at the first ``[`` or
``:`` either way, without the backtracking of a lazy one)."""
BINARY_FACTORS = ("autograd_config", "torch_version")


@dataclass(frozen=True, slots=True)
class Factor:
    """One factor of a cache key."""

    name: str
    hash: str
    value: str


@dataclass(frozen=True, slots=True)
class FactorChange:
    """A factor whose hash differs between two keys (``None`` value: absent on that side)."""

    name: str
    old: str | None
    new: str | None

    @property
    def kind(self) -> str:
        """``added``, ``removed`` or ``changed``."""
        if self.old is None:
            return "added"
        if self.new is None:
            return "removed"
        return "changed"


def parse_factor_lines(lines: list[str]) -> dict[str, Factor]:
    """Factors by full name (``inductor_config[max_fusion_size]``); unparsable lines are skipped."""
    out: dict[str, Factor] = {}
    for raw in lines:
        m = _LINE.fullmatch(raw)
        if m is None:
            continue
        name = m["name"].strip() + (m["sub"] or "")
        value = m["value"]
        if m["name"].strip() in BINARY_FACTORS:
            value = f"<binary; hash {m['hash'][:12]}>"
        out[name] = Factor(name=name, hash=m["hash"], value=value)
    return out


def diff_factor_lines(old: list[str], new: list[str]) -> list[FactorChange]:
    """The factors whose hash differs (or that exist on one side only), sorted by name."""
    a, b = parse_factor_lines(old), parse_factor_lines(new)
    changes = []
    for name in sorted(a.keys() | b.keys()):
        fa, fb = a.get(name), b.get(name)
        if fa is not None and fb is not None and fa.hash == fb.hash:
            continue
        changes.append(FactorChange(name=name, old=fa.value if fa else None,
                                    new=fb.value if fb else None))
    return changes


_LOOSE = re.compile(r"^(?:\[[^\]]*\] )?(?P<name>[^:]+?): ?(?P<value>.*)$", re.S)


@dataclass(frozen=True)
class KeyLineDiff:
    """Why two keys differ, by factor line: the changes, and the raw lines behind them per side.

    ``t.cross_check()`` lists ``changes``; the report's key-mismatch block shows ``only_old`` and
    ``only_new`` (the lines of the changed factors), so both say the same thing.
    """

    changes: list[FactorChange]
    only_old: list[str]
    only_new: list[str]


def _by_name(lines: list[str]) -> dict[str, tuple[str, str, str]]:
    """``name → (hash, value, raw line)``. A line without torch's hash prefix (an older or
    hand-written log) is compared by its value, so it is never silently left out."""
    out: dict[str, tuple[str, str, str]] = {}
    for raw in lines:
        m = _LINE.fullmatch(raw)
        if m is not None:
            name = m["name"].strip() + (m["sub"] or "")
            value = m["value"]
            if m["name"].strip() in BINARY_FACTORS:
                value = f"<binary; hash {m['hash'][:12]}>"
            out[name] = (m["hash"], value, raw)
            continue
        loose = _LOOSE.match(raw)
        name, value = (loose["name"].strip(), loose["value"]) if loose else (raw, "")
        out[name] = ("", value, raw)
    return out


def key_line_diff(old: list[str], new: list[str]) -> KeyLineDiff:
    """Compare two keys' factor lines (each walked once): the factors that differ, sorted by
    name, and their lines in each key's own order."""
    # A line found verbatim in both keys is a factor they share: only the others are parsed (a key
    # can carry tens of thousands of lines, most of them shared).
    in_old, in_new = set(old), set(new)
    a = _by_name([x for x in old if x not in in_new])
    b = _by_name([x for x in new if x not in in_old])
    changes: list[FactorChange] = []
    for name in sorted(a.keys() | b.keys()):
        fa, fb = a.get(name), b.get(name)
        if fa is not None and fb is not None:
            same = fa[0] == fb[0] if fa[0] and fb[0] else fa[1] == fb[1]
            if same:
                continue
        changes.append(FactorChange(name=name, old=fa[1] if fa else None,
                                    new=fb[1] if fb else None))
    changed = {ch.name for ch in changes}
    only_old = [raw for name, (_, _, raw) in a.items() if name in changed]  # in the key's order
    only_new = [raw for name, (_, _, raw) in b.items() if name in changed]
    return KeyLineDiff(changes, only_old, only_new)
