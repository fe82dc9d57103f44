#!/usr/bin/env bash
# The GPU session behind the H100 figures of benchmarks/RESULTS.md (issues 10, 12, 15): one call
# on a 4-GPU machine (nvidia-h100-x4, 64 cores), four streams side by side, each pinned to its own
# GPU and its own 16 cores (the shape of the one-GPU machine), so no benchmark shares a GPU or a
# core with another. Every ratio is still measured inside one stream, side by side.
#
# Usage, from the repository root, with $OUT set:  bash benchmarks/gpu_session.sh a|b|c
# Each stream writes $OUT/<stream>.log; benchmarks write their JSON under $OUT.
set -u
: "${OUT:?set OUT to a results folder}"
PHASE="${1:-a}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONDONTWRITEBYTECODE=1
PY=python3

stream() {  # stream NAME GPU(S) CORES COMMAND...
  local name=$1 gpus=$2 cores=$3
  shift 3
  (
    export CUDA_VISIBLE_DEVICES=$gpus TMPDIR="/tmp/gs_$name"
    mkdir -p "$TMPDIR"
    for cmd in "$@"; do
      echo "## $cmd"
      local start
      start=$(date +%s)
      taskset -c "$cores" bash -c "$cmd"
      echo "## rc=$? after $(( $(date +%s) - start )) s"
    done
  ) > "$OUT/$name.log" 2>&1 &
}

case "$PHASE" in
  a)
    stream modes 0 0-15 \
      "timeout 540 $PY benchmarks/bench_cudagraph_modes.py --out $OUT/cudagraph_modes.json --trace-dir $OUT/cudagraph_mode_traces 2>&1 | tail -60"
    stream payloads 1 16-31 \
      "timeout 330 $PY benchmarks/bench_compile.py --parts payloads --device cuda --layers 4 --repeats 2 --out $OUT/payloads_h100.json 2>&1 | tail -40" \
      "timeout 140 $PY benchmarks/bench_compile.py --parts keycost --layers 4 --repeats 2 --device cuda --out $OUT/keycost_cuda.json 2>&1 | tail -8" \
      "timeout 60 $PY -m pytest -q -p no:cacheprovider tests/test_payloads.py 2>&1 | tail -5"
    stream scale 2 32-47 \
      "timeout 400 $PY benchmarks/bench_scale.py --out $OUT/scale --backends piecewise --rounds 2 --budget-s 330 2>&1 | tail -30" \
      "timeout 140 $PY -m pytest -q -p no:cacheprovider tests/test_parallel.py -x 2>&1 | tail -8"
    stream gputests 3 48-63 \
      "mkdir -p $OUT/traces15; COMPILE_LENS_GPU_OUT=$OUT/traces15 timeout 300 $PY -m pytest -q -p no:cacheprovider -rs tests/gpu --deselect tests/gpu/test_torchrun_tp.py 2>&1 | tail -30" \
      "timeout 240 $PY benchmarks/bench_parallel.py --out $OUT/parallel_cuda16.json --layers 16 --hidden 1024 --heads 16 --device cuda --dtype float16 --repeats 1 2>&1 | tail -12"
    ;;
  b)
    stream torchrun 0,1 0-31 \
      "timeout 280 $PY -m pytest -q -p no:cacheprovider -rs tests/gpu/test_torchrun_tp.py 2>&1 | tail -15"
    stream scale_inductor 2 32-47 \
      "timeout 280 $PY benchmarks/bench_scale.py --out $OUT/scale_inductor --backends inductor --rounds 1 --budget-s 250 2>&1 | tail -20"
    stream parallel_sizes 3 48-63 \
      "timeout 280 $PY benchmarks/bench_parallel.py --out $OUT/parallel_cuda16_sizes.json --layers 16 --hidden 1024 --heads 16 --device cuda --dtype float16 --sizes 1,8 --repeats 1 --traced 2>&1 | tail -12"
    ;;
  c)  # what issues 12 and 15 left open on 2026-11-28 (benchmarks/RESULTS.md says which and why)
    stream probe 0 0-15 \
      "timeout 200 $PY -m pytest -q -p no:cacheprovider -p no:logging tests/test_probe_cost.py --tb=long 2>&1 | grep -v Warning | tail -80" \
      "timeout 300 $PY benchmarks/bench_compile.py --parts keycost --device cuda --layers 4 --repeats 2 --out $OUT/keycost_h100_probe.json 2>&1 | tail -10"
    stream modes 1 16-31 \
      "timeout 540 $PY benchmarks/bench_cudagraph_modes.py --out $OUT/cudagraph_modes.json 2>&1 | tail -80"
    stream payloads 2 32-47 \
      "timeout 500 $PY benchmarks/bench_compile.py --parts payloads --device cuda --layers 4 --repeats 3 --out $OUT/payloads_h100.json 2>&1 | tail -45"
    stream scale 3 48-63 \
      "timeout 420 $PY benchmarks/bench_scale.py --out $OUT/scale --backends piecewise --rounds 3 --budget-s 360 2>&1 | tail -30" \
      "timeout 150 $PY -m pytest -q -p no:cacheprovider -p no:logging tests/test_payloads.py tests/test_graph_print_reuse.py 2>&1 | tail -5"
    ;;
  *) echo "phase a, b or c" >&2; exit 2 ;;
esac
wait
rm -rf /tmp/gs_*
for f in "$OUT"/*.log; do echo "=== $f"; tail -n 25 "$f"; done
