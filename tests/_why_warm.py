"""Warm starts over a cold demo run's caches, in a fresh process (used by test_why_warm.py).

Usage: ``python _why_warm.py ROOT OUT``. ``ROOT`` holds the cold run's ``inductor`` and
``artifacts`` caches. Two traced steps, each saved with torch's own records of it:

* ``warm``: the same model and backend settings: every piece should come from the caches;
* ``edited``: ``TinyLlama.forward`` changed after the last attention (the logits are doubled), so
  only the last piece's code differs: only it should compile.

Torch's records (every ``aotautograd_cache_*``/``fx_graph_cache_*`` payload, counter deltas) are
kept by a plain handler on the structured-trace stream and written next to each trace.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def main() -> None:
    root, out = Path(sys.argv[1]), Path(sys.argv[2])
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(root / "inductor")
    import torch
    from _why import counter_deltas, counter_snapshot, torch_records

    import compile_lens
    from compile_lens import demo_model

    def step(name: str) -> None:
        torch._dynamo.reset()
        model = demo_model.build(layers=3)
        backend = compile_lens.piecewise(compile_sizes=[4], cache_dir=str(root / "artifacts"))
        compiled = torch.compile(model, backend=backend)
        before = counter_snapshot()
        with torch.no_grad(), torch_records() as records, \
                compile_lens.trace(strict=True, progress=False) as t:
            compiled(*demo_model.example_inputs(8))
        t.save(out / f"{name}.json")
        caches = {md["artifact"]["name"]: [] for md, _ in records.items if "artifact" in md}
        for md, payload in records.items:
            name_ = (md.get("artifact") or {}).get("name", "")
            if name_.startswith(("aotautograd_cache_", "fx_graph_cache_")):
                caches[name_].append(json.loads(payload or "{}"))
        torch_said = {"caches": {k: v for k, v in caches.items() if v},
                      "counters": counter_deltas(before)}
        (out / f"{name}.torch.json").write_text(json.dumps(torch_said, default=str))

    step("warm")
    original = demo_model.TinyLlama.forward

    def forward(self: demo_model.TinyLlama, input_ids: torch.Tensor,
                positions: torch.Tensor) -> torch.Tensor:
        return original(self, input_ids, positions) * 2

    demo_model.TinyLlama.forward = forward
    step("edited")


if __name__ == "__main__":
    main()
