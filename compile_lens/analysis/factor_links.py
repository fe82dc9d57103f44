"""Analysis: tie per-piece key lines and top-level hashes to the run-level factor changes.

Stage 3 (analysis), pure. A differing key line (``inductor_config[max_fusion_size]`` in 3 of 3
pieces) is *evidence* for the run-level change that explains it (Inductor config
``max_fusion_size``); a line no run-level change explains becomes a cause of its own (a value set
only for that compile, an input dtype, the traced graph). A vLLM hash with no listed factor behind
it (the legacy file form lists no config values) is named as a hash-only cause.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from compile_lens.analysis.device_index import only_device_index_differs
from compile_lens.analysis.factor_changes import (
    R_CODE,
    R_CONFIG,
    R_ENV,
    R_NOISE,
    R_PIECE,
    R_SYSTEM,
    VLLM_DIR,
    Change,
)
from compile_lens.analysis.piece_diff import PieceDiff

_HASH_ORDER = ("env", "config", "code", "compiler")
_HASH_EFFECT = {
    "env": "the env factors differ → " + VLLM_DIR,
    "config": "vLLM's config hash differs → " + VLLM_DIR,
    "code": "the traced source files differ → " + VLLM_DIR,
    "compiler": "the compiler hash (torch, Inductor, system) differs → " + VLLM_DIR,
}
_HASH_LAYER = {
    "env": ("env", R_ENV),
    "config": ("config", R_CONFIG),
    "code": ("code", R_CODE),
    "compiler": ("system", R_SYSTEM),
}
_LINE_EFFECT = {
    "gm": "the traced graph differs (model code or the Dynamo graph changed)",
    "example_inputs": "an input's dtype, shape, stride or device differs",
    "inductor_config": "an Inductor option set only for this compile (mode/options, config.patch)",
    "autograd_config": "the functorch config inside the compile differs",
}
_GRAPH_LINES = frozenset({"gm", "example_inputs", "aot_config", "fx_kwargs"})
_TORCH = frozenset({"torch_key", "torch_version", "torch_git"})
_SYSINFO = frozenset(
    {
        "inductor_system_hash",
        "gpu",
        "gpu_capability",
        "cuda_version",
        "cuda_driver",
        "hip_version",
        "triton_version",
    }
)
_LAYERS = {"system": 0, "env": 1, "config": 2, "code": 3, "piece": 4}


def hash_changes(ha: dict[str, str], hb: dict[str, str]) -> list[tuple[str, str, str, str]]:
    """``(name, old, new, effect)`` for every top-level hash both runs have and that differs."""
    names = [n for n in _HASH_ORDER if n in ha and n in hb]
    names += sorted((ha.keys() & hb.keys()) - set(_HASH_ORDER) - {"dir"})
    out = [(n, ha[n], hb[n], _HASH_EFFECT.get(n, "differs")) for n in names if ha[n] != hb[n]]
    if ha.get("dir") and hb.get("dir") and ha["dir"] != hb["dir"]:
        effect = (
            "run B looks for its compiled artifacts in another directory → every piece recompiles"
        )
        out.append(
            ("dir", ha["dir"], hb["dir"], f"cache directory {ha['dir']} → {hb['dir']}: {effect}")
        )
    return out


def _links(line: str, change: Change) -> bool:
    base, _, sub = line.split("#", 1)[0].partition("[")
    sub = sub.rstrip("]")
    if base == "inductor_config":
        return change.layer == "config" and change.name == f"inductor.{sub}"
    if base == "autograd_config":
        return change.layer == "config" and change.name.startswith("functorch.")
    if base == "torch_version":
        return change.layer == "system" and change.name in _TORCH
    if base == "system_info":
        return change.layer == "system" and change.name in _SYSINFO
    if base == "cpp_runtime_thread_count":
        return change.layer == "system" and change.name == "num_threads"
    return base in _GRAPH_LINES and change.layer == "code" and change.in_key is True


def _candidates(changes: Sequence[Change]) -> Any:
    """A lookup ``line name -> indices of the run-level changes it may link to``.

    Built once, so linking N differing key lines to M changes costs N + M, not N x M (a key can
    differ in tens of thousands of lines).
    """
    by_name: dict[tuple[str, str], list[int]] = {}
    by_layer: dict[str, list[int]] = {}
    for i, c in enumerate(changes):
        by_name.setdefault((c.layer, c.name), []).append(i)
        by_layer.setdefault(c.layer, []).append(i)

    def lookup(line: str) -> list[int]:
        base, _, sub = line.split("#", 1)[0].partition("[")
        sub = sub.rstrip("]")
        if base == "inductor_config":
            return by_name.get(("config", f"inductor.{sub}"), [])
        if base == "cpp_runtime_thread_count":
            return by_name.get(("system", "num_threads"), [])
        layer = {"autograd_config": "config", "torch_version": "system",
                 "system_info": "system"}.get(base, "code" if base in _GRAPH_LINES else "")
        return [i for i in by_layer.get(layer, []) if _links(line, changes[i])]

    return lookup


def _line_stats(
    pieces: Sequence[PieceDiff],
) -> tuple[dict[str, tuple[set[Any], str | None, str | None]], int]:
    stats: dict[str, tuple[set[Any], str | None, str | None]] = {}
    for p in pieces:
        for line in p.lines:
            seen, old, new = stats.get(line.name, (set(), line.old, line.new))
            seen.add((p.a, p.b))
            stats[line.name] = (seen, old, new)
    total = len({(p.a, p.b) for p in pieces if p.a and p.b and p.kind})
    return stats, total


def link_pieces(
    changes: list[Change], pieces: Sequence[PieceDiff], hashes: Sequence[Any]
) -> list[Change]:
    """Attach key-line evidence to run-level changes; add piece-only and hash-only causes."""
    out = list(changes)
    stats, total = _line_stats(pieces)
    lookup = _candidates(changes)  # piece-only causes added below never link to a line
    for name, (seen, old, new) in sorted(stats.items()):
        note = f"key line `{name}` differs in {len(seen)} of {total} compared pieces"
        hit = lookup(name)
        for i in hit:
            out[i] = dataclasses.replace(out[i], evidence=[*out[i].evidence, note])
        if not hit:
            base = name.split("[", 1)[0]
            what = _LINE_EFFECT.get(base, "a key factor differs")
            if only_device_index_differs(old, new):
                what = ("only the device index differs: each GPU compiles for its own device, "
                        "as every rank of a multi-GPU job does")
            effect = f"{what} → {len(seen)} of {total} pieces recompile"
            out.append(Change("piece", name, old, new, effect, True, R_PIECE, evidence=[note]))
    out += _unmatched(pieces) + _hash_only(out, hashes)
    return out


def _unmatched(pieces: Sequence[PieceDiff]) -> list[Change]:
    only_a = sum(1 for p in pieces if p.a and not p.b)
    only_b = sum(1 for p in pieces if p.b and not p.a)
    if not (only_a or only_b):
        return []
    effect = f"{only_a} piece(s) only in run A, {only_b} only in run B (model or split changed)"
    return [
        Change(
            "piece",
            "piece set",
            str(only_a),
            str(only_b),
            effect + " → they compile anew",
            True,
            R_PIECE,
        )
    ]


def _hash_only(changes: list[Change], hashes: Sequence[Any]) -> list[Change]:
    """A cause for every vLLM hash that differs with no listed factor behind it."""
    out = []
    for h in hashes:
        layer, rank = _HASH_LAYER.get(h.name, ("", 0))
        if layer and not any(c.layer == layer and c.in_key for c in changes):
            effect = (
                f"vLLM's {h.name} hash differs, but the file lists no {h.name} factor that does; "
                "the newer cache_key_factors.json form (or a compile_lens trace) names the field"
            )
            out.append(Change(layer, f"{h.name}_hash", h.old[:12], h.new[:12], effect, True, rank))
    return out


def _sort_key(change: Change) -> tuple[int, int, str]:
    return (change.rank, _LAYERS.get(change.layer, 9), change.name)


def order_causes(
    changes: list[Change], pieces: Sequence[PieceDiff], hashes_differ: bool
) -> tuple[list[Change], list[Change]]:
    """Split into causes (ordered by consequence, explained changes after their cause) and noise.

    When both runs have piece keys and every one agrees (and no top-level hash differs), the keys
    are the ground truth: every remaining difference is noise.
    """
    compared = [p for p in pieces if p.kind]
    unmatched = any(not (p.a and p.b) for p in pieces)
    agree = bool(compared) and all(p.same for p in compared) and not unmatched
    if agree and not hashes_differ:
        suffix = "; but every piece key agrees, so it did not reach a key"
        changes = [
            c
            if c.in_key is False
            else dataclasses.replace(c, in_key=False, rank=R_NOISE, effect=c.effect + suffix)
            for c in changes
        ]
    causes = [c for c in changes if c.in_key is not False]
    noise = sorted((c for c in changes if c.in_key is False), key=_sort_key)
    names = {c.name for c in causes}
    primaries = sorted((c for c in causes if c.explained_by not in names), key=_sort_key)
    explained: dict[str, list[Change]] = {}
    for c in causes:
        if c.explained_by in names:
            explained.setdefault(c.explained_by, []).append(c)
    ordered: list[Change] = []
    for primary in primaries:
        ordered.append(primary)
        ordered.extend(sorted((c for c in explained.get(primary.name, []) if c is not primary),
                              key=_sort_key))
    return ordered, noise
