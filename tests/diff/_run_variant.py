"""Run real ``torch.compile`` calls under ``compile_lens.trace()`` and save each trace (a subprocess).

Used by ``tests/diff/conftest.py``. A fresh process reads env vars at import exactly as a user's
run would; several config variants share one process (one torch import), each after
``torch._dynamo.reset()`` with its config patched around the whole traced block. Usage::

    python _run_variant.py MODULE_DIR PLAN.json

``PLAN.json`` is a list of steps ``{"out": path, "inductor": {...}, "functorch": {...},
"options": {...}}`` (the last one is passed as ``torch.compile(options=...)``).
"""

from __future__ import annotations

import json
import sys


def main() -> None:
    module_dir, plan_path = sys.argv[1], sys.argv[2]
    sys.path.insert(0, module_dir)
    import tinymod
    import torch
    import torch._functorch.config as functorch_config
    import torch._inductor.config as inductor_config

    import compile_lens

    torch.manual_seed(0)
    x, w = torch.randn(8, 16), torch.randn(16, 4)
    with open(plan_path) as handle:
        plan = json.load(handle)
    for step in plan:
        torch._dynamo.reset()
        with (
            inductor_config.patch(step.get("inductor", {})),
            functorch_config.patch(step.get("functorch", {})),
            compile_lens.trace(progress=False, bytecode=False) as t,
        ):
            out = torch.compile(tinymod.f, options=step.get("options") or None)(x, w)
        assert torch.allclose(out, tinymod.f(x, w))
        t.save(step["out"])


if __name__ == "__main__":
    main()
