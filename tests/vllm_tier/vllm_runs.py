"""Helpers of the vLLM tier: run the toy model and ``LLM(...)`` in fresh processes.

Every test here is marked ``vllm`` and skipped when vLLM is not importable (run the tier in the
``.venv-vllm`` venv: ``.ci/vllm-tier.sh``). A run happens in a subprocess with its own
``VLLM_CACHE_ROOT``: a second run over the same root is a real warm start, and vLLM/Dynamo global
state never leaks into pytest. Runs are shared module- or session-wide because each one costs an
import of vLLM (5–20 s) plus, for Inductor, a real compile (10–40 s on 2 cores).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
HAS_VLLM = importlib.util.find_spec("vllm") is not None
VLLM = [pytest.mark.vllm,
        pytest.mark.skipif(not HAS_VLLM, reason="vLLM is not installed (run .ci/vllm-tier.sh)")]
RUN_TIMEOUT_S = 900


@dataclass
class Run:
    """What one subprocess run left behind."""

    out: Path
    cache_root: Path
    result: dict[str, Any]
    log: str

    @property
    def trace(self) -> Any:
        """The saved ``compile_lens`` trace of the run."""
        import compile_lens

        return compile_lens.load(self.out / "trace.json")

    def outputs(self) -> Any:
        """The model outputs the run saved (tensors or token ids)."""
        import torch

        return torch.load(self.out / "outputs.pt")


def run_script(script: str, out: Path, cache_root: Path, *args: str,
               env: dict[str, str] | None = None) -> Run:
    """Run ``tests/vllm_tier/<script>`` in a fresh interpreter with ``VLLM_CACHE_ROOT=cache_root``."""
    out.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, "VLLM_CACHE_ROOT": str(cache_root), **(env or {})}
    for name in ("COMPILE_LENS_SESSION_DIR", "TORCH_LOGS", "TORCH_TRACE", "TORCH_COMPILE_DEBUG"):
        full_env.pop(name, None)
    proc = subprocess.run([sys.executable, str(HERE / script), str(out), *args], env=full_env,
                          capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False)
    log = proc.stdout + proc.stderr
    (out / "log.txt").write_text(log)
    assert proc.returncode == 0, f"{script} {' '.join(args)} failed:\n{log[-6000:]}"
    return Run(out, cache_root, json.loads((out / "result.json").read_text()), log)


def cache_files(root: Path) -> set[str]:
    """Every file under a vLLM cache root, relative: the names are the cache keys.

    Left out: lock files and vLLM's scratch dir. An AOTAutograd entry is named after the sha256
    of its pickled content, which holds compile timings, so it differs between any two runs
    (measured over 12 untraced runs): it is kept as its key directory,
    ``…/aotautograd/<AOTAutograd key>``.
    """
    out = set()
    for path in root.rglob("*"):
        if not path.is_file() or "locks" in path.parts or "dummy_cache" in path.parts:
            continue
        rel = path.relative_to(root)
        if "aotautograd" in rel.parts:
            rel = Path(*rel.parts[:rel.parts.index("aotautograd") + 2])
        out.add(str(rel))
    return out


def generated_code(path: str) -> bool:
    """Inductor's generated kernels in a cache (``inductor_cache/<xx>/<hash>.main.cpp``, ``.so``,
    ``.py``): named by a hash of what Inductor generated, not by a cache key."""
    parts = Path(path).parts
    if "inductor_cache" not in parts:
        return False
    below = parts[parts.index("inductor_cache") + 1:]
    return len(below) == 2 and below[0] not in ("aotautograd", "fxgraph")


SOURCE_SUFFIXES = (".cpp", ".py", ".h")


def generated_sources(root: Path) -> dict[str, set[str]]:
    """Inductor's generated source files under a cache root, by the sha256 of their content
    with the cache root's own path read as one placeholder (``root_neutral``).

    A generated file is named by a hash of its content (and, for C++, its compile command line),
    so two runs that generated the same code can still name it differently:

    * on CUDA, the wrapper Inductor generates names each Triton kernel's absolute path in a
      comment (``# kernel path: <cache root>/…/inductor_cache/xx/c….py``): the same code under
      two cache roots has other bytes, so another name. Measured on the H100 (vLLM 0.26, torch
      2.11): every pair of roots, untraced against untraced too, differed in exactly those lines;
    * on CPU, torch's ISA probe races when vLLM's warm start loads its pieces in parallel threads
      (``VecAVX512.__bool__`` appends ``-mavx512bf16`` to a shared ISA object while it probes;
      docs/vllm.md): the kernels loaded after that are written again under new names, with
      identical content.

    Comparing what Inductor generated therefore compares these contents.
    """
    import hashlib

    out: dict[str, set[str]] = {}
    for rel in cache_files(root):
        if generated_code(rel) and rel.endswith(SOURCE_SUFFIXES):
            digest = hashlib.sha256(root_neutral((root / rel).read_bytes(), root)).hexdigest()
            out.setdefault(digest, set()).add(rel)
    return out


ROOT_PLACEHOLDER = b"<VLLM_CACHE_ROOT>"


def root_neutral(content: bytes, root: Path) -> bytes:
    """``content`` with every spelling of the cache root's path (as given, resolved) replaced
    by ``ROOT_PLACEHOLDER``."""
    spellings = {str(root), str(root.resolve())}
    for spelling in sorted(spellings, key=len, reverse=True):
        content = content.replace(spelling.encode(), ROOT_PLACEHOLDER)
    return content


def factor_files(root: Path) -> dict[str, bytes]:
    """``cache_key_factors.json`` files under a cache root, by relative path."""
    return {str(p.relative_to(root)): p.read_bytes()
            for p in root.rglob("cache_key_factors.json")}
