"""Compare what Inductor generated under several vLLM cache roots (a diagnostic, not a test).

Usage: ``python tests/vllm_tier/codegen_diff.py ROOT_A ROOT_B [ROOT_C ...] [--copy DIR]``.
Every root is compared with the first: generated files (``inductor_cache/<xx>/<name>``, not the
AOTAutograd/FX cache entries, which are named by key) that only one side has, split into

* *renamed*: the same content under another name (the same code compiled with another command
  line, e.g. torch's CPU ISA-probe race, docs/vllm.md),
* *root path only*: the same content once each root's own path is read as one placeholder
  (Inductor's CUDA wrapper code names each Triton kernel's absolute path in a comment, so the
  same code under two cache roots gets other bytes and another name), and
* *changed*: content the other side does not have at all (Inductor generated different code),

with a unified diff of each changed source against the most similar source of the other side.
``--copy DIR`` copies the changed files there. Used on CPU (the toy) and on the GPU machine.
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import shutil
import sys
from pathlib import Path

try:
    from vllm_tier.vllm_runs import root_neutral
except ImportError:  # run as a script: its own folder is first on sys.path
    from vllm_runs import root_neutral  # type: ignore[no-redef]

SOURCES = (".py", ".cpp", ".h", ".cu")


def generated(root: Path) -> dict[str, Path]:
    """Inductor's generated files under ``root`` by relative path (locks left out)."""
    out = {}
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        parts = path.relative_to(root).parts
        if "inductor_cache" not in parts or "locks" in parts:
            continue
        below = parts[parts.index("inductor_cache") + 1:]
        if len(below) == 2 and below[0] not in ("aotautograd", "fxgraph"):
            out[str(path.relative_to(root))] = path
    return out


def _digest(path: Path, root: Path | None = None) -> str:
    content = path.read_bytes()
    if root is not None:
        content = root_neutral(content, root)
    return hashlib.sha256(content).hexdigest()


def compare(a: Path, b: Path, copy: Path | None) -> list[str]:
    """Report lines for root ``b`` against root ``a``."""
    files_a, files_b = generated(a), generated(b)
    sources_a = {n: _digest(p) for n, p in files_a.items() if n.endswith(SOURCES)}
    sources_b = {n: _digest(p) for n, p in files_b.items() if n.endswith(SOURCES)}
    neutral_a = {n: _digest(files_a[n], a) for n in sources_a}
    neutral_b = {n: _digest(files_b[n], b) for n in sources_b}
    lines = [f"== {b} vs {a}: {len(files_a)} / {len(files_b)} generated files"]
    for side, mine, theirs, paths, other, neutral, neutral_other in (
            ("only A", sources_a, sources_b, files_a, files_b, neutral_a, neutral_b),
            ("only B", sources_b, sources_a, files_b, files_a, neutral_b, neutral_a)):
        for name in sorted(set(mine) - set(theirs)):
            if mine[name] in theirs.values():
                lines.append(f"  {side} renamed (same content): {name}")
                continue
            if neutral[name] in neutral_other.values():
                lines.append(f"  {side} root path only (same content but for the root): {name}")
                continue
            lines.append(f"  {side} CHANGED: {name}")
            lines.extend(_closest_diff(paths[name], [other[n] for n in theirs
                                                     if Path(n).suffix == Path(name).suffix
                                                     and n not in mine]))
            if copy is not None:
                copy.mkdir(parents=True, exist_ok=True)
                shutil.copy(paths[name], copy / f"{side.replace(' ', '_')}_{Path(name).name}")
    binaries = {n for n in set(files_a) ^ set(files_b) if not n.endswith(SOURCES)}
    lines.append(f"  binaries/other differing by name: {len(binaries)}")
    if len(lines) == 2:
        lines.append("  identical")
    return lines


def _closest_diff(path: Path, candidates: list[Path], limit: int = 60) -> list[str]:
    text = path.read_text(errors="replace").splitlines()
    best, ratio = None, -1.0
    for cand in candidates:
        other = cand.read_text(errors="replace").splitlines()
        r = difflib.SequenceMatcher(None, text, other, autojunk=False).quick_ratio()
        if r > ratio:
            best, ratio = other, r
    if best is None:
        return ["    (no counterpart of that type on the other side)"]
    diff = list(difflib.unified_diff(best, text, lineterm="", n=2))
    return [f"    {line}" for line in diff[:limit]] + (["    …"] if len(diff) > limit else [])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("roots", nargs="+", type=Path)
    parser.add_argument("--copy", type=Path)
    args = parser.parse_args(argv)
    first, *rest = args.roots
    for root in rest:
        print("\n".join(compare(first, root, args.copy)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
