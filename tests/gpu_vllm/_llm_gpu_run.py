"""``LLM(...).generate`` with the tiny dummy Llama on a GPU, traced or not (test/benchmark helper).

Usage: ``python _llm_gpu_run.py OUT_DIR [--trace] [--tp N] [--decode-tokens N]`` with
``VLLM_CACHE_ROOT`` set. vLLM runs its defaults: VLLM_COMPILE, standalone Inductor,
``cudagraph_mode=FULL_AND_PIECEWISE``, the multiprocess engine.

Deliberately a plain script with **no** ``if __name__ == "__main__":`` guard: vLLM starts its
EngineCore with ``fork`` unless CUDA is already initialized in this process, in which case it
switches to ``spawn`` and the child re-imports this file, which then fails ("An attempt has been
made to start a new process before the current process has finished its bootstrapping phase").
So this script only works if tracing leaves CUDA alone, which is what the tests check.

Writes ``result.json``: token ids, start-up and generate seconds, per-token decode latency, the
start method vLLM chose, ``torch.cuda.is_initialized()`` before, inside and after the block;
``trace.json`` with ``--trace``.
"""

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("out")
parser.add_argument("--trace", action="store_true")
parser.add_argument("--cross-check", action="store_true")
parser.add_argument("--tp", type=int, default=1)
parser.add_argument("--decode-tokens", type=int, default=64)
args = parser.parse_args()
out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)
MODEL = Path(__file__).resolve().parents[1] / "fixtures" / "tiny_llama_gpu"
PROMPTS = [[1, 2, 3, 4], [5, 6, 7], [8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18]]

t_import = time.perf_counter()
import torch  # noqa: E402
from vllm import LLM, SamplingParams  # noqa: E402

import compile_lens  # noqa: E402

result: dict = {"import_s": time.perf_counter() - t_import,
                "cuda_initialized_before": torch.cuda.is_initialized()}
if os.environ.get("COMPILE_LENS_DEBUG_CUDA_INIT"):  # who initializes CUDA here, if anyone
    import traceback

    _lazy_init = torch.cuda._lazy_init
    _pid = os.getpid()

    def _spy_lazy_init() -> None:
        if os.getpid() == _pid and not torch.cuda.is_initialized():
            stack = "".join(traceback.format_stack(limit=30))
            if "cuda_init_stack" not in result:
                print(f"compile_lens debug: CUDA initialized here by\n{stack}", file=sys.stderr)
            result.setdefault("cuda_init_stack", stack)
        _lazy_init()

    torch.cuda._lazy_init = _spy_lazy_init
block = (compile_lens.trace(strict=True, cross_check=args.cross_check) if args.trace
         else contextlib.nullcontext())
start = time.perf_counter()
with block as t:
    result["cuda_initialized_entered"] = torch.cuda.is_initialized()
    llm = LLM(model=str(MODEL), load_format="dummy", skip_tokenizer_init=True, dtype="float16",
              max_model_len=512, seed=0, tensor_parallel_size=args.tp,
              gpu_memory_utilization=0.5)
    result["startup_s"] = time.perf_counter() - start
    result["start_method"] = os.environ.get("VLLM_WORKER_MULTIPROC_METHOD", "fork (default)")
    greedy = SamplingParams(max_tokens=16, temperature=0, ignore_eos=True, detokenize=False)
    g0 = time.perf_counter()
    outputs = llm.generate([{"prompt_token_ids": p} for p in PROMPTS], greedy)
    result["generate_s"] = time.perf_counter() - g0
    result["tokens"] = [list(o.outputs[0].token_ids) for o in outputs]
    decode = SamplingParams(max_tokens=args.decode_tokens, temperature=0, ignore_eos=True,
                            detokenize=False)
    times = []
    for _ in range(3):
        d0 = time.perf_counter()
        llm.generate([{"prompt_token_ids": PROMPTS[0]}], decode)
        times.append((time.perf_counter() - d0) / args.decode_tokens)
    result["decode_step_s"] = sorted(times)[1]
result["cuda_initialized_after"] = torch.cuda.is_initialized()
result["block_s"] = time.perf_counter() - start
if args.trace:
    t.save(out / "trace.json")
    result["tracer_overhead_s"] = t.record.run.tracer_overhead_s
(out / "result.json").write_text(json.dumps(result, indent=1, sort_keys=True))
del llm
sys.stdout.flush()
