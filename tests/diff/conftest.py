"""Real compiles for the diff tests: one baseline and one run per cause, in subprocesses.

Every run compiles the same tiny function (one matmul: Inductor emits an extern ``mm`` call and no
C++ kernel, so a cold compile takes seconds) under ``compile_lens.trace()`` and saves the trace.
The variants differ from the baseline in exactly one thing; the "noise" twin differs only in its
temp directories (module path, Inductor cache dir) and timestamps.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
SOURCE = "import torch\n\n\ndef f(x, w):\n    return x @ w\n"
EDITED = "import torch\n\n\ndef f(x, w):\n    return (x @ w).t()\n"
VARIANTS = ("base", "noise", "inductor", "functorch", "env", "options", "edit")


def _clean_env(cache_dir: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TORCHINDUCTOR_", "TORCH_COMPILE", "TORCHDYNAMO_", "TORCH_LOGS"))
    }
    env.update(TORCHINDUCTOR_CACHE_DIR=str(cache_dir), PYTHONDONTWRITEBYTECODE="1")
    return env


def _run(module_dir: Path, env: dict[str, str], *steps: dict[str, Any]) -> None:
    plan = module_dir.parent / f"plan_{Path(steps[0]['out']).stem}.json"
    plan.write_text(json.dumps(list(steps)))
    cmd = [sys.executable, str(HERE / "_run_variant.py"), str(module_dir), str(plan)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, f"variant run failed:\n{proc.stdout}\n{proc.stderr}"


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Trace files of the baseline and of each one-cause variant (7 real compiles, 4 processes)."""
    root = tmp_path_factory.mktemp("diff_runs")
    mod_a, mod_b = root / "checkout_a", root / "checkout_b"
    for d in (mod_a, mod_b):
        d.mkdir()
        (d / "tinymod.py").write_text(SOURCE)
    out = {name: root / f"{name}.json" for name in VARIANTS}
    shared = _clean_env(root / "inductor_cache_a")
    _run(
        mod_a,
        shared,
        {"out": str(out["base"])},
        {"out": str(out["inductor"]), "inductor": {"max_fusion_size": 32}},
        {"out": str(out["functorch"]), "functorch": {"activation_memory_budget": 0.5}},
        {"out": str(out["options"]), "options": {"max_fusion_size": 32}},
    )
    _run(mod_b, _clean_env(root / "inductor_cache_b"), {"out": str(out["noise"])})
    _run(mod_a, {**shared, "TORCHINDUCTOR_SIZE_ASSERTS": "0"}, {"out": str(out["env"])})
    (mod_a / "tinymod.py").write_text(EDITED)
    _run(mod_a, shared, {"out": str(out["edit"])})
    return out
