"""Analysis: compare two ``FactorDump``s layer by layer and say what each difference does.

Stage 3 (analysis), pure. Every difference becomes a ``Change`` with a plain-language effect and
whether it reaches a cache key (``in_key``: ``True`` yes, ``False`` no — noise such as a cache
directory or a moved file —, ``None`` unknown). ``rank`` orders changes by consequence: the
compiler/system layer first (it changes every key), then env vars (they *cause* config values),
config, code, per-piece factors, and last the unknown.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from compile_lens.model.redaction import fingerprint_keys

R_SYSTEM, R_ENV, R_CONFIG, R_CODE, R_PIECE, R_UNKNOWN, R_NOISE = range(7)
EVERY_PIECE = "every piece recompiles"
VLLM_DIR = "vLLM's cache directory changes → " + EVERY_PIECE + " (cold start)"
_SECTION_EFFECT = {
    "inductor": "part of every FX-graph key (`inductor_config[{key}]`) → " + EVERY_PIECE,
    "functorch": "part of every AOTAutograd key (`autograd_config`) → every piece misses the "
    "AOTAutograd cache (Inductor's FX-graph cache may still hit)",
    "vllm": "part of vLLM's config hash → " + VLLM_DIR,
}
_SECTION_NAME = {
    "inductor": "Inductor",
    "functorch": "functorch",
    "vllm": "vLLM",
    "dynamo": "Dynamo",
}
_KEY_SYSTEM = {
    "torch_key": "torch's source digest (`torch_version` in every key)",
    "torch_version": "the torch version (and with it `torch_version` in every key)",
    "torch_git": "the torch build (`torch_version` in every key)",
    "inductor_system_hash": "Inductor's `system_info` (device, driver, triton) in every FX key",
    "num_threads": "the CPU thread count (`cpp_runtime_thread_count` in every FX key)",
}
OTHER_KEY = ("both values are redacted, with different redaction keys (another user or machine): "
             "whether the secret changed cannot be told; see docs/security.md")
LOCATION_SUFFIXES = ("_DIR", "_ROOT", "_PATH", "_HOME")
LOCATION_NAMES = frozenset({"TMPDIR", "TEMP", "TMP", "TORCH_LOGS", "TORCH_TRACE", "TORCH_LOGS_OUT"})
_SYSTEM_INFO = (
    "gpu",
    "gpu_capability",
    "cuda_version",
    "cuda_driver",
    "hip_version",
    "triton_version",
)


@dataclass(frozen=True)
class Change:
    """One difference between two runs' factors, with its consequence."""

    layer: str
    name: str
    old: str | None
    new: str | None
    effect: str
    in_key: bool | None = True
    rank: int = R_CONFIG
    explained_by: str = ""
    evidence: list[str] = field(default_factory=list)

    @property
    def kind(self) -> str:
        """``added``, ``removed``, ``moved`` or ``changed``."""
        if self.layer == "code" and self.old and self.new and self.old.startswith("moved"):
            return "moved"
        if self.old is None:
            return "added"
        return "removed" if self.new is None else "changed"


def is_location_var(name: str) -> bool:
    """True for variables that choose *where* caches and logs live, not what goes in a key."""
    return name in LOCATION_NAMES or name.endswith(LOCATION_SUFFIXES)


def canon(value: Any) -> str:
    """Canonical text of a factor value (sorted-key JSON), so equal values compare equal."""
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


def _differs(a: dict[str, Any], b: dict[str, Any], key: str) -> bool:
    return (key in a) != (key in b) or (key in a and canon(a[key]) != canon(b[key]))


def config_changes(ca: dict[str, dict[str, Any]], cb: dict[str, dict[str, Any]]) -> list[Change]:
    """Config values that differ, per section (``inductor.max_fusion_size``)."""
    out = []
    for section in sorted(ca.keys() | cb.keys()):
        if section not in ca or section not in cb:
            old, new = ("recorded", None) if section in ca else (None, "recorded")
            effect = f"the {section} config was recorded by one run only; it cannot be compared"
            out.append(Change("config", section, old, new, effect, None, R_UNKNOWN))
            continue
        sa, sb = ca[section], cb[section]
        template = _SECTION_EFFECT.get(section, f"part of the {section} config")
        for key in sorted(sa.keys() | sb.keys()):
            if _differs(sa, sb, key):
                old = canon(sa[key]) if key in sa else None
                new = canon(sb[key]) if key in sb else None
                if fingerprint_keys(old, new):
                    out.append(Change("config", f"{section}.{key}", old, new, OTHER_KEY, None,
                                      R_UNKNOWN))
                    continue
                out.append(Change("config", f"{section}.{key}", old, new, template.format(key=key)))
    return out


