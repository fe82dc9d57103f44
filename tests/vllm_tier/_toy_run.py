"""Run the toy model through vLLM's real piecewise backend in a fresh process (test helper).

Usage: ``python _toy_run.py OUT_DIR [--backend inductor|eager] [--trace] [--layers N]``, with
``VLLM_CACHE_ROOT`` set by the caller. A fresh process per run makes a warm start real (nothing
cached in memory) and keeps Dynamo/vLLM global state out of pytest. Writes to ``OUT_DIR``:

* ``result.json``: ``compilation_counter`` deltas, the cache dir, the attention-op calls, the
  spies' view (VllmBackend calls, split items, compile calls), timings;
* ``outputs.pt``: the model outputs for 5, 3 and 17 tokens;
* ``trace.json``: the compile_lens trace (with ``--trace``), and ``events/``: the raw
  structured-trace events of the same block (``raw_events``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))


def _counters() -> dict[str, int]:
    from vllm.compilation.counter import compilation_counter

    return {f.name: getattr(compilation_counter, f.name) for f in dataclasses.fields(
        compilation_counter)}


def main(argv: list[str] | None = None) -> int:
    """Build, compile and run the toy once; see the module docstring."""
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--backend", default="inductor")
    parser.add_argument("--trace", action="store_true")
    parser.add_argument("--layers", type=int, default=4)
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    import raw_events
    import torch
    import toy_model
    import vllm.compilation.backends  # noqa: F401 - import vLLM before trace() so it is observed

    import compile_lens

    imported = time.perf_counter() - t0
    before = _counters()
    cfg = toy_model.vllm_config(args.backend)
    start = time.perf_counter()
    if args.trace:
        with raw_events.keep(out / "events"), compile_lens.trace(strict=True) as t:
            outputs = _compile_and_run(cfg, args.layers)
        t.save(out / "trace.json")
    else:
        outputs = _compile_and_run(cfg, args.layers)
    seconds = time.perf_counter() - start
    after = _counters()
    torch.save(outputs, out / "outputs.pt")
    result: dict[str, Any] = {
        "counters": {k: after[k] - before[k] for k in after if after[k] != before[k]},
        "cache_dir": cfg.compilation_config.cache_dir,
        "attention_calls": toy_model.CALLS["attention"],
        "import_s": imported, "compile_and_run_s": seconds,
    }
    (out / "result.json").write_text(json.dumps(result, indent=1, sort_keys=True))
    return 0


def _compile_and_run(cfg: Any, layers: int) -> list[Any]:
    import toy_model

    model = toy_model.build_model(cfg, layers=layers)
    return toy_model.run(cfg, model)


if __name__ == "__main__":
    sys.exit(main())
