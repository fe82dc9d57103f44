"""Run ``LLM(...).generate`` with the tiny dummy Llama in vLLM's multiprocess engine (test helper).

Usage: ``python _llm_run.py OUT_DIR [--trace]`` with ``VLLM_CACHE_ROOT`` set and
``tests/vllm_tier/cpu_plugin`` on ``PYTHONPATH`` (the test-only plugin that keeps vLLM's piecewise mode
on CPU, in every vLLM process). vLLM's default engine runs the model in other processes
(EngineCore, which starts a worker), so with ``--trace`` the compile is recorded there by
compile_lens' ``vllm.general_plugins`` entry point and merged when the ``trace()`` block ends.
Writes ``result.json`` (token ids, timings), ``outputs.pt`` (token ids), ``trace.json`` and the raw
events (``events/``: this process; ``session/``: a copy of the other processes' files).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

# The tiny Llama: a config only (2 layers, hidden 64, head_dim 32: a head size CPU attention
# supports); vLLM fills the weights with ``load_format="dummy"``.
MODEL = Path(__file__).resolve().parents[1] / "fixtures" / "tiny_llama"
PROMPTS = [[1, 2, 3, 4], [5, 6, 7]]


def _generate(llm_cls: Any, params_cls: Any, out: Path | None) -> list[list[int]]:
    import raw_events
    import toy_model

    llm = llm_cls(model=str(MODEL), load_format="dummy", skip_tokenizer_init=True,
                  enforce_eager=False, dtype="float32", max_model_len=128, max_num_seqs=4,
                  max_num_batched_tokens=256, seed=0,
                  compilation_config={"mode": 3, "backend": "inductor",
                                      "pass_config": dict(toy_model.NO_FUSIONS)})
    params = params_cls(max_tokens=8, temperature=0, detokenize=False, ignore_eos=True)
    outputs = llm.generate([{"prompt_token_ids": p} for p in PROMPTS], params)
    if out is not None:
        raw_events.copy_session(out / "session")
    return [list(o.outputs[0].token_ids) for o in outputs]


def main() -> int:
    """Start the engine, generate, save; see the module docstring."""
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--trace", action="store_true")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    import raw_events
    import torch
    from vllm import LLM, SamplingParams

    import compile_lens

    start = time.perf_counter()
    if args.trace:
        with raw_events.keep(out / "events"), compile_lens.trace(strict=True) as t:
            tokens = _generate(LLM, SamplingParams, out)
        t.save(out / "trace.json")
    else:
        tokens = _generate(LLM, SamplingParams, None)
    torch.save(tokens, out / "outputs.pt")
    result = {"tokens": tokens, "import_s": start - t0, "llm_s": time.perf_counter() - start}
    (out / "result.json").write_text(json.dumps(result, indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
