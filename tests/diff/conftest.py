"""Real compiles for the diff tests: one baseline and one run per cause, each in a subprocess.

Every run compiles the same tiny function (one matmul: Inductor emits an extern ``mm`` call and no
C++ kernel, so a cold compile takes seconds) under ``compile_lens.trace()`` and saves the trace.
The variants differ from the baseline in exactly one thing; the "noise" twin differs only in its
temp directories (module path, Inductor cache dir) and timestamps.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
SOURCE = "import torch\n\n\ndef f(x, w):\n    return x @ w\n"
EDITED = "import torch\n\n\ndef f(x, w):\n    return (x @ w).t()\n"
VARIANTS = ("base", "noise", "inductor", "functorch", "env", "edit")


def _clean_env(cache_dir: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TORCHINDUCTOR_", "TORCH_COMPILE", "TORCHDYNAMO_", "TORCH_LOGS"))
    }
    env.update(TORCHINDUCTOR_CACHE_DIR=str(cache_dir), PYTHONDONTWRITEBYTECODE="1")
    return env


def _run(module_dir: Path, out: Path, env: dict[str, str], *extra: str) -> Path:
    cmd = [sys.executable, str(HERE / "_run_variant.py"), str(module_dir), str(out), *extra]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, f"variant run failed:\n{proc.stdout}\n{proc.stderr}"
    return out


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Trace files of the baseline and of each one-cause variant (6 real compiles)."""
    root = tmp_path_factory.mktemp("diff_runs")
    mod_a, mod_b = root / "checkout_a", root / "checkout_b"
    for d in (mod_a, mod_b):
        d.mkdir()
        (d / "tinymod.py").write_text(SOURCE)
    shared = _clean_env(root / "inductor_cache_a")
    out = {
        "base": _run(mod_a, root / "base.json", shared),
        "noise": _run(mod_b, root / "noise.json", _clean_env(root / "inductor_cache_b")),
        "inductor": _run(mod_a, root / "inductor.json", shared, "--inductor", "max_fusion_size=32"),
        "functorch": _run(
            mod_a, root / "functorch.json", shared, "--functorch", "activation_memory_budget=0.5"
        ),
        "env": _run(mod_a, root / "env.json", {**shared, "TORCHINDUCTOR_SIZE_ASSERTS": "0"}),
    }
    (mod_a / "tinymod.py").write_text(EDITED)
    out["edit"] = _run(mod_a, root / "edit.json", shared)
    return out