def system_changes(sa: dict[str, str], sb: dict[str, str]) -> list[Change]:
    """Compiler/system differences: torch key and versions, device, driver, vLLM compiler factors."""
    out = []
    for key in sorted(sa.keys() | sb.keys()):
        if not _differs(sa, sb, key):
            continue
        old, new = sa.get(key), sb.get(key)
        if key in _KEY_SYSTEM:
            effect, in_key = f"{_KEY_SYSTEM[key]} → {EVERY_PIECE}", True
        elif key in _SYSTEM_INFO:
            effect, in_key = (
                f"part of Inductor's `system_info` in every FX key → {EVERY_PIECE}",
                True,
            )
        elif key.startswith("compiler."):
            effect, in_key = f"part of vLLM's compiler hash → {VLLM_DIR}", True
        else:
            effect, in_key = "may change generated code; not itself a cache-key factor", None
        rank = R_SYSTEM if in_key else R_UNKNOWN
        out.append(Change("system", key, old, new, effect, in_key, rank))
    return out


def _target_value(config: dict[str, dict[str, Any]], system: dict[str, str], target: str) -> Any:
    section, _, key = target.partition(".")
    if section == "system":
        return system.get(key)
    return config.get(section, {}).get(key)


def _env_effect(
    name: str, affects: list[str], changed: set[str], present: set[str]
) -> tuple[str, bool | None, int]:
    if "vllm.env_hash" in affects:
        return "one of vLLM's env factors → vLLM's env hash differs → " + VLLM_DIR, True, R_ENV
    hit = [t for t in affects if t in changed]
    if hit:
        section, _, key = hit[0].partition(".")
        what = (
            "the thread count"
            if section == "system"
            else f"{_SECTION_NAME.get(section, section)} config `{key}`"
        )
        rest = _SECTION_EFFECT.get(section, "part of every key → " + EVERY_PIECE).format(key=key)
        return f"{name} changed → {what} differs → {rest}", True, R_ENV
    if any(t in present for t in affects):
        target = next(t for t in affects if t in present)
        return f"feeds `{target}`, which is the same in both runs → no key changes", False, R_NOISE
    if any(t.startswith("dynamo.") for t in affects):
        return (
            f"changes Dynamo config `{affects[0][7:]}` → the traced graph may differ",
            None,
            R_UNKNOWN,
        )
    if affects:
        return f"feeds `{affects[0]}`, which is not part of any cache key", False, R_NOISE
    return (
        "not read by any torch config compile_lens knows; it matters only if your code reads it",
        None,
        R_UNKNOWN,
    )


def env_changes(da: Any, db: Any, config_changed: set[str]) -> list[Change]:
    """Env vars that differ, each linked to the config value it sets (if that differs)."""
    present = {f"{s}.{k}" for dump in (da, db) for s, sec in dump.config.items() for k in sec}
    present |= {f"system.{k}" for dump in (da, db) for k in dump.system}
    out = []
    for name in sorted(da.env.keys() | db.env.keys()):
        old, new = da.env.get(name), db.env.get(name)
        if old == new:
            continue
        if fingerprint_keys(old, new):
            out.append(Change("env", name, old, new, OTHER_KEY, None, R_UNKNOWN))
            continue
        if is_location_var(name):
            effect = (
                "chooses where caches or logs live: a new directory starts cold, no key changes"
            )
            out.append(Change("env", name, old, new, effect, False, R_NOISE))
            continue
        affects = sorted(set(da.env_affects.get(name, [])) | set(db.env_affects.get(name, [])))
        effect, in_key, rank = _env_effect(name, affects, config_changed, present)
        out.append(Change("env", name, old, new, effect, in_key, rank))
    return out


def changed_targets(da: Any, db: Any, targets: set[str]) -> set[str]:
    """Which of the config/system entries named in ``targets`` differ between the two dumps."""
    return {
        t
        for t in targets
        if canon(_target_value(da.config, da.system, t))
        != canon(_target_value(db.config, db.system, t))
    }
