"""Analysis: compare the traced source files of two runs (path → sha256).

Stage 3 (analysis), pure. Two runs of the same project from different checkouts or temp dirs
trace the same files under different paths: files pair by path first, then by the longest common
path suffix, so a moved but identical file is noise, not a cause. vLLM hashes the paths too
(its code hash covers ``path + content``), so for vLLM dumps a move does reach the key.
"""

from __future__ import annotations

from pathlib import PurePath

from compile_lens.analysis.factor_changes import R_CODE, R_NOISE, VLLM_DIR, Change

_EFFECT = "traced source changed → the graphs traced from it may differ (`gm` in the keys)"


def _suffix_len(a: str, b: str) -> int:
    pa, pb = PurePath(a).parts, PurePath(b).parts
    n = 0
    while n < min(len(pa), len(pb)) and pa[-1 - n] == pb[-1 - n]:
        n += 1
    return n


def _pair_moved(only_a: list[str], only_b: list[str]) -> list[tuple[str, str]]:
    pairs = []
    free = list(only_b)
    for path in only_a:
        scored = [(_suffix_len(path, other), other) for other in free]
        scored = [s for s in scored if s[0] >= 1]
        if not scored:
            continue
        best = max(scored, key=lambda s: (s[0], s[1]))[1]
        pairs.append((path, best))
        free.remove(best)
    return pairs


def _effect(vllm: bool) -> str:
    return f"{_EFFECT}; vLLM's code hash differs → {VLLM_DIR}" if vllm else _EFFECT


def _moved(pa: str, pb: str, old: str, new: str, vllm: bool) -> Change:
    if old == new:
        effect = "moved, same content"
        effect += f"; vLLM hashes the path → {VLLM_DIR}" if vllm else " → no key changes"
        return Change(
            "code", pb, f"moved from {pa}", old[:12], effect, vllm, R_CODE if vllm else R_NOISE
        )
    return Change(
        "code", pb, f"moved from {pa} ({old[:12]})", new[:12], _effect(vllm), True, R_CODE
    )


def code_changes(a: dict[str, str], b: dict[str, str], *, vllm: bool = False) -> list[Change]:
    """Changed, moved, added and removed traced files.

    Args:
        a: run A's traced files (path → sha256).
        b: run B's.
        vllm: the dumps come from vLLM, whose code hash includes each file's path.
    """
    out = [
        Change("code", path, a[path][:12], b[path][:12], _effect(vllm), True, R_CODE)
        for path in sorted(a.keys() & b.keys())
        if a[path] != b[path]
    ]
    only_a = sorted(a.keys() - b.keys())
    only_b = sorted(b.keys() - a.keys())
    for pa, pb in _pair_moved(only_a, only_b):
        only_a.remove(pa)
        only_b.remove(pb)
        out.append(_moved(pa, pb, a[pa], b[pb], vllm))
    one_side = "traced by run {} only → " + _EFFECT
    out += [Change("code", p, a[p][:12], None, one_side.format("A"), True, R_CODE) for p in only_a]
    out += [Change("code", p, None, b[p][:12], one_side.format("B"), True, R_CODE) for p in only_b]
    return out
