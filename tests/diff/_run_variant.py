"""Run one real ``torch.compile`` under ``compile_lens.trace()`` and save the trace (a subprocess).

Used by ``tests/diff/conftest.py``: each variant runs in a fresh process, so env vars are read at
import exactly as a user's run would read them. Usage::

    python _run_variant.py MODULE_DIR OUT.json [--inductor NAME=JSON] [--functorch NAME=JSON]
"""

from __future__ import annotations

import argparse
import json
import sys


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("module_dir")
    parser.add_argument("out")
    parser.add_argument("--inductor", action="append", default=[])
    parser.add_argument("--functorch", action="append", default=[])
    args = parser.parse_args()
    sys.path.insert(0, args.module_dir)
    import torch
    import torch._functorch.config as functorch_config
    import torch._inductor.config as inductor_config

    import compile_lens

    for module, items in ((inductor_config, args.inductor), (functorch_config, args.functorch)):
        for item in items:
            name, _, value = item.partition("=")
            setattr(module, name, json.loads(value))
    import tinymod

    torch.manual_seed(0)
    x, w = torch.randn(8, 16), torch.randn(16, 4)
    with compile_lens.trace(progress=False, bytecode=False) as t:
        out = torch.compile(tinymod.f)(x, w)
    assert torch.allclose(out, tinymod.f(x, w))
    t.save(args.out)


if __name__ == "__main__":
    main()
